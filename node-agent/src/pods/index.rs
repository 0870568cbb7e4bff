//! The agent's plain index of the pods on its node. The watcher feeds it `apply`/`delete`; tests do the same
//! with synthetic pods.

use std::collections::{HashMap, HashSet};

/// What the agent needs to know about one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// `kubernetes.io/config.hash` of a static pod's mirror: the UID its cgroup is named after.
    pub config_hash: Option<String>,
    /// `status.qosClass` as the API reports it (`Guaranteed`, `Burstable`, `BestEffort`), if set.
    pub qos_class: Option<String>,
    pub containers: Vec<ContainerInfo>,
}

/// One container status (regular, init or ephemeral).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub name: String,
    /// Runtime ID without the `containerd://` prefix; `None` while the container has not been created.
    pub id: Option<String>,
    /// When the running container started (unix ms).
    pub started_ms: Option<i64>,
    /// ID of an OOM-killed instance: the current one if `state.terminated.reason == OOMKilled`, else the
    /// previous one if `lastState.terminated.reason == OOMKilled`.
    pub last_oom_killed_id: Option<String>,
    /// When that previous instance finished (unix ms).
    pub last_oom_killed_ms: Option<i64>,
}

/// A container the index knows, as a lookup result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerMatch<'a> {
    pub pod: &'a PodInfo,
    pub container: &'a ContainerInfo,
}

/// Pods by UID, with a container-ID index. `generation` changes on every mutation so consumers can skip work
/// when nothing changed.
#[derive(Debug, Default)]
pub struct PodIndex {
    pods: HashMap<String, PodInfo>,
    by_container: HashMap<String, (String, usize)>,
    generation: u64,
}

impl PodIndex {
    /// Inserts or replaces a pod. Returns the OOM kills it reports that the previous version of the pod did not
    /// (container name, killed container ID, finish time), so the agent can send them at once.
    pub fn apply(&mut self, pod: PodInfo) -> Vec<(String, String, Option<i64>)> {
        let before: HashSet<String> = self
            .pods
            .get(&pod.uid)
            .map(|old| {
                old.containers
                    .iter()
                    .filter_map(|c| c.last_oom_killed_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let new_ooms = pod
            .containers
            .iter()
            .filter_map(|c| {
                let id = c.last_oom_killed_id.as_ref()?;
                (!before.contains(id)).then(|| (c.name.clone(), id.clone(), c.last_oom_killed_ms))
            })
            .collect();
        self.remove_container_ids(&pod.uid);
        for (i, c) in pod.containers.iter().enumerate() {
            if let Some(id) = &c.id {
                self.by_container.insert(id.clone(), (pod.uid.clone(), i));
            }
        }
        self.pods.insert(pod.uid.clone(), pod);
        self.generation += 1;
        new_ooms
    }

    /// Removes a pod by UID.
    pub fn delete(&mut self, uid: &str) {
        self.remove_container_ids(uid);
        if self.pods.remove(uid).is_some() {
            self.generation += 1;
        }
    }

    /// Replaces the whole content (a watch re-list). OOM kills already present are not reported again.
    pub fn replace_all(&mut self, pods: Vec<PodInfo>) {
        let known: HashSet<String> = pods.iter().map(|p| p.uid.clone()).collect();
        let stale: Vec<String> = self
            .pods
            .keys()
            .filter(|uid| !known.contains(*uid))
            .cloned()
            .collect();
        for uid in stale {
            self.delete(&uid);
        }
        for pod in pods {
            self.apply(pod);
        }
        self.generation += 1;
    }

    fn remove_container_ids(&mut self, uid: &str) {
        if let Some(old) = self.pods.get(uid) {
            for c in &old.containers {
                if let Some(id) = &c.id {
                    self.by_container.remove(id);
                }
            }
        }
    }

    /// The container with this runtime ID, if its pod is on this node.
    pub fn container(&self, id: &str) -> Option<ContainerMatch<'_>> {
        let (uid, i) = self.by_container.get(id)?;
        let pod = self.pods.get(uid)?;
        Some(ContainerMatch {
            pod,
            container: pod.containers.get(*i)?,
        })
    }

    /// A pod by UID.
    pub fn pod(&self, uid: &str) -> Option<&PodInfo> {
        self.pods.get(uid)
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, ids: &[(&str, Option<&str>)], oom: Option<&str>) -> PodInfo {
        PodInfo {
            uid: uid.into(),
            namespace: "ns".into(),
            name: format!("pod-{uid}"),
            config_hash: None,
            qos_class: Some("Burstable".into()),
            containers: ids
                .iter()
                .map(|(name, id)| ContainerInfo {
                    name: (*name).into(),
                    id: id.map(Into::into),
                    started_ms: None,
                    last_oom_killed_id: oom.map(Into::into),
                    last_oom_killed_ms: None,
                })
                .collect(),
        }
    }

    #[test]
    fn apply_replace_delete() {
        let mut idx = PodIndex::default();
        idx.apply(pod("u1", &[("app", Some("c1")), ("side", None)], None));
        assert_eq!(
            idx.container("c1").map(|m| m.container.name.as_str()),
            Some("app")
        );
        let g = idx.generation();
        // Restart: new ID replaces the old one.
        idx.apply(pod("u1", &[("app", Some("c2"))], None));
        assert!(idx.container("c1").is_none());
        assert!(idx.container("c2").is_some());
        assert!(idx.generation() > g);
        idx.delete("u1");
        assert!(idx.container("c2").is_none());
        assert!(idx.is_empty());
    }

    #[test]
    fn reports_each_oom_kill_once() {
        let mut idx = PodIndex::default();
        assert!(
            idx.apply(pod("u1", &[("app", Some("c1"))], None))
                .is_empty()
        );
        let ooms = idx.apply(pod("u1", &[("app", Some("c2"))], Some("c1")));
        assert_eq!(ooms, vec![("app".to_owned(), "c1".to_owned(), None)]);
        assert!(
            idx.apply(pod("u1", &[("app", Some("c2"))], Some("c1")))
                .is_empty()
        );
    }

    #[test]
    fn replace_all_drops_missing_pods() {
        let mut idx = PodIndex::default();
        idx.apply(pod("u1", &[("app", Some("c1"))], None));
        idx.replace_all(vec![pod("u2", &[("app", Some("c9"))], None)]);
        assert!(idx.pod("u1").is_none());
        assert!(idx.container("c9").is_some());
    }
}
