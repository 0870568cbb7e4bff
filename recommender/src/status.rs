//! Writing VPA statuses: a merge patch of the status subresource per changed VPA, a bounded number at a time,
//! each retried with backoff on transient API errors.

use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use tailor_core::estimate::MEMORY_LIMITS_ANNOTATION;
use tailor_k8s::crd::vpa::{VerticalPodAutoscaler, VerticalPodAutoscalerStatus};
use tailor_k8s::retry::{Backoff, is_retryable, retry};

use crate::metrics::Metrics;

/// One status to write.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    /// VPA namespace.
    pub namespace: String,
    /// VPA name.
    pub name: String,
    /// The new status.
    pub status: VerticalPodAutoscalerStatus,
}

/// The patch body: every field explicit, so a recommendation that went away is removed (`null`), and the
/// conditions list is replaced whole.
pub fn patch_body(status: &VerticalPodAutoscalerStatus) -> serde_json::Value {
    json!({
        "status": {
            "recommendation": status.recommendation,
            "conditions": status.conditions,
            "observedGeneration": status.observed_generation,
        }
    })
}

/// A change of the VPA's memory-limits annotation: `None` removes it.
#[derive(Debug, Clone)]
pub struct LimitsUpdate {
    pub namespace: String,
    pub name: String,
    pub value: Option<String>,
}

/// The metadata patch for a [`LimitsUpdate`].
pub fn limits_patch_body(value: Option<&str>) -> serde_json::Value {
    json!({ "metadata": { "annotations": { MEMORY_LIMITS_ANNOTATION: value } } })
}

/// Writes `updates` with at most `concurrency` requests in flight. Returns how many succeeded.
pub async fn write_all(
    client: &Client,
    updates: Vec<StatusUpdate>,
    concurrency: usize,
    metrics: &Metrics,
) -> usize {
    let items = updates.into_iter().map(|u| {
        let patch = Patch::Merge(patch_body(&u.status));
        (u.namespace, u.name, patch, true)
    });
    write_bounded(client, items, concurrency, metrics).await
}

/// Writes memory-limit annotations like [`write_all`] writes statuses.
pub async fn write_limits(
    client: &Client,
    updates: Vec<LimitsUpdate>,
    concurrency: usize,
    metrics: &Metrics,
) -> usize {
    let items = updates.into_iter().map(|u| {
        let patch = Patch::Merge(limits_patch_body(u.value.as_deref()));
        (u.namespace, u.name, patch, false)
    });
    write_bounded(client, items, concurrency, metrics).await
}

/// Each item is a merge patch of the status subresource (`true`) or of the object's metadata (`false`).
async fn write_bounded(
    client: &Client,
    items: impl Iterator<Item = (String, String, Patch<serde_json::Value>, bool)>,
    concurrency: usize,
    metrics: &Metrics,
) -> usize {
    let params = PatchParams::default();
    let backoff = Backoff::default();
    futures::stream::iter(items)
        .map(|(namespace, name, patch, status)| {
            let api: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), &namespace);
            let params = &params;
            let backoff = &backoff;
            async move {
                let result = retry(backoff, is_retryable, || async {
                    if status {
                        api.patch_status(&name, params, &patch).await
                    } else {
                        api.patch(&name, params, &patch).await
                    }
                })
                .await;
                match result {
                    Ok(_) => {
                        tracing::debug!(%namespace, %name, status, "VPA written");
                        Metrics::write(&metrics.status_writes, true);
                        true
                    }
                    Err(error) => {
                        tracing::warn!(%namespace, %name, status, %error, "writing VPA");
                        Metrics::write(&metrics.status_writes, false);
                        false
                    }
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_is_explicit() {
        let body = patch_body(&VerticalPodAutoscalerStatus::default());
        assert!(body["status"]["recommendation"].is_null());
        assert!(
            body["status"]
                .as_object()
                .expect("object")
                .contains_key("recommendation")
        );
        assert_eq!(body["status"]["conditions"], json!([]));
    }
}
