//! Joins the cgroups found on disk with the pod index: which leaves are containers we report on.

use std::path::PathBuf;

use tailor_core::report::ContainerRef;

use super::naming::Qos;
use super::walk::Found;
use crate::pods::PodIndex;

/// A container to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub container: ContainerRef,
    pub dir: PathBuf,
    pub qos: Qos,
    /// When the container started (unix ms), if known.
    pub started_ms: Option<i64>,
}

/// Outcome of one join.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub targets: Vec<Target>,
    /// Leaves whose ID no pod status names: pod sandboxes, exited containers, or containers the watch has not
    /// caught up with yet.
    pub unmatched: usize,
    /// Leaves whose ID matched a container of a pod whose UID (and config hash) differ from the cgroup's pod
    /// directory: never expected, counted to make a naming bug visible.
    pub uid_mismatch: usize,
}

/// Matches every found container cgroup to the index by container ID, and checks the pod directory's UID
/// against the pod's UID or, for static pods, its `kubernetes.io/config.hash`.
pub fn resolve(found: &Found, index: &PodIndex) -> Resolution {
    let mut out = Resolution::default();
    for cg in found.cgroups.values() {
        let Some(m) = index.container(&cg.container_id) else {
            out.unmatched += 1;
            continue;
        };
        let uid_ok =
            m.pod.uid == cg.pod_uid || m.pod.config_hash.as_deref() == Some(cg.pod_uid.as_str());
        if !uid_ok {
            out.uid_mismatch += 1;
            continue;
        }
        out.targets.push(Target {
            container: ContainerRef {
                namespace: m.pod.namespace.clone(),
                pod: m.pod.name.clone(),
                pod_uid: m.pod.uid.clone(),
                container: m.container.name.clone(),
                container_id: cg.container_id.clone(),
            },
            dir: cg.dir.clone(),
            qos: cg.qos,
            started_ms: m.container.started_ms,
        });
    }
    out.targets.sort_by(|a, b| a.container.cmp(&b.container));
    out
}

/// Without a pod index (`--standalone`): every container-looking leaf is a target, labelled by what the path
/// tells: the pod UID as namespace-less pod name and the first 12 characters of the ID as container name.
/// Sandboxes cannot be told apart here and are included.
pub fn standalone(found: &Found) -> Resolution {
    let mut targets: Vec<Target> = found
        .cgroups
        .values()
        .map(|cg| Target {
            container: ContainerRef {
                namespace: "unknown".into(),
                pod: cg.pod_uid.clone(),
                pod_uid: cg.pod_uid.clone(),
                container: cg.container_id.chars().take(12).collect(),
                container_id: cg.container_id.clone(),
            },
            dir: cg.dir.clone(),
            qos: cg.qos,
            started_ms: None,
        })
        .collect();
    targets.sort_by(|a, b| a.container.cmp(&b.container));
    Resolution {
        targets,
        unmatched: 0,
        uid_mismatch: 0,
    }
}
