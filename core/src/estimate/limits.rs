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

/// The VPA annotation the recommender writes its memory limits to and the updater reads them from: upstream's
/// status has no place for limits, and an annotation keeps the status schema-compatible.
pub const MEMORY_LIMITS_ANNOTATION: &str = "tailor.dev/memory-limits";

/// A malformed [`MEMORY_LIMITS_ANNOTATION`] value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsAnnotationError {
    #[error("entry {0:?} is not container=quantity")]
    Entry(String),
    #[error("container name {0:?} is not a DNS label")]
    Name(String),
    #[error("container {0:?} appears twice")]
    Duplicate(String),
    #[error("memory limit of {container:?}: {error}")]
    Quantity {
        container: String,
        error: crate::quantity::QuantityError,
    },
    #[error("memory limit of {0:?} is zero")]
    Zero(String),
}

/// `app=1536Mi,sidecar=256Mi`, containers in name order.
pub fn encode_memory_limits(limits: &std::collections::BTreeMap<String, Bytes>) -> String {
    limits
        .iter()
        .map(|(name, limit)| format!("{name}={}", limit.to_quantity_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses what [`encode_memory_limits`] writes. Strict: the value comes from an object anyone with VPA write
/// access can edit, so anything odd is refused whole rather than half-applied.
pub fn parse_memory_limits(
    value: &str,
) -> Result<std::collections::BTreeMap<String, Bytes>, LimitsAnnotationError> {
    let mut out = std::collections::BTreeMap::new();
    if value.trim().is_empty() {
        return Ok(out);
    }
    for entry in value.split(',') {
        let (name, quantity) = entry
            .trim()
            .split_once('=')
            .ok_or_else(|| LimitsAnnotationError::Entry(entry.to_owned()))?;
        let valid_name = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !valid_name {
            return Err(LimitsAnnotationError::Name(name.to_owned()));
        }
        let limit = Bytes::parse_non_negative(quantity).map_err(|error| {
            LimitsAnnotationError::Quantity {
                container: name.to_owned(),
                error,
            }
        })?;
        if limit == Bytes::ZERO {
            return Err(LimitsAnnotationError::Zero(name.to_owned()));
        }
        if out.insert(name.to_owned(), limit).is_some() {
            return Err(LimitsAnnotationError::Duplicate(name.to_owned()));
        }
    }
    Ok(out)
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

    #[test]
    fn the_annotation_round_trips_and_refuses_anything_odd() {
        let mut limits = std::collections::BTreeMap::new();
        limits.insert("app".to_owned(), Bytes(1536 * MIB));
        limits.insert("side-car1".to_owned(), Bytes(300_000_000));
        let text = encode_memory_limits(&limits);
        assert_eq!(text, "app=1536Mi,side-car1=300000000");
        assert_eq!(parse_memory_limits(&text), Ok(limits));
        assert_eq!(parse_memory_limits(""), Ok(Default::default()));
        for bad in [
            "app",
            "app=",
            "=1Gi",
            "App=1Gi",
            "app=1Gi,app=2Gi",
            "app=-1Gi",
            "app=0",
            "app=1Gi;x",
            "-app=1Gi",
        ] {
            assert!(parse_memory_limits(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_any_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse_memory_limits(&s);
        }

        #[test]
        fn any_encoded_map_parses_back(
            entries in proptest::collection::btree_map("[a-z][a-z0-9-]{0,10}[a-z0-9]", 1i64..(1 << 50), 0..5)
        ) {
            let limits: std::collections::BTreeMap<String, Bytes> =
                entries.into_iter().map(|(k, v)| (k, Bytes(v))).collect();
            proptest::prop_assert_eq!(parse_memory_limits(&encode_memory_limits(&limits)), Ok(limits));
        }
    }
}
