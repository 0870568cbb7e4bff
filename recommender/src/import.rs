//! Importing upstream `VerticalPodAutoscalerCheckpoint`s, so moving from the upstream VPA keeps history. The
//! bucket layout and weight normalisation are the same as tailor-core's, so the conversion is exact.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tailor_core::histogram::{DecayingHistogram, HistogramCheckpoint, HistogramOptions};
use tailor_core::model::{AggregateConfig, AggregateState};
use tailor_core::time::Timestamp;
use tailor_k8s::crd::checkpoint::{
    HistogramCheckpoint as UpstreamHistogram, SUPPORTED_CHECKPOINT_VERSION,
    VerticalPodAutoscalerCheckpoint,
};

/// Why an upstream checkpoint was not imported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// No status, or an unsupported version.
    #[error("checkpoint version {0:?} is not {SUPPORTED_CHECKPOINT_VERSION}")]
    Version(Option<String>),
    /// A bucket index beyond the layout, or weights that do not add up.
    #[error("histogram: {0}")]
    Histogram(String),
}

fn millis(t: &Time) -> i64 {
    t.0.as_millisecond()
}

fn convert_histogram(
    upstream: Option<&UpstreamHistogram>,
    options: HistogramOptions,
    half_life: std::time::Duration,
) -> Result<DecayingHistogram, ImportError> {
    let empty = DecayingHistogram::new(options, half_life);
    let Some(h) = upstream else {
        return Ok(empty);
    };
    let (buckets, skipped) = h.buckets();
    if skipped > 0 {
        return Err(ImportError::Histogram(format!(
            "{skipped} bucket keys are not numbers"
        )));
    }
    let (Some((&first, _)), Some((&last, _))) =
        (buckets.first_key_value(), buckets.last_key_value())
    else {
        return Ok(empty);
    };
    if last >= options.num_buckets() {
        return Err(ImportError::Histogram(format!(
            "bucket {last} is beyond the {} of the layout",
            options.num_buckets()
        )));
    }
    let mut weights = vec![0u32; last - first + 1];
    for (index, weight) in buckets {
        weights[index - first] = weight;
    }
    // Same meaning as upstream: weights are relative to the reference time and scaled by total/Σweights.
    let mut cp: HistogramCheckpoint = empty.to_checkpoint();
    cp.reference = h.reference_timestamp.as_ref().map(millis);
    cp.total_weight = h.total_weight.unwrap_or(0.0);
    cp.first_bucket =
        u16::try_from(first).map_err(|_| ImportError::Histogram("bucket index overflow".into()))?;
    cp.weights = weights;
    DecayingHistogram::from_checkpoint(options, half_life, &cp)
        .map_err(|e| ImportError::Histogram(e.to_string()))
}

/// The aggregate an upstream checkpoint holds.
pub fn convert(
    cp: &VerticalPodAutoscalerCheckpoint,
    cfg: &AggregateConfig,
    now: Timestamp,
) -> Result<AggregateState, ImportError> {
    let Some(status) = &cp.status else {
        return Err(ImportError::Version(None));
    };
    if status.version.as_deref() != Some(SUPPORTED_CHECKPOINT_VERSION) {
        return Err(ImportError::Version(status.version.clone()));
    }
    let mut agg = AggregateState::new(cfg, now);
    agg.cpu = convert_histogram(
        status.cpu_histogram.as_ref(),
        cfg.cpu_histogram,
        cfg.cpu_half_life,
    )?;
    agg.memory_peaks = convert_histogram(
        status.memory_histogram.as_ref(),
        cfg.memory_histogram,
        cfg.memory_half_life,
    )?;
    agg.first_sample_start = status
        .first_sample_start
        .as_ref()
        .map(|t| Timestamp::from_unix_millis(millis(t)));
    agg.last_sample_start = status
        .last_sample_start
        .as_ref()
        .map(|t| Timestamp::from_unix_millis(millis(t)));
    agg.total_samples = status
        .total_samples_count
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    if let Some(first) = agg.first_sample_start {
        agg.created = first;
    }
    Ok(agg)
}

#[cfg(test)]
mod tests {
    use tailor_core::histogram::PercentileMode;

    use super::*;

    fn upstream(version: &str, cpu_buckets: serde_json::Value) -> VerticalPodAutoscalerCheckpoint {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscalerCheckpoint",
            "metadata": {"name": "web-app", "namespace": "shop"},
            "spec": {"vpaObjectName": "web", "containerName": "app"},
            "status": {
                "version": version,
                "cpuHistogram": {"referenceTimestamp": "2026-11-22T00:00:00Z", "bucketWeights": cpu_buckets, "totalWeight": 6.0},
                "memoryHistogram": {"referenceTimestamp": "2026-11-22T00:00:00Z", "bucketWeights": {"40": 10000}, "totalWeight": 2.0},
                "firstSampleStart": "2026-11-15T00:00:00Z", "lastSampleStart": "2026-11-22T00:00:00Z",
                "totalSamplesCount": 10080
            }
        }))
        .expect("checkpoint")
    }

    #[test]
    fn converts_weights_exactly() {
        let cfg = AggregateConfig::default();
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        // Buckets 20 and 30 with weights 2:1 → total 6.0 split 4.0 / 2.0.
        let agg = convert(
            &upstream("v3", serde_json::json!({"20": 10000, "30": 5000})),
            &cfg,
            now,
        )
        .expect("convert");
        assert!((agg.cpu.weight(20) - 4.0).abs() < 1e-9 && (agg.cpu.weight(30) - 2.0).abs() < 1e-9);
        assert!((agg.memory_peaks.total_weight() - 2.0).abs() < 1e-9);
        assert_eq!(agg.total_samples, 10080);
        let p50 = agg.cpu.percentile(0.5, PercentileMode::BucketEnd);
        assert!(
            (p50 - cfg.cpu_histogram.bucket_start(21)).abs() < 1e-9,
            "{p50}"
        );
    }

    #[test]
    fn refuses_other_versions_and_bad_buckets() {
        let cfg = AggregateConfig::default();
        let now = Timestamp::from_unix_millis(0);
        assert!(matches!(
            convert(&upstream("v2", serde_json::json!({})), &cfg, now),
            Err(ImportError::Version(_))
        ));
        assert!(convert(&upstream("v3", serde_json::json!({"999": 1})), &cfg, now).is_err());
        assert!(convert(&upstream("v3", serde_json::json!({"x": 1})), &cfg, now).is_err());
    }
}
