//! Watches: VPAs, nodes, and ReplicaSet/Job metadata into reflector stores; pods straight into the pod index.
//! Each watch marks its readiness handle once its first list is complete.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tailor_core::estimate::Resources;
use tailor_k8s::admin::{Readiness, ReadinessHandle};
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::owner::{OwnerLookup, OwnerStores};
use tailor_k8s::quantity::parse_resources;
use tailor_k8s::watch::spawn_reflector;
use tokio_util::sync::CancellationToken;

use crate::ingest::{self, Clock, apply};
use crate::metrics::Metrics;
use crate::state::Shared;

/// Read-only views of the cluster the recommendation pass uses.
#[derive(Clone)]
pub struct Stores {
    /// VPAs.
    pub vpas: Store<VerticalPodAutoscaler>,
    /// Nodes (for the largest allocatable).
    pub nodes: Store<Node>,
    /// ReplicaSet and Job metadata, for owner resolution.
    owners: OwnerStores,
}

impl Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

impl OwnerLookup for Stores {
    fn owner_references(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Vec<OwnerReference>> {
        self.owners.owner_references(kind, namespace, name)
    }
}

impl Stores {
    /// Stores that know nothing, for tests that feed pods whose owners need no lookup.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        use kube::runtime::reflector::store;
        Self {
            vpas: store().0,
            nodes: store().0,
            owners: OwnerStores {
                replica_sets: store().0,
                jobs: store().0,
            },
        }
    }

    /// The component-wise largest allocatable CPU and memory over all nodes, if any node is known.
    pub fn largest_node(&self) -> Option<Resources> {
        self.nodes
            .state()
            .iter()
            .filter_map(|n| n.status.as_ref()?.allocatable.as_ref().map(parse_resources))
            .map(|r| Resources::new(r.cpu.unwrap_or_default(), r.memory.unwrap_or_default()))
            .reduce(Resources::max)
    }
}

/// What the pod watch needs besides the pod index: report entries parked for a pod are applied as soon as an
/// update makes the pod attributable.
#[derive(Clone)]
pub struct PodFeed {
    /// Model, pod index and parked entries.
    pub shared: Arc<Shared>,
    /// Where applied parked entries are counted.
    pub metrics: Metrics,
    /// The time source.
    pub clock: Clock,
}

impl Debug for PodFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodFeed").finish_non_exhaustive()
    }
}

/// Starts every watch. Pods feed `feed`'s pod index (and resolve owners through the returned stores).
pub fn start(
    client: &Client,
    readiness: &Readiness,
    shutdown: &CancellationToken,
    feed: PodFeed,
) -> Stores {
    let cfg = watcher::Config::default;
    let replica_sets = spawn_reflector(
        "replicasets",
        watcher(
            Api::<PartialObjectMeta<ReplicaSet>>::all(client.clone()),
            cfg(),
        ),
        readiness.handle("replicasets"),
        shutdown.clone(),
        None,
    );
    let jobs = spawn_reflector(
        "jobs",
        watcher(Api::<PartialObjectMeta<Job>>::all(client.clone()), cfg()),
        readiness.handle("jobs"),
        shutdown.clone(),
        None,
    );
    let vpas = spawn_reflector(
        "vpas",
        watcher(Api::<VerticalPodAutoscaler>::all(client.clone()), cfg()),
        readiness.handle("vpas"),
        shutdown.clone(),
        None,
    );
    let nodes = spawn_reflector(
        "nodes",
        watcher(Api::<Node>::all(client.clone()), cfg()),
        readiness.handle("nodes"),
        shutdown.clone(),
        None,
    );
    let stores = Stores {
        vpas,
        nodes,
        owners: OwnerStores { replica_sets, jobs },
    };
    let pods = watcher(Api::<Pod>::all(client.clone()), cfg().any_semantic()).default_backoff();
    tokio::spawn(feed_pods(
        pods,
        stores.clone(),
        feed,
        readiness.handle("pods"),
        shutdown.clone(),
    ));
    stores
}

/// Applies pod watch events to the pod index; after a re-list, pods that were not listed are dropped.
pub async fn feed_pods<S>(
    stream: S,
    lookup: Stores,
    feed: PodFeed,
    ready: ReadinessHandle,
    shutdown: CancellationToken,
) where
    S: Stream<Item = Result<watcher::Event<Pod>, watcher::Error>> + Send,
{
    let shared = &feed.shared;
    let mut stream = std::pin::pin!(stream);
    let mut listed: Option<HashSet<String>> = None;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = stream.next() => event,
        };
        match event {
            None => break,
            Some(Err(error)) => tracing::warn!(watch = "pods", %error, "watch error; retrying"),
            Some(Ok(watcher::Event::Init)) => listed = Some(HashSet::new()),
            Some(Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod))) => {
                if let (Some(seen), Some(uid)) = (listed.as_mut(), pod.metadata.uid.as_ref()) {
                    seen.insert(uid.clone());
                }
                shared.pods_mut().apply(&pod, &lookup);
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    unpark(&feed, uid);
                }
            }
            Some(Ok(watcher::Event::Delete(pod))) => {
                let Some(uid) = pod.metadata.uid.as_deref() else {
                    continue;
                };
                if let Some(workload) = shared.pods_mut().delete(uid).and_then(|p| p.workload) {
                    shared.model().forget_pod(&workload, uid);
                }
            }
            Some(Ok(watcher::Event::InitDone)) => {
                if let Some(seen) = listed.take() {
                    let mut pods = shared.pods_mut();
                    let gone: Vec<String> = pods
                        .uids()
                        .filter(|uid| !seen.contains(*uid))
                        .map(str::to_owned)
                        .collect();
                    for uid in gone {
                        pods.delete(&uid);
                    }
                }
                ready.set_ready();
            }
        }
    }
}

fn unpark(feed: &PodFeed, uid: &str) {
    let applied = apply::unpark_pod(&feed.shared, uid, (feed.clock)());
    if applied.unparked == 0 {
        return;
    }
    ingest::record(&feed.metrics, &feed.shared, &applied);
    if applied.ooms > 0 {
        feed.shared.urgent.notify_one();
    }
}
