//! The demo's workloads (Deployments whose pods the simulated kubelet runs with a workload model) and the VPAs
//! that hand them to Tailor.

use serde_json::{Value, json};

/// Namespace of the demo workloads.
pub const WORKLOAD_NAMESPACE: &str = "default";
/// The container name every demo workload uses.
pub const CONTAINER: &str = "app";

/// One Deployment and its VPA.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Deployment, VPA and `app` label name.
    pub name: &'static str,
    /// What it shows, for the table's legend.
    pub story: &'static str,
    pub replicas: i32,
    /// The container's `resources` as written by its owner.
    pub resources: Value,
    /// The simulator's workload model (annotation `sim.tailor.dev/workload`).
    pub model: Value,
    /// VPA `updatePolicy.updateMode`.
    pub mode: &'static str,
    /// Optional VPA `startupBoost`.
    pub startup_boost: Option<Value>,
}

/// The default demo: an over-provisioned web tier with a daily cycle (compressed to two minutes), a JVM-like
/// service with a start-up CPU burst (boosted at start), a worker that leaks memory until it is OOM-killed,
/// and a batch service left in `Off` mode (recommendation only, nothing applied) that its CPU limit throttles.
pub fn default_workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "web",
            story: "over-provisioned, diurnal load",
            replicas: 2,
            resources: resources(("1", "512Mi"), ("2", "1Gi")),
            model: json!({"kind": "diurnal", "cpu_min": "80m", "cpu_max": "300m",
                          "memory_min": "96Mi", "memory_max": "160Mi", "period_seconds": 120,
                          "page_cache": "32Mi"}),
            mode: "InPlaceOrRecreate",
            startup_boost: None,
        },
        Workload {
            name: "java",
            story: "JVM-like start-up burst",
            replicas: 1,
            resources: resources(("500m", "512Mi"), ("1", "1Gi")),
            model: json!({"kind": "startup_burst", "cpu_burst": "1500m", "burst_seconds": 20,
                          "cpu": "150m", "memory": "300Mi"}),
            mode: "InPlace",
            startup_boost: Some(
                json!({"cpu": {"type": "Factor", "factor": 3, "durationSeconds": 30}}),
            ),
        },
        Workload {
            name: "worker",
            story: "leaks memory, OOM-killed",
            replicas: 1,
            resources: resources(("200m", "96Mi"), ("400m", "128Mi")),
            model: json!({"kind": "leak", "cpu": "100m", "memory": "64Mi", "leak_per_second": "4Mi"}),
            mode: "InPlace",
            startup_boost: None,
        },
        Workload {
            name: "batch",
            story: "mode Off: report only; squeezed under its CPU limit",
            replicas: 1,
            resources: resources(("250m", "384Mi"), ("250m", "384Mi")),
            model: json!({"kind": "spiky", "cpu": "300m", "cpu_spike": "600m", "memory": "70Mi",
                          "interval_seconds": 10, "spike_seconds": 2, "chance_percent": 40}),
            mode: "Off",
            startup_boost: None,
        },
    ]
}

fn resources(requests: (&str, &str), limits: (&str, &str)) -> Value {
    json!({"requests": {"cpu": requests.0, "memory": requests.1},
           "limits": {"cpu": limits.0, "memory": limits.1}})
}

impl Workload {
    /// The Deployment manifest: one container `app`, CPU and memory resized without restarts.
    pub fn deployment(&self) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": self.name, "namespace": WORKLOAD_NAMESPACE},
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": {"app": self.name}},
                "template": {
                    "metadata": {
                        "labels": {"app": self.name},
                        "annotations": {tailor_sim::workload::WORKLOAD_ANNOTATION: self.model.to_string()}
                    },
                    "spec": {"containers": [{
                        "name": CONTAINER, "image": "registry.invalid/demo/app:1",
                        "resources": self.resources,
                        "resizePolicy": [
                            {"resourceName": "cpu", "restartPolicy": "NotRequired"},
                            {"resourceName": "memory", "restartPolicy": "NotRequired"}
                        ]
                    }]}
                }
            }
        })
    }

    /// The VPA manifest, served by Tailor's recommender (`spec.recommenders: [tailor]`).
    pub fn vpa(&self) -> Value {
        let mut spec = json!({
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.name},
            "recommenders": [{"name": "tailor"}],
            "updatePolicy": {"updateMode": self.mode},
            "resourcePolicy": {"containerPolicies": [{
                "containerName": CONTAINER,
                "minAllowed": {"cpu": "50m", "memory": "64Mi"},
                "maxAllowed": {"cpu": "2", "memory": "2Gi"}
            }]}
        });
        if let Some(boost) = &self.startup_boost {
            spec["startupBoost"] = boost.clone();
        }
        json!({
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": self.name, "namespace": WORKLOAD_NAMESPACE},
            "spec": spec
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_parses_in_the_simulator() {
        for w in default_workloads() {
            tailor_sim::workload::PodWorkload::from_json(&w.model.to_string())
                .unwrap_or_else(|e| panic!("{}: {e}", w.name));
        }
    }

    #[test]
    fn manifests_deserialize_into_the_api_types() {
        for w in default_workloads() {
            let _: k8s_openapi::api::apps::v1::Deployment =
                serde_json::from_value(w.deployment()).expect("deployment");
            let vpa: tailor_k8s::crd::vpa::VerticalPodAutoscaler =
                serde_json::from_value(w.vpa()).expect("vpa");
            assert!(vpa.is_served_by("tailor", false));
        }
    }
}
