//! Tailor's recommender from `tailor-core`: the real model and estimators, in upstream mode, with its defaults,
//! and with each improvement switched on alone.

use std::time::Duration;

use tailor_core::estimate::{
    EstimatorConfig, MemoryLimitPolicy, Recommendation, recommend, recommend_memory_limit,
};
use tailor_core::histogram::PercentileMode;
use tailor_core::model::{
    AggregateConfig, AggregateState, ContainerState, CpuSample, MemorySample, throttling_demand,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{Contender, ContenderError};

/// The recommender's `--throttling-threshold` default: the share of periods from which an interval is starved.
const THROTTLING_THRESHOLD: f64 = 0.1;

/// A named configuration of the core.
#[derive(Debug, Clone, PartialEq)]
pub struct TailorVariant {
    pub name: String,
    pub aggregate: AggregateConfig,
    pub estimator: EstimatorConfig,
    /// Heavy throttling adds a sample above the limit (the recommender's `--throttling-signal`, on by default).
    pub throttling_signal: bool,
}

impl TailorVariant {
    /// `AggregateConfig::upstream()` with upstream estimators: must match the upstream VPA.
    pub fn upstream_mode() -> Self {
        Self {
            name: "tailor-upstream-mode".into(),
            aggregate: AggregateConfig::upstream(),
            estimator: EstimatorConfig::default(),
            throttling_signal: false,
        }
    }

    /// What Tailor ships as defaults: `AggregateConfig::default()` (the OOM floor, a 15-minute CPU half-life) and
    /// `EstimatorConfig::tailor()` (a 5 % CPU margin).
    pub fn defaults() -> Self {
        Self {
            name: "tailor-defaults".into(),
            aggregate: AggregateConfig::default(),
            estimator: EstimatorConfig::tailor(),
            throttling_signal: true,
        }
    }

    /// Upstream mode plus interpolated percentiles, nothing else.
    pub fn interpolate_only() -> Self {
        Self {
            name: "tailor-interpolate-only".into(),
            aggregate: AggregateConfig::upstream(),
            estimator: EstimatorConfig {
                percentile_mode: PercentileMode::Interpolate,
                ..EstimatorConfig::default()
            },
            throttling_signal: false,
        }
    }

    /// Upstream mode plus the OOM floor, nothing else.
    pub fn oom_floor_only() -> Self {
        Self {
            name: "tailor-oom-floor-only".into(),
            aggregate: AggregateConfig {
                oom_floor_hold: AggregateConfig::default().oom_floor_hold,
                ..AggregateConfig::upstream()
            },
            estimator: EstimatorConfig::default(),
            throttling_signal: false,
        }
    }

    /// Upstream mode plus responsive CPU (the 15-minute half-life and 5 % margin), nothing else.
    pub fn responsive_cpu_only() -> Self {
        Self {
            name: "tailor-responsive-cpu-only".into(),
            aggregate: AggregateConfig {
                cpu_half_life: AggregateConfig::default().cpu_half_life,
                ..AggregateConfig::upstream()
            },
            estimator: EstimatorConfig::tailor(),
            throttling_signal: false,
        }
    }

    /// Upstream mode plus the throttling signal, nothing else.
    pub fn throttling_signal_only() -> Self {
        Self {
            name: "tailor-throttling-signal-only".into(),
            aggregate: AggregateConfig::upstream(),
            estimator: EstimatorConfig::default(),
            throttling_signal: true,
        }
    }

    /// The defaults plus interpolated percentiles (the one improvement that is not a default).
    pub fn all_improvements() -> Self {
        Self {
            name: "tailor-all-improvements".into(),
            aggregate: AggregateConfig::default(),
            estimator: EstimatorConfig {
                percentile_mode: PercentileMode::Interpolate,
                ..EstimatorConfig::tailor()
            },
            throttling_signal: true,
        }
    }

    /// Candidate changes to the defaults, evaluated on every trace alike; none of them is a default. Each starts
    /// from the defaults and changes one thing.
    pub fn candidates() -> Vec<Self> {
        let base = Self::defaults();
        // The memory request from every sample, the limit from the daily peaks (P90 + 15 %, i.e. what upstream
        // sets the request to) with the OOM floor on it. Opt-in in the recommender, not a default: it trades slack
        // for time above the request (docs/eval/README.md).
        let split_memory = |name: &str, request_percentile: f64, upper_percentile: f64| Self {
            name: name.into(),
            aggregate: AggregateConfig {
                memory_usage_histogram: true,
                ..base.aggregate.clone()
            },
            estimator: EstimatorConfig {
                target_memory_percentile: request_percentile,
                upper_bound_memory_percentile: upper_percentile,
                memory_limit: MemoryLimitPolicy::FromPeaks {
                    percentile: 0.9,
                    margin_fraction: 0.15,
                },
                ..base.estimator.clone()
            },
            throttling_signal: true,
        };
        vec![
            split_memory("candidate-split-memory-p90", 0.9, 0.95),
            split_memory("candidate-split-memory-p995", 0.995, 0.999),
            Self {
                name: "candidate-hourly-memory-peaks".into(),
                aggregate: AggregateConfig {
                    memory_aggregation_interval: Duration::from_secs(3600),
                    // Same 8-day expiry as upstream.
                    memory_aggregation_interval_count: 192,
                    ..base.aggregate.clone()
                },
                estimator: base.estimator.clone(),
                throttling_signal: true,
            },
            Self {
                name: "candidate-memory-margin-5pct".into(),
                aggregate: base.aggregate.clone(),
                estimator: EstimatorConfig {
                    memory_safety_margin_fraction: 0.05,
                    ..base.estimator.clone()
                },
                throttling_signal: true,
            },
        ]
    }

    pub fn all() -> Vec<Self> {
        vec![
            Self::upstream_mode(),
            Self::defaults(),
            Self::oom_floor_only(),
            Self::responsive_cpu_only(),
            Self::throttling_signal_only(),
            Self::interpolate_only(),
            Self::all_improvements(),
        ]
    }
}

#[derive(Debug)]
pub struct Tailor {
    variant: TailorVariant,
    aggregate: AggregateState,
    container: ContainerState,
    last_target_memory: Bytes,
}

impl Tailor {
    pub fn new(variant: TailorVariant) -> Self {
        let aggregate = AggregateState::new(&variant.aggregate, Timestamp::EPOCH);
        Self {
            variant,
            aggregate,
            container: ContainerState::new(),
            last_target_memory: Bytes::ZERO,
        }
    }
}

impl Contender for Tailor {
    fn observe(
        &mut self,
        at: Timestamp,
        cpu: Option<MilliCpu>,
        memory: Option<Bytes>,
    ) -> Result<(), ContenderError> {
        let cfg = &self.variant.aggregate;
        if let Some(usage) = cpu {
            self.container
                .add_cpu_sample(&mut self.aggregate, cfg, CpuSample { start: at, usage });
        }
        if let Some(usage) = memory {
            self.container.add_memory_sample(
                &mut self.aggregate,
                cfg,
                MemorySample { start: at, usage },
            );
        }
        Ok(())
    }

    fn record_oom(
        &mut self,
        at: Timestamp,
        request: Bytes,
        limit: Bytes,
    ) -> Result<(), ContenderError> {
        // A stale OOM is refused by the model exactly as upstream refuses it; that is not a replay error.
        let _ = self.container.record_oom(
            &mut self.aggregate,
            &self.variant.aggregate,
            at,
            request,
            Some(limit),
        );
        Ok(())
    }

    fn recommend(&mut self, at: Timestamp) -> Result<Option<Recommendation>, ContenderError> {
        let rec = recommend(&self.aggregate, &self.variant.estimator, 1, at);
        self.last_target_memory = rec.target.memory;
        Ok(Some(rec))
    }

    fn observe_throttling(&mut self, at: Timestamp, limit: MilliCpu, share: f64) {
        if !self.variant.throttling_signal {
            return;
        }
        if let Some(demand) = throttling_demand(limit, share, THROTTLING_THRESHOLD) {
            let weight = self.variant.aggregate.cpu_sample_weight;
            self.aggregate.cpu.add_sample(demand, weight, at);
        }
    }

    fn memory_limit(&mut self, at: Timestamp) -> Option<Bytes> {
        recommend_memory_limit(
            &self.aggregate,
            &self.variant.estimator,
            self.last_target_memory,
            at,
        )
    }
}
