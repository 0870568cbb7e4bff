//! Tailor's recommender from `tailor-core`: the real model and estimators, in upstream mode, with its defaults,
//! and with each improvement switched on alone.

use std::time::Duration;

use tailor_core::estimate::{EstimatorConfig, Recommendation, recommend};
use tailor_core::histogram::PercentileMode;
use tailor_core::model::{
    AggregateConfig, AggregateState, ContainerState, CpuSample, MemorySample,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{Contender, ContenderError};

/// A named configuration of the core.
#[derive(Debug, Clone, PartialEq)]
pub struct TailorVariant {
    pub name: String,
    pub aggregate: AggregateConfig,
    pub estimator: EstimatorConfig,
}

impl TailorVariant {
    /// `AggregateConfig::upstream()` with upstream estimators: must match the upstream VPA.
    pub fn upstream_mode() -> Self {
        Self {
            name: "tailor-upstream-mode".into(),
            aggregate: AggregateConfig::upstream(),
            estimator: EstimatorConfig::default(),
        }
    }

    /// What `tailor-core` ships as defaults today (the OOM floor on, upstream percentiles).
    pub fn defaults() -> Self {
        Self {
            name: "tailor-defaults".into(),
            aggregate: AggregateConfig::default(),
            estimator: EstimatorConfig::default(),
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
        }
    }

    /// Upstream mode plus the OOM floor, nothing else.
    pub fn oom_floor_only() -> Self {
        Self {
            name: "tailor-oom-floor-only".into(),
            aggregate: AggregateConfig::default(),
            estimator: EstimatorConfig::default(),
        }
    }

    /// Every improvement the core has.
    pub fn all_improvements() -> Self {
        Self {
            name: "tailor-all-improvements".into(),
            aggregate: AggregateConfig::default(),
            estimator: EstimatorConfig {
                percentile_mode: PercentileMode::Interpolate,
                ..EstimatorConfig::default()
            },
        }
    }

    /// Candidate changes to the core's defaults, evaluated on every trace alike; none of them is a default.
    /// Each starts from all improvements and changes one thing, the last combines them.
    pub fn candidates() -> Vec<Self> {
        let base = Self::all_improvements();
        let hour = Duration::from_secs(3600);
        let hourly_peaks = AggregateConfig {
            memory_aggregation_interval: hour,
            // Same 8-day expiry as upstream.
            memory_aggregation_interval_count: 192,
            ..base.aggregate.clone()
        };
        let cpu_6h = AggregateConfig {
            cpu_half_life: hour * 6,
            ..base.aggregate.clone()
        };
        let margin_5 = EstimatorConfig {
            safety_margin_fraction: 0.05,
            ..base.estimator.clone()
        };
        vec![
            Self {
                name: "candidate-hourly-memory-peaks".into(),
                aggregate: hourly_peaks.clone(),
                estimator: base.estimator.clone(),
            },
            Self {
                name: "candidate-cpu-half-life-6h".into(),
                aggregate: cpu_6h,
                estimator: base.estimator.clone(),
            },
            Self {
                name: "candidate-margin-5pct".into(),
                aggregate: base.aggregate.clone(),
                estimator: margin_5.clone(),
            },
            Self {
                name: "candidate-combined".into(),
                aggregate: AggregateConfig {
                    cpu_half_life: hour * 6,
                    ..hourly_peaks
                },
                estimator: margin_5,
            },
        ]
    }

    pub fn all() -> Vec<Self> {
        vec![
            Self::upstream_mode(),
            Self::defaults(),
            Self::oom_floor_only(),
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
}

impl Tailor {
    pub fn new(variant: TailorVariant) -> Self {
        let aggregate = AggregateState::new(&variant.aggregate, Timestamp::EPOCH);
        Self {
            variant,
            aggregate,
            container: ContainerState::new(),
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
        Ok(Some(recommend(
            &self.aggregate,
            &self.variant.estimator,
            1,
            at,
        )))
    }
}
