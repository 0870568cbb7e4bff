//! Limit recommendations. Upstream VPA has none: it keeps each limit's ratio to its request. With memory that makes
//! the request carry two jobs at once: being what the scheduler reserves (where typical use belongs) and being
//! what the OOM killer enforces (where the rare peak belongs). Tailor can split them: the request from every
//! sample, the limit from the per-interval peaks, and the OOM floor on the limit, where the kill happened.

use super::EstimatorConfig;
use crate::histogram::PercentileMode;
use crate::model::AggregateState;
use crate::quantity::Bytes;
use crate::time::Timestamp;

/// How memory limits are recommended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemoryLimitPolicy {
    /// No limit recommendation: the updater keeps the limit's ratio to the request, as upstream does.
    KeepRatio,
    /// The limit is `percentile` of the per-interval peaks plus `margin_fraction`, never below the request
    /// target nor below an OOM floor still in force.
    FromPeaks {
        percentile: f64,
        margin_fraction: f64,
    },
}

impl MemoryLimitPolicy {
    /// True when the OOM floor belongs to the limit rather than to the request.
    pub fn floors_the_limit(&self) -> bool {
        matches!(self, Self::FromPeaks { .. })
    }
}

/// The recommended memory limit for a container whose request target is `target`, or `None` under
/// [`MemoryLimitPolicy::KeepRatio`] or without any peak yet.
pub fn recommend_memory_limit(
    agg: &AggregateState,
    cfg: &EstimatorConfig,
    target: Bytes,
    now: Timestamp,
) -> Option<Bytes> {
    let MemoryLimitPolicy::FromPeaks {
        percentile,
        margin_fraction,
    } = cfg.memory_limit
    else {
        return None;
    };
    if agg.memory_peaks.is_empty() {
        return None;
    }
    // Peaks are sized with the bucket-end rule whatever the request mode: the limit is the side that must not be
    // optimistic.
    let peak = Bytes::from_f64(
        agg.memory_peaks
            .percentile(percentile, PercentileMode::BucketEnd),
    );
    let limit = peak
        .saturating_add(peak.scale(margin_fraction))
        .clamp_resource()
        .max(target)
        .max(agg.active_oom_floor(now).unwrap_or(Bytes::ZERO));
    Some(limit.round_up_to(cfg.round_memory_bytes).clamp_resource())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::estimate::recommend;
    use crate::model::{AggregateConfig, ContainerState, CpuSample, MemorySample};
    use crate::quantity::MilliCpu;

    const MIB: i64 = 1024 * 1024;

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_unix_secs(1_700_000_000 + minutes * 60)
    }

    /// Three days at 300 MiB with one 2 GiB minute a day: rare peaks, typical use far below them.
    fn spiky(cfg: &AggregateConfig) -> (AggregateState, ContainerState) {
        let mut agg = AggregateState::new(cfg, t(0));
        let mut c = ContainerState::new();
        for m in 0..3 * 1440 {
            let usage = if m % 1440 == 700 { 2048 } else { 300 };
            c.add_cpu_sample(
                &mut agg,
                cfg,
                CpuSample {
                    start: t(m),
                    usage: MilliCpu(100),
                },
            );
            c.add_memory_sample(
                &mut agg,
                cfg,
                MemorySample {
                    start: t(m),
                    usage: Bytes(usage * MIB),
                },
            );
        }
        (agg, c)
    }

    fn split() -> (AggregateConfig, EstimatorConfig) {
        let agg = AggregateConfig {
            memory_usage_histogram: true,
            ..AggregateConfig::default()
        };
        let est = EstimatorConfig {
            memory_limit: MemoryLimitPolicy::FromPeaks {
                percentile: 0.9,
                margin_fraction: 0.15,
            },
            ..EstimatorConfig::tailor()
        };
        (agg, est)
    }

    #[test]
    fn keep_ratio_recommends_no_limit_and_sizes_the_request_from_peaks() {
        let cfg = AggregateConfig::default();
        let (agg, _) = spiky(&cfg);
        let est = EstimatorConfig::tailor();
        let rec = recommend(&agg, &est, 1, t(3 * 1440));
        assert!(
            rec.target.memory > Bytes(2048 * MIB),
            "{}",
            rec.target.memory
        );
        assert_eq!(
            recommend_memory_limit(&agg, &est, rec.target.memory, t(3 * 1440)),
            None
        );
    }

    #[test]
    fn split_memory_puts_the_request_at_typical_use_and_the_limit_above_the_peaks() {
        let (cfg, est) = split();
        let (agg, _) = spiky(&cfg);
        let now = t(3 * 1440);
        let rec = recommend(&agg, &est, 1, now);
        assert!(
            rec.target.memory < Bytes(400 * MIB) && rec.target.memory > Bytes(300 * MIB),
            "request {}",
            rec.target.memory
        );
        let limit = recommend_memory_limit(&agg, &est, rec.target.memory, now).expect("a limit");
        assert!(limit > Bytes(2048 * MIB), "limit {limit}");
    }

    #[test]
    fn an_oom_floor_lifts_the_limit_not_the_request() {
        let (cfg, est) = split();
        let (mut agg, mut c) = spiky(&cfg);
        let now = t(3 * 1440);
        let before = recommend(&agg, &est, 1, now);
        let limit_before =
            recommend_memory_limit(&agg, &est, before.target.memory, now).expect("a limit");
        let bumped = c
            .record_oom(
                &mut agg,
                &cfg,
                now,
                before.target.memory,
                Some(Bytes(4096 * MIB)),
            )
            .expect("fresh OOM");
        let after = recommend(&agg, &est, 1, now);
        let limit_after =
            recommend_memory_limit(&agg, &est, after.target.memory, now).expect("a limit");
        assert!(limit_after >= bumped && limit_after > limit_before);
        assert_eq!(after.target.memory, before.target.memory, "request unmoved");
        // The kill also went into the peaks as upstream's bump sample, so the limit remembers it after the hold.
        let later = now.saturating_add(Duration::from_secs(2 * 24 * 3600));
        let kept = recommend_memory_limit(&agg, &est, after.target.memory, later).expect("a limit");
        assert!(kept > limit_before, "{kept} vs {limit_before}");
    }
}
