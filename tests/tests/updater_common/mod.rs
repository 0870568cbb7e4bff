//! Helpers for the updater's end-to-end tests (`updater_*.rs`): the VPA CRD, a Deployment on simulated nodes,
//! a VPA with a recommendation written into its status, and the real updater running in-process.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use serde_json::{Value, json};
use tailor_k8s::admin::Readiness;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::shutdown::CancellationToken;

pub const NS: &str = "default";

/// Polls `check` every 250 ms until it yields `Some`, or fails after `timeout` with the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Installs the VPA CRD and waits until it is served.
pub async fn install_vpa_crd(client: &Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &VerticalPodAutoscaler::crd())
        .await?;
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    wait_for("VPA CRD served", Duration::from_secs(30), || {
        let vpas = vpas.clone();
        async move { Ok(vpas.list(&ListParams::default()).await.ok().map(|_| ())) }
    })
    .await
}

/// A Deployment `name` with `replicas` pods of one container `app` running the simulator's `workload`.
pub fn deployment(
    name: &str,
    replicas: i32,
    resources: Value,
    memory_policy: &str,
    workload: &str,
) -> Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"sim.tailor.dev/workload": workload}},
                "spec": {"containers": [{
                    "name": "app", "image": "registry.invalid/app:1",
                    "resources": resources,
                    "resizePolicy": [
                        {"resourceName": "cpu", "restartPolicy": "NotRequired"},
                        {"resourceName": "memory", "restartPolicy": memory_policy}
                    ]
                }]}
            }
        }
    }))?)
}

/// Creates the Deployment, retrying while the namespace's ServiceAccount is not there yet.
pub async fn create_deployment(client: &Client, d: Deployment) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    wait_for("deployment created", Duration::from_secs(30), || {
        let (api, d) = (api.clone(), d.clone());
        async move {
            Ok(api
                .create(&PostParams::default(), &d)
                .await
                .ok()
                .map(|_| ()))
        }
    })
    .await
}

/// The Deployment's pods once `count` of them are Running and Ready.
pub async fn ready_pods(client: &Client, app: &str, count: usize) -> Result<Vec<Pod>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels(&format!("app={app}"));
    wait_for(
        &format!("{count} ready pods of {app}"),
        Duration::from_secs(90),
        || {
            let (pods, lp) = (pods.clone(), lp.clone());
            async move {
                let list = pods.list(&lp).await?.items;
                let ready: Vec<Pod> = list.into_iter().filter(is_ready).collect();
                Ok((ready.len() == count).then_some(ready))
            }
        },
    )
    .await
}

pub fn is_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Creates VPA `name` for Deployment `target` in `mode`, and writes `recommendation` (a
/// `containerRecommendations` entry for `app`) into its status as a recommender would.
pub async fn create_vpa(
    client: &Client,
    name: &str,
    target: &str,
    mode: &str,
    recommendation: Value,
) -> Result<()> {
    let api: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let vpa: VerticalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "updatePolicy": {"updateMode": mode}}
    }))?;
    api.create(&PostParams::default(), &vpa).await?;
    set_recommendation(client, name, recommendation).await
}

pub async fn set_recommendation(client: &Client, name: &str, recommendation: Value) -> Result<()> {
    let api: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let status =
        json!({"status": {"recommendation": {"containerRecommendations": [recommendation]}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// A recommendation for container `app`: target with bounds.
pub fn rec(target: (&str, &str), lower: (&str, &str), upper: (&str, &str)) -> Value {
    json!({
        "containerName": "app",
        "target": {"cpu": target.0, "memory": target.1},
        "lowerBound": {"cpu": lower.0, "memory": lower.1},
        "upperBound": {"cpu": upper.0, "memory": upper.1}
    })
}

/// The real updater, in-process, until dropped.
#[derive(Debug)]
pub struct Updater {
    token: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for Updater {
    fn drop(&mut self) {
        self.token.cancel();
        self.task.abort();
    }
}

/// Starts the updater with a 1 s interval, no cooldown on drift, and `extra` flags.
pub fn start_updater(client: &Client, extra: &[&str]) -> Result<Updater> {
    let mut args = vec![
        "tailor-updater",
        "--admin-addr=127.0.0.1:0",
        "--log-format=text",
        "--log-level=info,tailor_updater=debug",
        "--interval-seconds=1",
        "--min-interval-ms=100",
        "--up-cooldown-seconds=0",
    ];
    if extra.iter().any(|e| e.starts_with("--admin-addr=")) {
        args.retain(|a| !a.starts_with("--admin-addr="));
    }
    args.extend_from_slice(extra);
    let args = tailor_updater::config::parse_args(args).context("updater flags")?;
    // Logs go to the test's stderr (shown on failure); a second init in the same process is a no-op.
    let _ = tailor_k8s::telemetry::init(&args.log);
    let token = CancellationToken::new();
    let task = tokio::spawn(tailor_updater::run_until(
        client.clone(),
        args,
        Readiness::new(),
        token.clone(),
    ));
    Ok(Updater { token, task })
}

/// A container field of the pod's first container as a string, e.g. `("requests", "cpu")`.
pub fn spec_value(p: &Pod, kind: &str, resource: &str) -> Option<String> {
    let c = p.spec.as_ref()?.containers.first()?;
    pick(c.resources.as_ref()?, kind, resource)
}

/// The same field as the kubelet reports it applied, in the first container's status.
pub fn status_value(p: &Pod, kind: &str, resource: &str) -> Option<String> {
    let c = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
    pick(c.resources.as_ref()?, kind, resource)
}

fn pick(r: &ResourceRequirements, kind: &str, resource: &str) -> Option<String> {
    let m = if kind == "requests" {
        r.requests.as_ref()
    } else {
        r.limits.as_ref()
    };
    m?.get(resource).map(|q| q.0.clone())
}

/// A loopback address nobody listens on right now, for an admin server whose `/metrics` a test reads.
pub fn free_addr() -> Result<std::net::SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// Starts the updater serving its admin endpoints on `admin`.
pub fn start_updater_at(
    client: &Client,
    admin: std::net::SocketAddr,
    extra: &[&str],
) -> Result<Updater> {
    let flag = format!("--admin-addr={admin}");
    let mut args: Vec<&str> = vec![&flag];
    args.extend_from_slice(extra);
    start_updater(client, &args)
}

/// The value of one series in the updater's `/metrics` (the exact name with labels as printed, e.g.
/// `tailor_updater_actions_total{action="resize",outcome="applied"}`); 0 when the series is absent.
pub async fn metric(admin: std::net::SocketAddr, series: &str) -> Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(admin).await?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    Ok(body
        .lines()
        .filter_map(|l| l.strip_prefix(series))
        .filter_map(|rest| rest.trim().split(' ').next()?.parse::<f64>().ok())
        .sum())
}
