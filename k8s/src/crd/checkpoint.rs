//! `autoscaling.k8s.io/v1` `VerticalPodAutoscalerCheckpoint`: the upstream recommender's persisted histograms,
//! read so that moving from the upstream VPA keeps history. Tailor never writes these objects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The checkpoint format version upstream writes and Tailor knows how to import.
pub const SUPPORTED_CHECKPOINT_VERSION: &str = "v3";

/// Which VPA and container a checkpoint belongs to.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "autoscaling.k8s.io",
    version = "v1",
    kind = "VerticalPodAutoscalerCheckpoint",
    plural = "verticalpodautoscalercheckpoints",
    singular = "verticalpodautoscalercheckpoint",
    shortname = "vpacheckpoint",
    namespaced,
    status = "VerticalPodAutoscalerCheckpointStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "VerticalPodAutoscalerCheckpoint is the checkpoint of the internal state of VPA that is used for recovery after recommender's restart.",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes/kubernetes/pull/63797"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerCheckpointSpec {
    /// Name of the VPA object that stored this checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpa_object_name: Option<String>,
    /// Name of the checkpointed container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
}

/// The data of a checkpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerCheckpointStatus {
    /// When the status was last refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// Version of the format of the stored data (`v3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Histogram of CPU usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_histogram: Option<HistogramCheckpoint>,
    /// Histogram of memory peaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_histogram: Option<HistogramCheckpoint>,
    /// Time of the first sample in the histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sample_start: Option<Time>,
    /// Time of the last sample in the histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sample_start: Option<Time>,
    /// Total number of samples in the histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_samples_count: Option<i64>,
}

/// The data needed to rebuild one decaying histogram.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistogramCheckpoint {
    /// The reference timestamp the weights are relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_timestamp: Option<Time>,
    /// Bucket index (a decimal string, as JSON object keys are) → weight, normalized so the largest is 10000.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::crd::schema::preserve_unknown_object")]
    pub bucket_weights: BTreeMap<String, u32>,
    /// The sum of sample weights; the denominator that turns `bucketWeights` back into weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_weight: Option<f64>,
}

impl HistogramCheckpoint {
    /// The bucket weights with numeric indices; entries whose key is not an index are skipped and counted.
    pub fn buckets(&self) -> (BTreeMap<usize, u32>, usize) {
        let mut skipped = 0;
        let mut out = BTreeMap::new();
        for (key, weight) in &self.bucket_weights {
            match key.parse::<usize>() {
                Ok(index) => {
                    out.insert(index, *weight);
                }
                Err(_) => skipped += 1,
            }
        }
        (out, skipped)
    }
}
