//! What a review reads from the updater's reflector stores: the pod's workload (through the shared owner
//! walk), the VPA that targets it, and the namespace's LimitRange and quota. Nothing here calls the API.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{LimitRange as K8sLimitRange, Pod, ResourceQuota};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::owner::{OwnerError, OwnerStores, WorkloadRef, resolve_workload};

use crate::convert::cluster::{limit_range, quota_room};
use crate::stores::Stores;

use super::mutate::Namespace;

/// How often a review looks again for an owner the watch has not delivered yet.
const OWNER_POLL: Duration = Duration::from_millis(20);

/// Read-only views the webhook shares with the updater's control loop.
#[derive(Clone)]
pub struct ClusterView {
    pub vpas: Store<VerticalPodAutoscaler>,
    pub limit_ranges: Store<K8sLimitRange>,
    pub quotas: Store<ResourceQuota>,
    pub owners: OwnerStores,
}

impl std::fmt::Debug for ClusterView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterView").finish_non_exhaustive()
    }
}

impl From<&Stores> for ClusterView {
    fn from(s: &Stores) -> Self {
        Self {
            vpas: s.vpas.clone(),
            limit_ranges: s.limit_ranges.clone(),
            quotas: s.quotas.clone(),
            owners: s.owners.clone(),
        }
    }
}

/// A store holding `objects`, filled once and never watched.
fn fixed<K>(objects: Vec<K>) -> Store<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, mut writer) = reflector::store();
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(o));
    }
    store
}

impl ClusterView {
    /// A view over fixed objects, for component tests and benchmarks.
    pub fn from_objects(
        vpas: Vec<VerticalPodAutoscaler>,
        limit_ranges: Vec<K8sLimitRange>,
        quotas: Vec<ResourceQuota>,
        replica_sets: Vec<PartialObjectMeta<ReplicaSet>>,
    ) -> Self {
        Self {
            vpas: fixed(vpas),
            limit_ranges: fixed(limit_ranges),
            quotas: fixed(quotas),
            owners: OwnerStores {
                replica_sets: fixed(replica_sets),
                jobs: fixed(Vec::<PartialObjectMeta<Job>>::new()),
            },
        }
    }

    /// The pod's workload. A ReplicaSet or Job created a moment ago may not be in the watch cache yet: look
    /// again until `wait` has passed.
    pub async fn workload(
        &self,
        namespace: &str,
        pod: &Pod,
        wait: Duration,
    ) -> Result<WorkloadRef, OwnerError> {
        // Pods of controllers have only generateName at admission; the name matters only for bare pods.
        let name = pod
            .metadata
            .name
            .as_deref()
            .or(pod.metadata.generate_name.as_deref())
            .unwrap_or_default();
        let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
        let deadline = Instant::now() + wait;
        loop {
            match resolve_workload(namespace, name, owners, &self.owners) {
                Err(OwnerError::UnknownOwner { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(OWNER_POLL).await;
                }
                done => return done,
            }
        }
    }

    /// The VPA that targets `workload`: the earliest created, as the control loop and the upstream VPA pick.
    pub fn vpa_for(&self, workload: &WorkloadRef) -> Option<Arc<VerticalPodAutoscaler>> {
        let targets = |v: &VerticalPodAutoscaler| {
            v.spec.target_ref.name == workload.name
                && v.spec.target_ref.kind == workload.kind
                && v.metadata.namespace.as_deref() == Some(workload.namespace.as_str())
        };
        // One scan that copies nothing settles which VPA wins (most pods have none); a second, stopping at the
        // winner, hands it out.
        let best: RefCell<Option<(Option<i64>, String)>> = RefCell::new(None);
        // The predicate never matches: `find` is only the copy-free way to visit every VPA.
        let _never = self.vpas.find(|v| {
            if targets(v) {
                let key = (
                    v.metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.as_millisecond()),
                    v.metadata.name.clone().unwrap_or_default(),
                );
                let mut best = best.borrow_mut();
                if best.as_ref().is_none_or(|b| key < *b) {
                    *best = Some(key);
                }
            }
            false
        });
        let (_, name) = best.into_inner()?;
        self.vpas
            .find(|v| targets(v) && v.metadata.name.as_deref() == Some(name.as_str()))
    }

    /// The namespace's merged LimitRange and free quota.
    pub fn namespace(&self, namespace: &str) -> Namespace {
        let in_ns = |ns: Option<&str>| ns == Some(namespace);
        let ranges: Vec<Arc<K8sLimitRange>> = self
            .limit_ranges
            .state()
            .into_iter()
            .filter(|r| in_ns(r.metadata.namespace.as_deref()))
            .collect();
        let quotas: Vec<Arc<ResourceQuota>> = self
            .quotas
            .state()
            .into_iter()
            .filter(|q| in_ns(q.metadata.namespace.as_deref()))
            .collect();
        Namespace {
            limit_range: limit_range(ranges.iter().map(Arc::as_ref)),
            quota: quota_room(quotas.iter().map(Arc::as_ref)),
        }
    }
}
