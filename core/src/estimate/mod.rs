//! From history to numbers, as small composable steps: percentile → safety margin → confidence multiplier (bounds
//! only) → per-pod minimum → Tailor's OOM floor. With [`EstimatorConfig::default`] and an aggregate built with
//! [`crate::model::AggregateConfig::upstream`], the output equals the upstream VPA recommender's for the same samples.

mod limits;
mod policy;
mod steps;

pub use limits::{
    LimitsAnnotationError, MEMORY_LIMITS_ANNOTATION, MemoryLimitPolicy, encode_memory_limits,
    parse_memory_limits, recommend_memory_limit,
};
pub use policy::{ContainerPolicy, ControlledResources, cap_to_policy};
pub use steps::{
    confidence, percentile, pod_minimums, round_up, with_confidence, with_margin, with_minimum,
};

use std::time::Duration;

use crate::histogram::PercentileMode;
use crate::model::AggregateState;
use crate::quantity::{Bytes, MilliCpu};
use crate::time::Timestamp;

/// A CPU and memory amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    pub cpu: MilliCpu,
    pub memory: Bytes,
}

impl Resources {
    pub fn new(cpu: MilliCpu, memory: Bytes) -> Self {
        Self { cpu, memory }
    }

    /// Component-wise maximum.
    pub fn max(self, other: Self) -> Self {
        Self::new(self.cpu.max(other.cpu), self.memory.max(other.memory))
    }
}

/// What the recommender writes for one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Recommendation {
    pub target: Resources,
    pub lower_bound: Resources,
    pub upper_bound: Resources,
    /// The target before the VPA's resource policy capped it.
    pub uncapped_target: Resources,
}

/// Percentiles, margin and confidence settings. `Default` is upstream VPA's flags; [`EstimatorConfig::tailor`]
/// is Tailor's.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimatorConfig {
    pub target_cpu_percentile: f64,
    pub lower_bound_cpu_percentile: f64,
    pub upper_bound_cpu_percentile: f64,
    pub target_memory_percentile: f64,
    pub lower_bound_memory_percentile: f64,
    pub upper_bound_memory_percentile: f64,
    /// Added on top of the CPU percentiles. Upstream has one margin for both resources (0.15).
    pub cpu_safety_margin_fraction: f64,
    /// Added on top of the memory percentiles (upstream: 0.15).
    pub memory_safety_margin_fraction: f64,
    /// History length that counts as one unit of confidence (upstream: a day at one sample a minute).
    pub confidence_interval: Duration,
    pub upper_bound_confidence: (f64, f64),
    pub lower_bound_confidence: (f64, f64),
    /// Minimum per pod, split evenly over its recommended containers.
    pub pod_min_cpu: MilliCpu,
    pub pod_min_memory: Bytes,
    pub percentile_mode: PercentileMode,
    /// Every figure is rounded up to a multiple of this (upstream `--round-cpu-millicores`, default 1: none).
    pub round_cpu_millicores: i64,
    /// Every figure is rounded up to a multiple of this (upstream `--round-memory-bytes`, default 1: none).
    pub round_memory_bytes: i64,
    /// Tailor: whether and how memory limits are recommended apart from requests.
    pub memory_limit: MemoryLimitPolicy,
}

impl EstimatorConfig {
    /// Tailor's defaults: upstream's flags with a 5 % CPU margin instead of 15 % and memory rounded up to whole
    /// MiB. Paired with the 15-minute CPU half-life of [`crate::model::AggregateConfig::default`], P90 tracks the
    /// current level of demand, so a small margin leaves less CPU above the request than upstream's P90 of a day
    /// plus 15 % (docs/eval). Memory keeps 15 %: its peaks cost OOM kills, not throttling.
    pub fn tailor() -> Self {
        Self {
            cpu_safety_margin_fraction: 0.05,
            // Whole MiB, as the recommender's `--round-memory-bytes` default: no churn from byte-level moves.
            round_memory_bytes: 1 << 20,
            ..Self::default()
        }
    }
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        Self {
            target_cpu_percentile: 0.9,
            lower_bound_cpu_percentile: 0.5,
            upper_bound_cpu_percentile: 0.95,
            target_memory_percentile: 0.9,
            lower_bound_memory_percentile: 0.5,
            upper_bound_memory_percentile: 0.95,
            cpu_safety_margin_fraction: 0.15,
            memory_safety_margin_fraction: 0.15,
            confidence_interval: Duration::from_secs(24 * 3600),
            upper_bound_confidence: (1.0, 1.0),
            lower_bound_confidence: (0.001, -2.0),
            pod_min_cpu: MilliCpu(25),
            pod_min_memory: Bytes(250 * 1024 * 1024),
            percentile_mode: PercentileMode::BucketEnd,
            round_cpu_millicores: 1,
            round_memory_bytes: 1,
            memory_limit: MemoryLimitPolicy::KeepRatio,
        }
    }
}

/// The recommendation for one container of a pod with `containers_in_pod` recommended containers, before any
/// resource policy. An active OOM floor lifts all three figures, so the updater sees the current request as out
/// of bounds and acts at once.
pub fn recommend(
    agg: &AggregateState,
    cfg: &EstimatorConfig,
    containers_in_pod: usize,
    now: Timestamp,
) -> Recommendation {
    let minimum = pod_minimums(cfg, containers_in_pod);
    let conf = confidence(agg, cfg.confidence_interval);
    let mode = cfg.percentile_mode;
    let estimate = |cpu_p: f64, mem_p: f64| {
        with_margin(
            percentile(agg, cpu_p, mem_p, mode),
            cfg.cpu_safety_margin_fraction,
            cfg.memory_safety_margin_fraction,
        )
    };

    let target = estimate(cfg.target_cpu_percentile, cfg.target_memory_percentile);
    let lower = estimate(
        cfg.lower_bound_cpu_percentile,
        cfg.lower_bound_memory_percentile,
    );
    let upper = estimate(
        cfg.upper_bound_cpu_percentile,
        cfg.upper_bound_memory_percentile,
    );
    let (lm, le) = cfg.lower_bound_confidence;
    let (um, ue) = cfg.upper_bound_confidence;
    // With a limit recommendation the OOM floor lifts the limit (see `recommend_memory_limit`), not the request.
    let floor = if cfg.memory_limit.floors_the_limit() {
        Bytes::ZERO
    } else {
        agg.active_oom_floor(now).unwrap_or(Bytes::ZERO)
    };
    // Upstream rounds when it converts to the API type, after the minimums and before any policy caps.
    let finish = |r: Resources| {
        let r = with_minimum(r, minimum);
        round_up(
            Resources::new(r.cpu, r.memory.max(floor)),
            cfg.round_cpu_millicores,
            cfg.round_memory_bytes,
        )
    };
    let target = finish(target);
    Recommendation {
        target,
        lower_bound: finish(with_confidence(lower, lm, le, conf)),
        upper_bound: finish(with_confidence(upper, um, ue, conf)),
        uncapped_target: target,
    }
}

#[cfg(test)]
mod tests;
