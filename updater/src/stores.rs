//! Reflector stores for everything a pass reads, each fed by its own watch. "Streams in, state out": the pass
//! only reads snapshots, so tests and the pass logic never see a watch.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{LimitRange, Node, Pod, ResourceQuota};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tailor_k8s::admin::Readiness;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::owner::{OwnerLookup, OwnerStores};
use tailor_k8s::watch::{OnApply, spawn_reflector};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::oom::{boosted, recently_oom_killed, starting};

/// Read-only views of the cluster.
#[derive(Clone)]
pub struct Stores {
    pub pods: Store<Pod>,
    pub vpas: Store<VerticalPodAutoscaler>,
    pub nodes: Store<Node>,
    pub limit_ranges: Store<LimitRange>,
    pub quotas: Store<ResourceQuota>,
    pub pdbs: Store<PodDisruptionBudget>,
    /// ReplicaSet and Job metadata, for owner resolution.
    pub owners: OwnerStores,
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
    ) -> Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>> {
        self.owners.owner_references(kind, namespace, name)
    }
}

fn all<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + DeserializeOwned,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

impl Stores {
    /// Starts every watch. `wake` is notified when a pod was just OOM-killed, is starting or is boosted, so the
    /// pass runs at once.
    pub fn start(
        client: &Client,
        namespace: Option<&str>,
        readiness: &Readiness,
        shutdown: &CancellationToken,
        wake: Arc<Notify>,
    ) -> Self {
        let cfg = watcher::Config::default();
        let on_pod: OnApply<Pod> = Arc::new(move |pod: &Pod| {
            if recently_oom_killed(pod) || starting(pod) || boosted(pod) {
                wake.notify_one();
            }
        });
        Self {
            pods: spawn_reflector(
                "pods",
                watcher(all::<Pod>(client, namespace), cfg.clone()),
                readiness.handle("watch pods"),
                shutdown.clone(),
                Some(on_pod),
            ),
            vpas: spawn_reflector(
                "verticalpodautoscalers",
                watcher(all::<VerticalPodAutoscaler>(client, namespace), cfg.clone()),
                readiness.handle("watch verticalpodautoscalers"),
                shutdown.clone(),
                None,
            ),
            nodes: spawn_reflector(
                "nodes",
                watcher(Api::<Node>::all(client.clone()), cfg.clone()),
                readiness.handle("watch nodes"),
                shutdown.clone(),
                None,
            ),
            limit_ranges: spawn_reflector(
                "limitranges",
                watcher(all::<LimitRange>(client, namespace), cfg.clone()),
                readiness.handle("watch limitranges"),
                shutdown.clone(),
                None,
            ),
            quotas: spawn_reflector(
                "resourcequotas",
                watcher(all::<ResourceQuota>(client, namespace), cfg.clone()),
                readiness.handle("watch resourcequotas"),
                shutdown.clone(),
                None,
            ),
            pdbs: spawn_reflector(
                "poddisruptionbudgets",
                watcher(all::<PodDisruptionBudget>(client, namespace), cfg.clone()),
                readiness.handle("watch poddisruptionbudgets"),
                shutdown.clone(),
                None,
            ),
            owners: OwnerStores {
                replica_sets: spawn_reflector(
                    "replicasets",
                    watcher(
                        all::<PartialObjectMeta<ReplicaSet>>(client, namespace),
                        cfg.clone(),
                    ),
                    readiness.handle("watch replicasets"),
                    shutdown.clone(),
                    None,
                ),
                jobs: spawn_reflector(
                    "jobs",
                    watcher(all::<PartialObjectMeta<Job>>(client, namespace), cfg),
                    readiness.handle("watch jobs"),
                    shutdown.clone(),
                    None,
                ),
            },
        }
    }
}
