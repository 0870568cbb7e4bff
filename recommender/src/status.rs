//! Writing VPA statuses: a merge patch of the status subresource per changed VPA, a bounded number at a time,
//! each retried with backoff on transient API errors.

use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
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

/// Writes `updates` with at most `concurrency` requests in flight. Returns how many succeeded.
pub async fn write_all(
    client: &Client,
    updates: Vec<StatusUpdate>,
    concurrency: usize,
    metrics: &Metrics,
) -> usize {
    let params = PatchParams::default();
    let backoff = Backoff::default();
    futures::stream::iter(updates)
        .map(|u| {
            let api: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), &u.namespace);
            let params = &params;
            async move {
                let patch = Patch::Merge(patch_body(&u.status));
                let result = retry(&backoff, is_retryable, || api.patch_status(&u.name, params, &patch)).await;
                match result {
                    Ok(_) => {
                        tracing::debug!(namespace = %u.namespace, name = %u.name, "status written");
                        Metrics::write(&metrics.status_writes, true);
                        true
                    }
                    Err(error) => {
                        tracing::warn!(namespace = %u.namespace, name = %u.name, %error, "writing VPA status");
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
