//! The working-set source that lets the planner lower a memory limit: the resource metrics API
//! (`metrics.k8s.io/v1beta1` `PodMetrics`, served by metrics-server or any compatible adapter), whose container
//! memory usage *is* the working set (memory.current − inactive_file, as the kubelet and the OOM decision see
//! it).
//!
//! Why this source: the VPA status cannot carry per-pod usage, and the recommender's checkpoints and
//! histograms are per workload and minutes old; a limit must stay above *this* pod's working set *now*. The
//! metrics API is per pod, at most one scrape (15–60 s) old, and already installed on most clusters.
//!
//! The rule stays: without a fresh figure for a container (no metrics API, no RBAC for it, or a sample older
//! than [`FRESH_MS`]) its memory limit is never lowered. A figure is used with the planner's margin
//! (`memory_limit_margin_*`, default +10 % and at least 32 MiB), and the kubelet (1.34+) still refuses a
//! decrease below usage at actuation, which the planner turns into a revert and a back-off.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::Deserialize;
use tailor_core::plan::PodView;
use tailor_core::quantity::Bytes;
use tailor_core::time::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::convert::timestamp;

/// A working-set sample older than this is not used.
pub const FRESH_MS: i64 = 180_000;

/// One pod's container working sets at `at` (the sample's end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodUsage {
    pub at: Timestamp,
    /// Bytes, by container name.
    pub containers: HashMap<String, i64>,
}

/// By `namespace/pod`.
pub type UsageMap = HashMap<String, PodUsage>;

/// The latest figures, shared between the poller and the planning loop (swapped whole, read as a snapshot).
#[derive(Debug, Clone, Default)]
pub struct WorkingSets(Arc<RwLock<Arc<UsageMap>>>);

impl WorkingSets {
    /// The latest figures (cheap: an `Arc` clone).
    pub fn current(&self) -> Arc<UsageMap> {
        self.0.read().map(|g| Arc::clone(&g)).unwrap_or_default()
    }

    pub fn replace(&self, map: UsageMap) {
        if let Ok(mut g) = self.0.write() {
            *g = Arc::new(map);
        }
    }
}

pub fn key(namespace: &str, pod: &str) -> String {
    format!("{namespace}/{pod}")
}

#[derive(Debug, Deserialize)]
struct PodMetrics {
    metadata: Meta,
    timestamp: Time,
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    name: String,
    namespace: String,
}

#[derive(Debug, Deserialize)]
struct ContainerMetrics {
    name: String,
    #[serde(default)]
    usage: BTreeMap<String, Quantity>,
}

/// Reads one `PodMetrics` object into its `namespace/pod` key and figures.
pub fn parse_pod_metrics(v: serde_json::Value) -> Result<(String, PodUsage), serde_json::Error> {
    let m: PodMetrics = serde_json::from_value(v)?;
    let containers = m
        .containers
        .into_iter()
        .filter_map(|c| {
            let q = c.usage.get("memory")?;
            let b = Bytes::parse_non_negative(&q.0).ok()?;
            Some((c.name, b.0))
        })
        .collect();
    Ok((
        key(&m.metadata.namespace, &m.metadata.name),
        PodUsage {
            at: timestamp(&m.timestamp),
            containers,
        },
    ))
}

/// Sets the working set of every container of `view` that has a fresh figure at `now`.
pub fn apply(view: &mut PodView, usage: &UsageMap, now: Timestamp) {
    let Some(u) = usage.get(&key(&view.namespace, &view.name)) else {
        return;
    };
    let age = now.unix_millis().saturating_sub(u.at.unix_millis());
    if !(0..=FRESH_MS).contains(&age) {
        return;
    }
    for c in &mut view.containers {
        if let Some(b) = u.containers.get(&c.name) {
            c.working_set = Some(Bytes(*b));
        }
    }
}

fn pod_metrics_api(client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "pods");
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Lists pod metrics every `interval` until `shutdown`. A missing API or a refusal is reported once (at
/// start and whenever it changes) and leaves the figures empty, so memory limits are simply not lowered.
pub async fn poll(
    client: kube::Client,
    namespace: Option<String>,
    interval: Duration,
    sets: WorkingSets,
    shutdown: CancellationToken,
) {
    let api = pod_metrics_api(&client, namespace.as_deref());
    let mut available: Option<bool> = None;
    loop {
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                let mut map = UsageMap::with_capacity(list.items.len());
                for obj in list.items {
                    let value = match serde_json::to_value(&obj) {
                        Ok(v) => v,
                        Err(_) => continue,
                    };
                    match parse_pod_metrics(value) {
                        Ok((k, u)) => {
                            map.insert(k, u);
                        }
                        Err(error) => tracing::debug!(%error, "skipping a PodMetrics object"),
                    }
                }
                if available != Some(true) {
                    tracing::info!(
                        pods = map.len(),
                        "working sets from the metrics API: memory limits may be lowered above them"
                    );
                    available = Some(true);
                }
                sets.replace(map);
            }
            Err(error) => {
                if available != Some(false) {
                    tracing::warn!(%error, "no working sets from the metrics API (metrics.k8s.io pods list): memory limits are not lowered");
                    available = Some(false);
                }
                sets.replace(UsageMap::new());
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
