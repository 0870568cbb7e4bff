//! The simulated kubelet against a real API server: registers Nodes, renews their Leases, watches the pods
//! bound to them, runs the node simulations on a tick, publishes pod status through `pods/status`, and deletes
//! pods whose graceful termination finished (as the kubelet does).

use crate::node::{NodeBehaviour, NodeEventKind, NodeSim, NodeSpec};
use crate::quantity::{format_bytes, format_cpu_millis};
use crate::truth::{NodeTruth, write_truth};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// Errors that stop the simulated kubelet.
#[derive(Debug, Error)]
pub enum SimError {
    #[error("registering node {node}: {source}")]
    Register { node: String, source: kube::Error },
    #[error(transparent)]
    Tree(#[from] crate::cgroup::tree::TreeError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Everything the simulated kubelet needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub nodes: Vec<NodeSpec>,
    pub behaviour: NodeBehaviour,
    /// Each node's tree lives at `<cgroup_root>/<node name>`.
    pub cgroup_root: PathBuf,
    pub tick: Duration,
    pub lease_renew: Duration,
    pub truth_file: Option<PathBuf>,
}

const FIELD_MANAGER: &str = "tailor-sim-kubelet";

/// The cgroup root of one node.
pub fn node_cgroup_root(root: &std::path::Path, node: &str) -> PathBuf {
    root.join(node)
}

fn node_object(spec: &NodeSpec, now: Timestamp) -> serde_json::Value {
    let cap = serde_json::json!({
        "cpu": format_cpu_millis(spec.cpu_millis),
        "memory": format_bytes(spec.memory_bytes),
        "pods": spec.max_pods.to_string(),
        "ephemeral-storage": "100Gi",
    });
    let alloc = serde_json::json!({
        "cpu": format_cpu_millis(spec.allocatable_cpu()),
        "memory": format_bytes(spec.allocatable_memory()),
        "pods": spec.max_pods.to_string(),
        "ephemeral-storage": "100Gi",
    });
    let ts = now.to_string();
    let cond = |kind: &str, status: &str, reason: &str, message: &str| {
        serde_json::json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": ts, "lastTransitionTime": ts,
        })
    };
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": {
                "kubernetes.io/hostname": spec.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "tailor-sim",
                "tailor.dev/simulated": "true",
            },
        },
        "spec": { "podCIDR": format!("10.244.{}.0/24", spec.index), "podCIDRs": [format!("10.244.{}.0/24", spec.index)] },
        "status": {
            "capacity": cap,
            "allocatable": alloc,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated)"),
            ],
            "addresses": [
                { "type": "InternalIP", "address": spec.host_ip() },
                { "type": "Hostname", "address": spec.name },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
            "nodeInfo": {
                "machineID": format!("{:032x}", crate::naming::splitmix64(u64::from(spec.index))),
                "systemUUID": format!("{:032x}", crate::naming::splitmix64(u64::from(spec.index) + 1)),
                "bootID": format!("{:032x}", crate::naming::splitmix64(u64::from(spec.index) + 2)),
                "kernelVersion": "6.18.0-sim",
                "osImage": "Tailor simulated node",
                "containerRuntimeVersion": "containerd://2.2.0-sim",
                "kubeletVersion": "v1.37.0-sim",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    })
}

async fn register_node(
    nodes: &Api<Node>,
    spec: &NodeSpec,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let body = node_object(spec, now);
    let node: Node = serde_json::from_value(body.clone()).map_err(kube::Error::SerdeError)?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e),
    }
    // Status is not taken from a create by every server version; set it explicitly.
    let status = serde_json::json!({ "status": body["status"] });
    nodes
        .patch_status(&spec.name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

async fn renew_lease(
    leases: &Api<Lease>,
    node: &str,
    uid: Option<&str>,
    duration_s: i32,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let mut meta = serde_json::json!({ "name": node, "namespace": "kube-node-lease" });
    if let Some(uid) = uid {
        meta["ownerReferences"] =
            serde_json::json!([{ "apiVersion": "v1", "kind": "Node", "name": node, "uid": uid }]);
    }
    let micro = jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S.%6fZ", now)
        .unwrap_or_else(|_| now.to_string());
    let lease = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": { "holderIdentity": node, "leaseDurationSeconds": duration_s, "renewTime": micro },
    });
    leases
        .patch(
            node,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&lease),
        )
        .await?;
    Ok(())
}

/// Shared view of the running simulation for tests and the binary.
#[derive(Debug, Clone, Default)]
pub struct SimView {
    truth: Arc<Mutex<Vec<NodeTruth>>>,
}

impl SimView {
    /// Ground truth as of the last tick.
    pub fn truth(&self) -> Vec<NodeTruth> {
        self.truth.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

fn carried_conditions(pod: &Pod) -> Vec<k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
}

/// Runs the simulated kubelet until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    config: SimConfig,
    view: SimView,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SimError> {
    if config.nodes.is_empty() {
        return Err(SimError::Config("at least one node is required".into()));
    }
    let node_api: Api<Node> = Api::all(client.clone());
    let lease_api: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let pods_all: Api<Pod> = Api::all(client.clone());
    let start = Timestamp::now();

    let mut sims: BTreeMap<String, NodeSim> = BTreeMap::new();
    let mut node_uids: BTreeMap<String, Option<String>> = BTreeMap::new();
    for spec in &config.nodes {
        let root = node_cgroup_root(&config.cgroup_root, &spec.name);
        let sim = NodeSim::new(spec.clone(), config.behaviour.clone(), root);
        sim.init_tree()?;
        let mut attempt = 0u32;
        loop {
            match register_node(&node_api, spec, start).await {
                Ok(()) => break,
                Err(source) if attempt >= 8 => {
                    return Err(SimError::Register {
                        node: spec.name.clone(),
                        source,
                    });
                }
                Err(e) => {
                    tracing::warn!(node = %spec.name, error = %e, attempt, "node registration failed; retrying");
                    tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
                    attempt += 1;
                }
            }
        }
        let uid = node_api
            .get_opt(&spec.name)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.metadata.uid);
        node_uids.insert(spec.name.clone(), uid);
        tracing::info!(node = %spec.name, cpu = spec.cpu_millis, memory = spec.memory_bytes, "registered simulated node");
        sims.insert(spec.name.clone(), sim);
    }

    let stream = watcher(
        pods_all.clone(),
        watcher::Config::default().fields("spec.nodeName!="),
    )
    .default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut ticker = tokio::time::interval(config.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lease_ticker = tokio::time::interval(config.lease_renew);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(60));
    let mut shutdown = std::pin::pin!(shutdown);
    // uid → (node, latest object)
    let mut known: BTreeMap<String, (String, Pod)> = BTreeMap::new();
    let mut published: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut relist: Option<BTreeSet<String>> = None;
    let mut deleting: BTreeSet<String> = BTreeSet::new();

    loop {
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutting down simulated kubelet");
                return Ok(());
            }
            event = stream.next() => {
                let Some(event) = event else { return Ok(()) };
                let now = Timestamp::now();
                match event {
                    Ok(watcher::Event::Init) => relist = Some(BTreeSet::new()),
                    Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod)) => {
                        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
                        let Some(uid) = pod.metadata.uid.clone() else { continue };
                        if let Some(seen) = relist.as_mut() {
                            seen.insert(uid.clone());
                        }
                        if let Some(sim) = sims.get_mut(&node) {
                            sim.upsert_pod(&pod, now);
                            known.insert(uid, (node, pod));
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(seen) = relist.take() {
                            let gone: Vec<(String, String)> = known.iter().filter(|(u, _)| !seen.contains(*u)).map(|(u, (n, _))| (u.clone(), n.clone())).collect();
                            for (uid, node) in gone {
                                known.remove(&uid);
                                published.remove(&uid);
                                if let Some(sim) = sims.get_mut(&node) { sim.remove_pod(&uid)?; }
                            }
                        }
                    }
                    Ok(watcher::Event::Delete(pod)) => {
                        let Some(uid) = pod.metadata.uid.clone() else { continue };
                        if let Some((node, _)) = known.remove(&uid) {
                            published.remove(&uid);
                            deleting.remove(&uid);
                            if let Some(sim) = sims.get_mut(&node) { sim.remove_pod(&uid)?; }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "pod watch error"),
                }
            }
            _ = lease_ticker.tick() => {
                let now = Timestamp::now();
                for (node, uid) in &node_uids {
                    if let Err(e) = renew_lease(&lease_api, node, uid.as_deref(), 40, now).await {
                        tracing::warn!(node = %node, error = %e, "lease renewal failed");
                    }
                }
            }
            _ = heartbeat.tick() => {
                let now = Timestamp::now();
                for spec in &config.nodes {
                    let status = serde_json::json!({ "status": { "conditions": node_object(spec, now)["status"]["conditions"] } });
                    if let Err(e) = node_api.patch_status(&spec.name, &PatchParams::default(), &Patch::Merge(&status)).await {
                        tracing::warn!(node = %spec.name, error = %e, "node status heartbeat failed");
                    }
                }
            }
            _ = ticker.tick() => {
                let now = Timestamp::now();
                let mut truths = Vec::with_capacity(sims.len());
                for sim in sims.values_mut() {
                    for ev in sim.tick(now)? {
                        match &ev.event {
                            NodeEventKind::Pod(e) => tracing::info!(node = %sim.spec.name, pod = %ev.pod, event = ?e, "container event"),
                            other => tracing::info!(node = %sim.spec.name, pod = %ev.pod, event = ?other, "resize event"),
                        }
                    }
                    truths.push(sim.truth());
                }
                for (uid, (node, pod)) in &known {
                    let Some(sim) = sims.get_mut(node) else { continue };
                    let Some(status) = sim.status(uid, &carried_conditions(pod), now) else { continue };
                    let body = serde_json::json!({ "status": status });
                    if published.get(uid) == Some(&body) {
                        continue;
                    }
                    let ns = pod.metadata.namespace.clone().unwrap_or_default();
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                    match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&body)).await {
                        Ok(_) => { published.insert(uid.clone(), body); }
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => tracing::warn!(pod = %name, namespace = %ns, error = %e, "status update failed; will retry"),
                    }
                }
                for sim in sims.values() {
                    for (uid, ns, name) in sim.finished_terminating() {
                        if !deleting.insert(uid.clone()) { continue; }
                        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                        let dp = DeleteParams { grace_period_seconds: Some(0), preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }), ..Default::default() };
                        if let Err(e) = api.delete(&name, &dp).await {
                            deleting.remove(&uid);
                            tracing::warn!(pod = %name, error = %e, "final pod deletion failed; will retry");
                        }
                    }
                }
                if let Some(path) = &config.truth_file
                    && let Err(e) = write_truth(path, &truths)
                {
                    tracing::warn!(path = %path.display(), error = %e, "writing ground truth failed");
                }
                if let Ok(mut t) = view.truth.lock() {
                    *t = truths;
                }
            }
        }
    }
}
