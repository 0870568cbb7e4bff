//! Objects the report e2e test puts into the cluster: the VPA CRD, Deployments whose pods the simulated kubelet
//! runs, and VPAs with a recommendation written into their status (as a recommender would).

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use serde_json::{Value, json};
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

use crate::sim_common::eventually;

/// The namespace the workloads run in.
pub const NS: &str = "default";

/// Installs the VPA CRD (from Tailor's types) and waits until VPAs can be listed.
pub async fn vpa_crd(client: &Client) -> Result<()> {
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &VerticalPodAutoscaler::crd())
        .await?;
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    eventually("the VPA API", Duration::from_secs(30), || {
        let vpas = vpas.clone();
        async move { Ok(vpas.list(&ListParams::default()).await.ok().map(drop)) }
    })
    .await
}

/// Deployment `name` with `replicas` pods of one container `app`: `resources`, and the simulator's `model`
/// of its usage.
pub async fn workload(
    client: &Client,
    name: &str,
    replicas: i32,
    resources: Value,
    model: &str,
) -> Result<()> {
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"sim.tailor.dev/workload": model}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1", "resources": resources}]}
            }
        }
    }))?;
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    // Retried: right after start-up the namespace's default ServiceAccount may not exist yet.
    eventually(
        &format!("deployment {name}"),
        Duration::from_secs(30),
        || {
            let (api, d) = (api.clone(), d.clone());
            async move { Ok(api.create(&PostParams::default(), &d).await.ok().map(drop)) }
        },
    )
    .await
}

/// VPA `name` (mode Off) on Deployment `name`, with `target`, `lower` and `upper` (cpu, memory) for `app` in
/// its status.
pub async fn vpa_with_recommendation(
    client: &Client,
    name: &str,
    target: (&str, &str),
    lower: (&str, &str),
    upper: (&str, &str),
) -> Result<()> {
    let api: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let vpa: VerticalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "updatePolicy": {"updateMode": "Off"}, "recommenders": [{"name": "tailor"}]}
    }))?;
    api.create(&PostParams::default(), &vpa).await?;
    let list = |(cpu, memory): (&str, &str)| json!({"cpu": cpu, "memory": memory});
    let status = json!({"status": {"recommendation": {"containerRecommendations": [{
        "containerName": "app", "target": list(target), "lowerBound": list(lower), "upperBound": list(upper)
    }]}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// Sets Tailor's memory-limits annotation on VPA `name`, as the recommender does under
/// `--memory-limit-policy from-peaks`.
pub async fn annotate_memory_limits(client: &Client, name: &str, value: &str) -> Result<()> {
    let api: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let patch = json!({"metadata": {"annotations": {
        tailor_core::estimate::MEMORY_LIMITS_ANNOTATION: value
    }}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Waits until `count` pods labelled `app=<app>` satisfy `check`.
pub async fn pods_where(
    client: &Client,
    app: &str,
    count: usize,
    check: fn(&Pod) -> bool,
) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels(&format!("app={app}"));
    eventually(
        &format!("{count} pods of {app}"),
        Duration::from_secs(90),
        || {
            let (pods, lp) = (pods.clone(), lp.clone());
            async move {
                let n = pods
                    .list(&lp)
                    .await?
                    .items
                    .iter()
                    .filter(|p| check(p))
                    .count();
                Ok((n >= count).then_some(()))
            }
        },
    )
    .await
}

/// Whether the pod is Ready.
pub fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether a container of the pod was OOM-killed (now or last time).
pub fn oom_killed(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                [c.state.as_ref(), c.last_state.as_ref()]
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.terminated.as_ref())
                    .any(|t| t.reason.as_deref() == Some("OOMKilled"))
            })
        })
}
