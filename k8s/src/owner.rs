//! Owner resolution: which workload a pod belongs to. Pods are grouped by their topmost well-known
//! controller (pod → ReplicaSet → Deployment, pod → Job → CronJob, StatefulSet, DaemonSet, or the pod itself),
//! so history is keyed by workload and survives pod churn and rollouts.
//!
//! The walk is a pure function over owner references plus a lookup of intermediate owners, so it is tested
//! without an API server; the binaries back the lookup with reflector stores.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

/// The intermediate owners the walk looks up (ReplicaSets and Jobs), backed by metadata-only reflector stores:
/// the one lookup both the recommender and the updater use.
#[derive(Clone)]
pub struct OwnerStores {
    pub replica_sets: Store<PartialObjectMeta<ReplicaSet>>,
    pub jobs: Store<PartialObjectMeta<Job>>,
}

impl std::fmt::Debug for OwnerStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerStores").finish_non_exhaustive()
    }
}

impl OwnerLookup for OwnerStores {
    fn owner_references(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Vec<OwnerReference>> {
        let meta = match kind {
            "ReplicaSet" => self
                .replica_sets
                .get(&ObjectRef::new(name).within(namespace))?
                .metadata
                .clone(),
            "Job" => self
                .jobs
                .get(&ObjectRef::new(name).within(namespace))?
                .metadata
                .clone(),
            _ => return None,
        };
        Some(meta.owner_references.unwrap_or_default())
    }
}

/// A workload: the unit history and recommendations are kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadRef {
    /// Namespace of the workload (and of its pods).
    pub namespace: String,
    /// Kind of the top controller (`Deployment`, `StatefulSet`, ..., or `Pod` for a bare pod).
    pub kind: String,
    /// Name of the top controller.
    pub name: String,
}

impl WorkloadRef {
    /// The core model's key for this workload.
    pub fn key(&self) -> tailor_core::model::WorkloadKey {
        tailor_core::model::WorkloadKey::new(
            self.namespace.clone(),
            tailor_core::model::WorkloadKind::from(self.kind.as_str()),
            self.name.clone(),
        )
    }
}

/// Kinds whose controller, if any, is the real workload.
const INTERMEDIATE_KINDS: &[&str] = &["ReplicaSet", "Job"];

/// Looks up the owner references of an intermediate owner (a ReplicaSet or a Job).
pub trait OwnerLookup {
    /// The owner references of `kind`/`name` in `namespace`, or `None` when that object is not known (yet).
    fn owner_references(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Vec<OwnerReference>>;
}

/// Why a pod's workload could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    /// The pod's controller is not in the cache yet; retry once the watch catches up.
    #[error("{kind} {namespace}/{name} is not known yet")]
    UnknownOwner {
        /// Kind of the missing owner.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// The controlling owner among `refs` (the one with `controller: true`).
pub fn controller_of(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller == Some(true))
}

/// The workload of pod `namespace`/`pod_name` with owner references `pod_owners`.
///
/// A ReplicaSet or Job is replaced by its own controller when it has one (Deployment, CronJob, or any
/// other controller such as an Argo Rollout); a ReplicaSet or Job without one is the workload itself.
pub fn resolve_workload(
    namespace: &str,
    pod_name: &str,
    pod_owners: &[OwnerReference],
    lookup: &impl OwnerLookup,
) -> Result<WorkloadRef, OwnerError> {
    let workload = |kind: &str, name: &str| WorkloadRef {
        namespace: namespace.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
    };
    let Some(owner) = controller_of(pod_owners) else {
        return Ok(workload("Pod", pod_name));
    };
    if !INTERMEDIATE_KINDS.contains(&owner.kind.as_str()) {
        return Ok(workload(&owner.kind, &owner.name));
    }
    let refs = lookup
        .owner_references(&owner.kind, namespace, &owner.name)
        .ok_or_else(|| OwnerError::UnknownOwner {
            kind: owner.kind.clone(),
            namespace: namespace.to_owned(),
            name: owner.name.clone(),
        })?;
    Ok(match controller_of(&refs) {
        Some(top) => workload(&top.kind, &top.name),
        None => workload(&owner.kind, &owner.name),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn owner(kind: &str, name: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    #[derive(Default)]
    struct Fake(HashMap<(String, String), Vec<OwnerReference>>);

    impl Fake {
        fn with(mut self, kind: &str, name: &str, owners: Vec<OwnerReference>) -> Self {
            self.0.insert((kind.into(), name.into()), owners);
            self
        }
    }

    impl OwnerLookup for Fake {
        fn owner_references(
            &self,
            kind: &str,
            _namespace: &str,
            name: &str,
        ) -> Option<Vec<OwnerReference>> {
            self.0.get(&(kind.to_owned(), name.to_owned())).cloned()
        }
    }

    fn resolve(owners: &[OwnerReference], lookup: &Fake) -> Result<(String, String), OwnerError> {
        resolve_workload("ns", "pod-x", owners, lookup).map(|w| (w.kind, w.name))
    }

    fn pair(kind: &str, name: &str) -> Result<(String, String), OwnerError> {
        Ok((kind.into(), name.into()))
    }

    #[test]
    fn deployment_through_replicaset() {
        let lookup = Fake::default().with(
            "ReplicaSet",
            "web-5d9",
            vec![owner("Deployment", "web", true)],
        );
        assert_eq!(
            resolve(&[owner("ReplicaSet", "web-5d9", true)], &lookup),
            pair("Deployment", "web")
        );
    }

    #[test]
    fn cronjob_through_job() {
        let lookup =
            Fake::default().with("Job", "nightly-29", vec![owner("CronJob", "nightly", true)]);
        assert_eq!(
            resolve(&[owner("Job", "nightly-29", true)], &lookup),
            pair("CronJob", "nightly")
        );
    }

    #[test]
    fn bare_replicaset_and_job_are_workloads() {
        let lookup = Fake::default().with("ReplicaSet", "rs", vec![]).with(
            "Job",
            "once",
            vec![owner("X", "y", false)],
        );
        assert_eq!(
            resolve(&[owner("ReplicaSet", "rs", true)], &lookup),
            pair("ReplicaSet", "rs")
        );
        assert_eq!(
            resolve(&[owner("Job", "once", true)], &lookup),
            pair("Job", "once")
        );
    }

    #[test]
    fn direct_controllers() {
        let lookup = Fake::default();
        assert_eq!(
            resolve(&[owner("StatefulSet", "db", true)], &lookup),
            pair("StatefulSet", "db")
        );
        assert_eq!(
            resolve(&[owner("DaemonSet", "agent", true)], &lookup),
            pair("DaemonSet", "agent")
        );
    }

    #[test]
    fn custom_controller_above_a_replicaset() {
        let lookup = Fake::default().with("ReplicaSet", "r-1", vec![owner("Rollout", "r", true)]);
        assert_eq!(
            resolve(&[owner("ReplicaSet", "r-1", true)], &lookup),
            pair("Rollout", "r")
        );
    }

    #[test]
    fn bare_pod_and_non_controller_owners() {
        let lookup = Fake::default();
        assert_eq!(resolve(&[], &lookup), pair("Pod", "pod-x"));
        assert_eq!(
            resolve(&[owner("ConfigMap", "c", false)], &lookup),
            pair("Pod", "pod-x")
        );
    }

    #[test]
    fn unknown_intermediate_owner_is_an_error_to_retry() {
        let err =
            resolve(&[owner("ReplicaSet", "gone", true)], &Fake::default()).expect_err("unknown");
        assert_eq!(
            err,
            OwnerError::UnknownOwner {
                kind: "ReplicaSet".into(),
                namespace: "ns".into(),
                name: "gone".into()
            }
        );
    }
}
