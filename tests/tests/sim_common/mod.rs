//! Helpers shared by the simulated-kubelet end-to-end tests (`sim_*.rs`): start the simulator in-process
//! against a real control plane, wait for conditions, read the simulated cgroup files.
#![allow(dead_code)]

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tailor_sim::cli::Args;
use tailor_sim::kubelet::{Clients, SimView, node_cgroup_root, run};
use tailor_sim::naming::{CgroupDriver, ContainerId, Naming, QosClass, Runtime};
use tokio::sync::oneshot;

/// A simulated kubelet running in this process until dropped.
#[derive(Debug)]
pub struct Sim {
    pub root: tempfile::TempDir,
    pub view: SimView,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tailor_sim::kubelet::SimError>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

impl Sim {
    /// Starts nodes `names`, each acting with its own kubelet identity (`system:node:<name>`, so the Node
    /// authorizer and NodeRestriction check it), with `cpu` and `memory` capacity, fast start/ready delays and
    /// a 250 ms tick.
    pub async fn start(
        cp: &tailor_tests::ControlPlane,
        names: &[&str],
        cpu: &str,
        memory: &str,
    ) -> Result<Self> {
        Self::start_with(cp, names, cpu, memory, &[]).await
    }

    /// [`Sim::start`] with extra simulator flags (e.g. `--resize-hold-cpu=1`).
    pub async fn start_with(
        cp: &tailor_tests::ControlPlane,
        names: &[&str],
        cpu: &str,
        memory: &str,
        extra: &[&str],
    ) -> Result<Self> {
        let mut clients = std::collections::BTreeMap::new();
        for name in names {
            clients.insert(name.to_string(), cp.node_client(name).await?);
        }
        let root = tempfile::Builder::new()
            .prefix("tailor-sim-cgroup-")
            .tempdir_in(tailor_sim::cgroup::tree::scratch_parent())?;
        let args = Args::parse_from_iter(
            [
                "tailor-sim-kubelet".to_string(),
                format!("--node-names={}", names.join(",")),
                format!("--cpu={cpu}"),
                format!("--memory={memory}"),
                format!("--cgroup-root={}", root.path().display()),
                "--start-delay-ms=300".into(),
                "--ready-delay-ms=500".into(),
                "--crash-backoff-ms=2000".into(),
                "--tick-ms=250".into(),
            ]
            .into_iter()
            .chain(extra.iter().map(|e| e.to_string())),
        )?;
        let config = args.to_config()?;
        let view = SimView::default();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(run(
            Clients::PerNode(clients),
            config,
            view.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Sim {
            root,
            view,
            stop: Some(tx),
            task,
        })
    }

    /// The cgroup root of one node.
    pub fn node_root(&self, node: &str) -> PathBuf {
        node_cgroup_root(self.root.path(), node)
    }

    /// The container cgroup of a pod's container as the simulator names it (systemd + containerd).
    pub fn container_dir(&self, pod: &Pod, container: &str) -> Result<PathBuf> {
        let (node, qos, uid) = placement(pod)?;
        let status = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .context("no container statuses")?;
        let cs = status
            .iter()
            .find(|c| c.name == container)
            .context("container status missing")?;
        let id = cs
            .container_id
            .as_deref()
            .and_then(|s| s.strip_prefix("containerd://"))
            .context("no containerd:// id")?;
        let id: ContainerId = serde_json::from_value(serde_json::Value::String(id.to_string()))?;
        Ok(self
            .node_root(&node)
            .join(naming().container_dir(qos, &uid, &id)))
    }

    /// The pod-level cgroup.
    pub fn pod_dir(&self, pod: &Pod) -> Result<PathBuf> {
        let (node, qos, uid) = placement(pod)?;
        Ok(self.node_root(&node).join(naming().pod_dir(qos, &uid)))
    }
}

fn naming() -> Naming {
    Naming {
        driver: CgroupDriver::Systemd,
        runtime: Runtime::Containerd,
    }
}

/// Where the simulator put a pod's cgroups: its node, QoS class and UID.
fn placement(pod: &Pod) -> Result<(String, QosClass, String)> {
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .context("pod not bound")?;
    let qos = pod
        .status
        .as_ref()
        .and_then(|s| s.qos_class.as_deref())
        .and_then(QosClass::parse)
        .context("no qosClass")?;
    let uid = pod.metadata.uid.clone().context("no uid")?;
    Ok((node, qos, uid))
}

/// Reads one key of a flat keyed cgroup file.
pub fn read_key(path: &Path, key: &str) -> Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .with_context(|| format!("{key} missing in {}", path.display()))
}

/// Polls `check` until it yields `Some`, or fails with the last observation.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Creates a pod from JSON, retrying while the namespace's default ServiceAccount does not exist yet.
pub async fn create_pod(api: &Api<Pod>, value: serde_json::Value) -> Result<Pod> {
    let pod: Pod = serde_json::from_value(value)?;
    eventually("pod creation", Duration::from_secs(30), || {
        let pod = pod.clone();
        async move {
            // Retried: the namespace's default ServiceAccount may not exist yet right after start-up.
            api.create(&PostParams::default(), &pod)
                .await
                .map(Some)
                .map_err(anyhow::Error::from)
        }
    })
    .await
}

/// Waits until the pod is Running with every container ready, and returns it.
pub async fn wait_ready(api: &Api<Pod>, name: &str) -> Result<Pod> {
    eventually(
        &format!("pod {name} ready"),
        Duration::from_secs(60),
        || async move {
            let p = api.get(name).await?;
            let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let ready = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready));
            Ok((running && ready).then_some(p))
        },
    )
    .await
}

/// A condition of the pod, if present.
pub fn condition<'a>(
    pod: &'a Pod,
    kind: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

/// `containerStatuses[0]` field accessors.
pub fn restart_count(pod: &Pod) -> i32 {
    first_status(pod).map_or(-1, |c| c.restart_count)
}

pub fn container_id(pod: &Pod) -> Option<String> {
    first_status(pod).and_then(|c| c.container_id.clone())
}

pub fn status_limit(pod: &Pod, resource: &str) -> Option<String> {
    first_status(pod)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get(resource)
        .map(|q| q.0.clone())
}

pub fn first_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}
