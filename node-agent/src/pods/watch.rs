//! Watches the pods bound to this node and feeds the [`PodIndex`].
//!
//! The stream handling ([`WatchFeed`]) is separate from the kube client so tests can push synthetic watcher
//! events through exactly the code the agent runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::convert::pod_info;
use super::index::{PodIndex, PodInfo};

/// An OOM kill the pod status reported (`lastState.terminated.reason == OOMKilled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOomKill {
    pub pod_uid: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub container_id: String,
    pub finished_ms: Option<i64>,
}

/// Applies watcher events to a shared index.
#[derive(Debug)]
pub struct WatchFeed {
    index: Arc<Mutex<PodIndex>>,
    synced: Arc<AtomicBool>,
    init_buffer: Vec<PodInfo>,
}

impl WatchFeed {
    pub fn new(index: Arc<Mutex<PodIndex>>, synced: Arc<AtomicBool>) -> Self {
        Self {
            index,
            synced,
            init_buffer: Vec::new(),
        }
    }

    /// Handles one event; returns OOM kills newly reported by pod statuses.
    pub fn handle(&mut self, event: Event<Pod>) -> Vec<StatusOomKill> {
        let mut out = Vec::new();
        match event {
            Event::Apply(pod) => {
                if let Some(info) = pod_info(&pod) {
                    let (uid, ns, name) =
                        (info.uid.clone(), info.namespace.clone(), info.name.clone());
                    let ooms = lock(&self.index).apply(info);
                    out.extend(
                        ooms.into_iter()
                            .map(|(container, container_id, finished_ms)| StatusOomKill {
                                pod_uid: uid.clone(),
                                namespace: ns.clone(),
                                pod: name.clone(),
                                container,
                                container_id,
                                finished_ms,
                            }),
                    );
                }
            }
            Event::Delete(pod) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    lock(&self.index).delete(uid);
                }
            }
            Event::Init => self.init_buffer.clear(),
            Event::InitApply(pod) => self.init_buffer.extend(pod_info(&pod)),
            Event::InitDone => {
                let pods = std::mem::take(&mut self.init_buffer);
                info!(pods = pods.len(), "pod watch synced");
                lock(&self.index).replace_all(pods);
                self.synced.store(true, Ordering::Release);
            }
        }
        out
    }
}

/// Locks the index; a poisoned lock (a panic elsewhere while holding it) still holds consistent data because
/// every mutation is a few map operations, so recover it instead of propagating the panic.
pub fn lock(index: &Mutex<PodIndex>) -> std::sync::MutexGuard<'_, PodIndex> {
    index
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the watch until the stream ends (it does not: the watcher retries with backoff on errors).
pub async fn run(
    client: Client,
    node_name: String,
    mut feed: WatchFeed,
    ooms: mpsc::Sender<StatusOomKill>,
) {
    let api: Api<Pod> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                for oom in feed.handle(event) {
                    debug!(pod = %oom.pod, container = %oom.container, "pod status reports an OOM kill");
                    if ooms.send(oom).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => warn!(error = %e, "pod watch error; retrying with backoff"),
        }
    }
}
