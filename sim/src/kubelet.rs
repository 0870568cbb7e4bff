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
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
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

/// API credentials: one client for every node, or one per node (a kubelet identity `system:node:<name>`, so
/// the Node authorizer and NodeRestriction admission check everything the simulator does).
#[derive(Clone)]
pub enum Clients {
    Shared(kube::Client),
    PerNode(BTreeMap<String, kube::Client>),
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clients::Shared(_) => f.write_str("Clients::Shared"),
            Clients::PerNode(m) => f
                .debug_tuple("Clients::PerNode")
                .field(&m.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

impl Clients {
    /// The client acting for `node`.
    pub fn for_node(&self, node: &str) -> Option<kube::Client> {
        match self {
            Clients::Shared(c) => Some(c.clone()),
            Clients::PerNode(m) => m.get(node).cloned(),
        }
    }
}

/// Per-node state of the running kubelet loop.
struct NodeRuntime {
    client: kube::Client,
    recorder: Recorder,
    sim: NodeSim,
    node_uid: Option<String>,
}

/// The kubelet loop's state: the node simulations plus what it knows about the API's pods.
struct Kubelet {
    config: SimConfig,
    nodes: BTreeMap<String, NodeRuntime>,
    /// uid → (node, latest object)
    known: BTreeMap<String, (String, Pod)>,
    published: BTreeMap<String, serde_json::Value>,
    relist: BTreeMap<String, BTreeSet<String>>,
    deleting: BTreeSet<String>,
    view: SimView,
}

type PodEvent = (String, Result<watcher::Event<Pod>, watcher::Error>);

impl Kubelet {
    async fn register(
        clients: &Clients,
        config: SimConfig,
        view: SimView,
    ) -> Result<Self, SimError> {
        if config.nodes.is_empty() {
            return Err(SimError::Config("at least one node is required".into()));
        }
        let start = Timestamp::now();
        let mut nodes = BTreeMap::new();
        for spec in &config.nodes {
            let client = clients
                .for_node(&spec.name)
                .ok_or_else(|| SimError::Config(format!("no API client for node {}", spec.name)))?;
            let mut sim = NodeSim::new(
                spec.clone(),
                config.behaviour.clone(),
                node_cgroup_root(&config.cgroup_root, &spec.name),
            );
            sim.init_tree()?;
            let api: Api<Node> = Api::all(client.clone());
            let mut attempt = 0u32;
            loop {
                match register_node(&api, spec, start).await {
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
            let node_uid = api
                .get_opt(&spec.name)
                .await
                .ok()
                .flatten()
                .and_then(|n| n.metadata.uid);
            tracing::info!(node = %spec.name, cpu = spec.cpu_millis, memory = spec.memory_bytes, "registered simulated node");
            let reporter = Reporter {
                controller: "kubelet".into(),
                instance: Some(spec.name.clone()),
            };
            let recorder = Recorder::new(client.clone(), reporter);
            nodes.insert(
                spec.name.clone(),
                NodeRuntime {
                    client,
                    recorder,
                    sim,
                    node_uid,
                },
            );
        }
        Ok(Kubelet {
            config,
            nodes,
            known: BTreeMap::new(),
            published: BTreeMap::new(),
            relist: BTreeMap::new(),
            deleting: BTreeSet::new(),
            view,
        })
    }

    /// One watch per node, selected by `spec.nodeName` like the kubelet's (the Node authorizer allows no more).
    fn pod_events(&self) -> impl futures::Stream<Item = PodEvent> + use<> {
        let streams: Vec<_> = self
            .nodes
            .iter()
            .map(|(name, rt)| {
                let node = name.clone();
                let api: Api<Pod> = Api::all(rt.client.clone());
                watcher(
                    api,
                    watcher::Config::default().fields(&format!("spec.nodeName={node}")),
                )
                .default_backoff()
                .map(move |ev| (node.clone(), ev))
                .boxed()
            })
            .collect();
        futures::stream::select_all(streams)
    }

    fn forget(&mut self, uid: &str) -> Result<(), SimError> {
        if let Some((node, _)) = self.known.remove(uid) {
            self.published.remove(uid);
            self.deleting.remove(uid);
            if let Some(rt) = self.nodes.get_mut(&node)
                && let Err(e) = rt.sim.remove_pod(uid)
            {
                tracing::warn!(node = %node, error = %e, "removing a pod's cgroups failed");
            }
        }
        Ok(())
    }

    fn on_pod_event(
        &mut self,
        stream_node: String,
        event: Result<watcher::Event<Pod>, watcher::Error>,
    ) -> Result<(), SimError> {
        let now = Timestamp::now();
        match event {
            Ok(watcher::Event::Init) => {
                self.relist.insert(stream_node, BTreeSet::new());
            }
            Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod)) => {
                let node = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default();
                let Some(uid) = pod.metadata.uid.clone() else {
                    return Ok(());
                };
                if let Some(seen) = self.relist.get_mut(&stream_node) {
                    seen.insert(uid.clone());
                }
                if let Some(rt) = self.nodes.get_mut(&node) {
                    rt.sim.upsert_pod(&pod, now);
                    self.known.insert(uid, (node, pod));
                }
            }
            Ok(watcher::Event::InitDone) => {
                // Pods deleted while the watch was down never sent a Delete: drop what the relist did not see.
                if let Some(seen) = self.relist.remove(&stream_node) {
                    let gone: Vec<String> = self
                        .known
                        .iter()
                        .filter(|(u, (n, _))| *n == stream_node && !seen.contains(*u))
                        .map(|(u, _)| u.clone())
                        .collect();
                    for uid in gone {
                        self.forget(&uid)?;
                    }
                }
            }
            Ok(watcher::Event::Delete(pod)) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    self.forget(uid)?;
                }
            }
            Err(e) => tracing::warn!(node = %stream_node, error = %e, "pod watch error"),
        }
        Ok(())
    }

    async fn renew_leases(&self) {
        let now = Timestamp::now();
        for (node, rt) in &self.nodes {
            let api: Api<Lease> = Api::namespaced(rt.client.clone(), "kube-node-lease");
            if let Err(e) = renew_lease(&api, node, rt.node_uid.as_deref(), 40, now).await {
                tracing::warn!(node = %node, error = %e, "lease renewal failed");
            }
        }
    }

    async fn heartbeat(&self) {
        let now = Timestamp::now();
        for rt in self.nodes.values() {
            let spec = &rt.sim.spec;
            let status = serde_json::json!({ "status": { "conditions": node_object(spec, now)["status"]["conditions"] } });
            let api: Api<Node> = Api::all(rt.client.clone());
            if let Err(e) = api
                .patch_status(&spec.name, &PatchParams::default(), &Patch::Merge(&status))
                .await
            {
                tracing::warn!(node = %spec.name, error = %e, "node status heartbeat failed");
            }
        }
    }

    async fn tick(&mut self) -> Result<(), SimError> {
        let now = Timestamp::now();
        let mut truths = Vec::with_capacity(self.nodes.len());
        for (node, rt) in &mut self.nodes {
            // A failed file write is logged, not fatal: the simulation already advanced, and the pods'
            // API status must keep flowing.
            let node_events = rt.sim.tick(now).unwrap_or_else(|e| {
                tracing::warn!(node = %node, error = %e, "writing the cgroup tree failed");
                Vec::new()
            });
            for ev in &node_events {
                match &ev.event {
                    NodeEventKind::Pod(e) => {
                        tracing::info!(node = %node, pod = %ev.pod, event = ?e, "container event")
                    }
                    other => {
                        tracing::info!(node = %node, pod = %ev.pod, event = ?other, "resize event")
                    }
                }
                if let Some((_, pod)) = self.known.get(&ev.uid)
                    && let Some(event) = kube_event(&ev.event)
                    && let Err(e) = rt.recorder.publish(&event, &pod.object_ref(&())).await
                {
                    tracing::warn!(pod = %ev.pod, error = %e, "publishing event failed");
                }
            }
            truths.push(rt.sim.truth());
        }
        self.publish_statuses(now).await;
        self.delete_finished().await;
        if let Some(path) = &self.config.truth_file
            && let Err(e) = write_truth(path, &truths)
        {
            tracing::warn!(path = %path.display(), error = %e, "writing ground truth failed");
        }
        if let Ok(mut t) = self.view.truth.lock() {
            *t = truths;
        }
        Ok(())
    }

    /// Patches `pods/status` for every pod whose status changed since the last successful update.
    async fn publish_statuses(&mut self, now: Timestamp) {
        for (uid, (node, pod)) in &self.known {
            let Some(rt) = self.nodes.get_mut(node) else {
                continue;
            };
            let Some(status) = rt.sim.status(uid, &carried_conditions(pod), now) else {
                continue;
            };
            let body = serde_json::json!({ "status": status });
            if self.published.get(uid) == Some(&body) {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(rt.client.clone(), &ns);
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
                .await
            {
                Ok(_) => {
                    self.published.insert(uid.clone(), body);
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    tracing::warn!(pod = %name, namespace = %ns, error = %e, "status update failed; retried next tick")
                }
            }
        }
    }

    /// Deletes (grace period 0, UID precondition) pods whose graceful termination finished, as the kubelet does.
    async fn delete_finished(&mut self) {
        for rt in self.nodes.values() {
            for (uid, ns, name) in rt.sim.finished_terminating() {
                if !self.deleting.insert(uid.clone()) {
                    continue;
                }
                let api: Api<Pod> = Api::namespaced(rt.client.clone(), &ns);
                let dp = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match api.delete(&name, &dp).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                    Err(e) => {
                        self.deleting.remove(&uid);
                        tracing::warn!(pod = %name, error = %e, "final pod deletion failed; retried next tick");
                    }
                }
            }
        }
    }
}

/// The Kubernetes Event the kubelet emits for a node event, if any (reasons as in `pkg/kubelet/events`).
fn kube_event(kind: &NodeEventKind) -> Option<Event> {
    let (type_, reason, action, note) = match kind {
        NodeEventKind::ResizeAccepted => (
            EventType::Normal,
            "ResizeStarted",
            "Resize",
            "Pod resize started".to_string(),
        ),
        NodeEventKind::ResizeCompleted => (
            EventType::Normal,
            "ResizeCompleted",
            "Resize",
            "Pod resize completed".to_string(),
        ),
        NodeEventKind::ResizePending { reason, message } => {
            let r = if reason == "Infeasible" {
                "ResizeInfeasible"
            } else {
                "ResizeDeferred"
            };
            (
                EventType::Warning,
                r,
                "Resize",
                format!("Pod resize {}: {message}", reason.to_lowercase()),
            )
        }
        NodeEventKind::ResizeError(m) => (EventType::Warning, "ResizeError", "Resize", m.clone()),
        NodeEventKind::Pod(crate::pod::PodEvent::Started { container, .. }) => (
            EventType::Normal,
            "Started",
            "Start",
            format!("Started container {container}"),
        ),
        NodeEventKind::Pod(crate::pod::PodEvent::Restarted {
            container, reason, ..
        }) => (
            EventType::Normal,
            "Killing",
            "Kill",
            format!("Container {container} {reason} requires restart, will be restarted"),
        ),
        NodeEventKind::Pod(crate::pod::PodEvent::OomKilled { .. }) => return None,
    };
    Some(Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    })
}

/// Runs the simulated kubelet until `shutdown` resolves: registers the nodes, then watches pods, ticks the
/// simulation, renews Leases every `lease_renew` and refreshes the Node conditions every minute.
pub async fn run(
    clients: Clients,
    config: SimConfig,
    view: SimView,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SimError> {
    let mut ticker = tokio::time::interval(config.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lease_ticker = tokio::time::interval(config.lease_renew);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(60));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut kubelet = tokio::select! {
        () = &mut shutdown => return Ok(()),
        k = Kubelet::register(&clients, config, view) => k?,
    };
    let mut events = kubelet.pod_events();
    loop {
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutting down simulated kubelet");
                return Ok(());
            }
            event = events.next() => {
                let Some((node, event)) = event else { return Ok(()) };
                kubelet.on_pod_event(node, event)?;
            }
            _ = lease_ticker.tick() => kubelet.renew_leases().await,
            _ = heartbeat.tick() => kubelet.heartbeat().await,
            _ = ticker.tick() => kubelet.tick().await?,
        }
    }
}
