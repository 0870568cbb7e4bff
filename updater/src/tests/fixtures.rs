//! API objects as JSON.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

/// A running pod of Deployment `web` (through ReplicaSet `web-abc`) with one container `app`.
pub fn pod_json(name: &str, cpu: &str, limit_cpu: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "ns", "uid": format!("uid-{name}"), "generation": 1,
            "labels": {"app": "web", "pod-template-hash": "abc"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "rs", "controller": true}]
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{
                "name": "app", "image": "x",
                "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}, "limits": {"cpu": limit_cpu, "memory": "512Mi"}},
                "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}, {"resourceName": "memory", "restartPolicy": "RestartContainer"}]
            }]
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "observedGeneration": 1, "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"}],
            "containerStatuses": [{
                "name": "app", "image": "x", "imageID": "x", "ready": true, "restartCount": 0,
                "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
                "allocatedResources": {"cpu": cpu, "memory": "256Mi"},
                "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}, "limits": {"cpu": limit_cpu, "memory": "512Mi"}}
            }]
        }
    })
}

pub fn pod(name: &str, cpu: &str, limit_cpu: &str) -> Pod {
    serde_json::from_value(pod_json(name, cpu, limit_cpu)).expect("pod")
}

pub fn vpa(mode: &str, target_cpu: &str) -> VerticalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "ns", "uid": "vpa-uid", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "updatePolicy": {"updateMode": mode}
        },
        "status": {"recommendation": {"containerRecommendations": [{
            "containerName": "app",
            "target": {"cpu": target_cpu, "memory": "256Mi"},
            "lowerBound": {"cpu": target_cpu, "memory": "200Mi"},
            "upperBound": {"cpu": target_cpu, "memory": "300Mi"}
        }]}}
    }))
    .expect("vpa")
}

pub fn node(cpu: &str, memory: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"allocatable": {"cpu": cpu, "memory": memory}}
    }))
    .expect("node")
}
