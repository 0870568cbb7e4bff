//! What the recommender knows about pods: where they run, which workload they belong to and what they request.
//! Fed by a pod watch ("streams in, state out"), read by report ingestion and the recommendation pass.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use tailor_core::model::WorkloadKey;
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_k8s::owner::{OwnerLookup, resolve_workload};
use tailor_k8s::quantity::parse_resources;

/// Requests and limits of one container (what the kubelet applied, where the status says).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerResources {
    /// Container name.
    pub name: String,
    /// CPU request.
    pub cpu_request: Option<MilliCpu>,
    /// Memory request.
    pub memory_request: Option<Bytes>,
    /// CPU limit.
    pub cpu_limit: Option<MilliCpu>,
    /// Memory limit.
    pub memory_limit: Option<Bytes>,
}

/// One pod, as far as the recommender cares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Node it is bound to.
    pub node: Option<String>,
    /// Controller owner references.
    pub owners: Vec<OwnerReference>,
    /// The workload, once resolved.
    pub workload: Option<WorkloadKey>,
    /// App containers (init containers are not recommended for, as upstream).
    pub containers: Vec<ContainerResources>,
    /// Whether the pod has finished (Succeeded/Failed).
    pub finished: bool,
}

impl PodInfo {
    /// Reads a pod object. Returns `None` without a UID.
    pub fn from_pod(pod: &Pod) -> Option<(String, Self)> {
        let meta = &pod.metadata;
        let uid = meta.uid.clone()?;
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let statuses: &[ContainerStatus] = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or(&[]);
        let containers = spec
            .map(|s| {
                s.containers
                    .iter()
                    .map(|c| container_resources(c, statuses))
                    .collect()
            })
            .unwrap_or_default();
        let phase = status.and_then(|s| s.phase.as_deref());
        Some((
            uid,
            Self {
                namespace: meta.namespace.clone().unwrap_or_default(),
                name: meta.name.clone().unwrap_or_default(),
                node: spec.and_then(|s| s.node_name.clone()),
                owners: meta.owner_references.clone().unwrap_or_default(),
                workload: None,
                containers,
                finished: matches!(phase, Some("Succeeded" | "Failed")),
            },
        ))
    }

    /// The resources of container `name`.
    pub fn container(&self, name: &str) -> Option<&ContainerResources> {
        self.containers.iter().find(|c| c.name == name)
    }
}

fn container_resources(c: &Container, statuses: &[ContainerStatus]) -> ContainerResources {
    // The status carries what the kubelet actually applied (in-place resize aware), as upstream reads it.
    let applied: Option<&ResourceRequirements> = statuses
        .iter()
        .find(|s| s.name == c.name)
        .and_then(|s| s.resources.as_ref());
    let resources = applied.or(c.resources.as_ref());
    let requests = resources
        .and_then(|r| r.requests.as_ref())
        .map(parse_resources)
        .unwrap_or_default();
    let limits = resources
        .and_then(|r| r.limits.as_ref())
        .map(parse_resources)
        .unwrap_or_default();
    ContainerResources {
        name: c.name.clone(),
        cpu_request: requests.cpu,
        memory_request: requests.memory,
        cpu_limit: limits.cpu,
        memory_limit: limits.memory,
    }
}

/// All pods by UID, with a workload → pods index.
#[derive(Debug, Default)]
pub struct PodIndex {
    pods: HashMap<String, PodInfo>,
    by_workload: HashMap<WorkloadKey, BTreeSet<String>>,
}

impl PodIndex {
    /// Adds or replaces a pod, resolving its workload if the owner lookup can.
    pub fn apply(&mut self, pod: &Pod, lookup: &impl OwnerLookup) {
        let Some((uid, mut info)) = PodInfo::from_pod(pod) else {
            return;
        };
        info.workload = resolve_workload(&info.namespace, &info.name, &info.owners, lookup)
            .ok()
            .map(|w| w.key());
        self.insert(uid, info);
    }

    /// Adds or replaces an already-read pod.
    pub fn insert(&mut self, uid: String, info: PodInfo) {
        self.unlink(&uid);
        if let Some(w) = &info.workload {
            self.by_workload
                .entry(w.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.pods.insert(uid, info);
    }

    /// Removes a pod; returns what was known about it.
    pub fn delete(&mut self, uid: &str) -> Option<PodInfo> {
        self.unlink(uid);
        self.pods.remove(uid)
    }

    fn unlink(&mut self, uid: &str) {
        if let Some(w) = self.pods.get(uid).and_then(|p| p.workload.clone())
            && let Some(set) = self.by_workload.get_mut(&w)
        {
            set.remove(uid);
            if set.is_empty() {
                self.by_workload.remove(&w);
            }
        }
    }

    /// Retries owner resolution of pods whose owner was not known when they arrived.
    pub fn resolve_pending(&mut self, lookup: &impl OwnerLookup) {
        let pending: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.workload.is_none())
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in pending {
            if let Some(mut info) = self.pods.get(&uid).cloned() {
                info.workload = resolve_workload(&info.namespace, &info.name, &info.owners, lookup)
                    .ok()
                    .map(|w| w.key());
                if info.workload.is_some() {
                    self.insert(uid, info);
                }
            }
        }
    }

    /// Replaces the whole index (a watch re-list).
    pub fn clear(&mut self) {
        self.pods.clear();
        self.by_workload.clear();
    }

    /// The pod with `uid`.
    pub fn get(&self, uid: &str) -> Option<&PodInfo> {
        self.pods.get(uid)
    }

    /// The live pods of a workload.
    pub fn pods_of<'a>(
        &'a self,
        workload: &WorkloadKey,
    ) -> impl Iterator<Item = (&'a str, &'a PodInfo)> + 'a {
        let uids = self.by_workload.get(workload);
        uids.into_iter()
            .flatten()
            .filter_map(|uid| self.pods.get(uid).map(|p| (uid.as_str(), p)))
            .filter(|(_, p)| !p.finished)
    }

    /// Every pod UID.
    pub fn uids(&self) -> impl Iterator<Item = &str> {
        self.pods.keys().map(String::as_str)
    }

    /// Number of pods.
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    /// Whether no pod is known.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use tailor_core::model::WorkloadKind;

    use super::*;

    pub(crate) struct NoLookup;

    impl OwnerLookup for NoLookup {
        fn owner_references(&self, _: &str, _: &str, _: &str) -> Option<Vec<OwnerReference>> {
            None
        }
    }

    /// A pod of StatefulSet `workload` on `node` with one container `app` requesting 100m / 128Mi.
    pub(crate) fn pod(uid: &str, node: &str, workload: &str) -> Pod {
        let list = |cpu: &str, mem: &str| {
            BTreeMap::from([
                ("cpu".to_owned(), Quantity(cpu.into())),
                ("memory".to_owned(), Quantity(mem.into())),
            ])
        };
        Pod {
            metadata: ObjectMeta {
                name: Some(format!("{workload}-{uid}")),
                namespace: Some("shop".into()),
                uid: Some(uid.into()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "StatefulSet".into(),
                    name: workload.into(),
                    uid: "ss".into(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some(node.into()),
                containers: vec![Container {
                    name: "app".into(),
                    resources: Some(ResourceRequirements {
                        requests: Some(list("100m", "128Mi")),
                        limits: Some(list("500m", "256Mi")),
                        ..ResourceRequirements::default()
                    }),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                ..PodStatus::default()
            }),
        }
    }

    #[test]
    fn indexes_by_workload_and_reads_resources() {
        let mut index = PodIndex::default();
        index.apply(&pod("u1", "node-a", "db"), &NoLookup);
        index.apply(&pod("u2", "node-b", "db"), &NoLookup);
        let key = WorkloadKey::new("shop", WorkloadKind::StatefulSet, "db");
        assert_eq!(index.pods_of(&key).count(), 2);
        let info = index.get("u1").expect("pod");
        assert_eq!(info.node.as_deref(), Some("node-a"));
        let app = info.container("app").expect("app");
        assert_eq!(
            (app.cpu_request, app.memory_limit),
            (Some(MilliCpu(100)), Some(Bytes(256 << 20)))
        );
        index.delete("u1");
        assert_eq!(index.pods_of(&key).count(), 1);
        assert!(index.get("u1").is_none());
    }

    #[test]
    fn status_resources_win_over_spec() {
        let mut p = pod("u1", "node-a", "db");
        let applied = ResourceRequirements {
            requests: Some(BTreeMap::from([(
                "memory".to_owned(),
                Quantity("1Gi".into()),
            )])),
            ..ResourceRequirements::default()
        };
        p.status.as_mut().expect("status").container_statuses = Some(vec![ContainerStatus {
            name: "app".into(),
            resources: Some(applied),
            ..ContainerStatus::default()
        }]);
        let (_, info) = PodInfo::from_pod(&p).expect("info");
        assert_eq!(
            info.container("app").and_then(|c| c.memory_request),
            Some(Bytes(1 << 30))
        );
    }
}
