//! `updatePolicy.evictionRequirements` and `evictAfterOOMSeconds` from the VPA object, and OOM run lengths
//! from the pod status.

use serde_json::json;
use tailor_core::plan::{ChangeRequirement, EvictionPolicy, EvictionRequirement, ResourceMask};
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

use super::fixtures::pod_json;
use crate::convert::eviction::{eviction_policy, oom_runs};

fn vpa_with(update: serde_json::Value) -> VerticalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "updatePolicy": update}
    }))
    .expect("vpa")
}

#[test]
fn eviction_rules_come_from_the_update_policy() {
    let v = vpa_with(json!({
        "updateMode": "Recreate",
        "evictAfterOOMSeconds": 90,
        "evictionRequirements": [
            {"resources": ["cpu", "memory"], "changeRequirement": "TargetHigherThanRequests"},
            {"resources": ["memory"], "changeRequirement": "TargetLowerThanRequests"},
            {"resources": ["cpu"], "changeRequirement": "SomethingNew"}
        ]
    }));
    assert_eq!(
        eviction_policy(&v),
        EvictionPolicy {
            requirements: vec![
                EvictionRequirement {
                    resources: ResourceMask::ALL,
                    change: ChangeRequirement::TargetHigherThanRequests
                },
                EvictionRequirement {
                    resources: ResourceMask::MEMORY,
                    change: ChangeRequirement::TargetLowerThanRequests
                },
                // Unreadable: never holds, so it blocks evictions.
                EvictionRequirement {
                    resources: ResourceMask::NONE,
                    change: ChangeRequirement::TargetHigherThanRequests
                },
            ],
            evict_after_oom_ms: Some(90_000),
        }
    );
    assert_eq!(
        eviction_policy(&vpa_with(json!({"updateMode": "Recreate"}))),
        EvictionPolicy::default()
    );
}

#[test]
fn oom_run_lengths_come_from_the_last_termination() {
    let mut j = pod_json("a", "500m", "1");
    j["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {
        "exitCode": 137, "reason": "OOMKilled",
        "startedAt": "2026-01-01T00:00:05Z", "finishedAt": "2026-01-01T00:01:35Z"
    }});
    let p = serde_json::from_value(j.clone()).expect("pod");
    assert_eq!(oom_runs(&p), vec![("app".to_owned(), 90_000)]);
    j["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] = json!("Error");
    let p = serde_json::from_value(j).expect("pod");
    assert!(oom_runs(&p).is_empty());
}
