//! The individual estimator steps, each a plain function so any pipeline can be composed and tested alone.

use std::time::Duration;

use super::{EstimatorConfig, Resources};
use crate::histogram::PercentileMode;
use crate::model::AggregateState;
use crate::quantity::{Bytes, MilliCpu};

/// CPU and memory percentiles of the aggregate's histograms, converted (truncating) to integer units.
pub fn percentile(
    agg: &AggregateState,
    cpu_p: f64,
    memory_p: f64,
    mode: PercentileMode,
) -> Resources {
    Resources::new(
        MilliCpu::from_cores(agg.cpu.percentile(cpu_p, mode)),
        Bytes::from_f64(agg.memory_request_histogram().percentile(memory_p, mode)),
    )
}

/// Adds a fraction of each amount (the added part truncated, as upstream).
pub fn with_margin(r: Resources, cpu_fraction: f64, memory_fraction: f64) -> Resources {
    Resources::new(
        r.cpu
            .saturating_add(r.cpu.scale(cpu_fraction))
            .clamp_resource(),
        r.memory
            .saturating_add(r.memory.scale(memory_fraction))
            .clamp_resource(),
    )
}

/// How much history backs the aggregate, in `interval` units: the lesser of its time span and its sample count
/// at one sample a minute. Zero for no history.
pub fn confidence(agg: &AggregateState, interval: Duration) -> f64 {
    let (Some(first), Some(last)) = (agg.first_sample_start, agg.last_sample_start) else {
        return 0.0;
    };
    let lifespan = last.units_since(first, interval);
    let minutes = interval.as_secs_f64() / 60.0;
    let samples = if minutes > 0.0 {
        agg.total_samples as f64 / minutes
    } else {
        0.0
    };
    lifespan.min(samples)
}

/// Scales by `(1 + multiplier / confidence)^exponent`: wide bounds for young workloads, narrowing with history.
pub fn with_confidence(r: Resources, multiplier: f64, exponent: f64, confidence: f64) -> Resources {
    let factor = (1.0 + multiplier / confidence).powf(exponent);
    Resources::new(r.cpu.scale(factor), r.memory.scale(factor))
}

/// Rounds each amount up to a multiple of its step (a step of 1 or less leaves it alone), as upstream's
/// `RoundUpToScale`; zero stays zero.
pub fn round_up(r: Resources, cpu_step: i64, memory_step: i64) -> Resources {
    Resources::new(
        r.cpu.round_up_to(cpu_step).clamp_resource(),
        r.memory.round_up_to(memory_step).clamp_resource(),
    )
}

pub fn with_minimum(r: Resources, min: Resources) -> Resources {
    r.max(min)
}

/// The per-pod minimums split evenly across `containers` (at least one).
pub fn pod_minimums(cfg: &EstimatorConfig, containers: usize) -> Resources {
    let fraction = 1.0 / containers.max(1) as f64;
    Resources::new(
        cfg.pod_min_cpu.scale(fraction),
        cfg.pod_min_memory.scale(fraction),
    )
}
