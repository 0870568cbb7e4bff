//! Turns API pods into the index's [`PodInfo`]. The only place Kubernetes types meet the agent's own.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::index::{ContainerInfo, PodInfo};

/// Annotation holding a static pod's config hash: the UID its cgroup is named after.
pub const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";

/// Strips the `<runtime>://` prefix of `containerStatuses[].containerID`.
pub fn runtime_id(container_id: &str) -> Option<&str> {
    let id = container_id
        .split_once("://")
        .map_or(container_id, |(_, id)| id);
    (!id.is_empty()).then_some(id)
}

fn millis(t: &Time) -> i64 {
    t.0.as_millisecond()
}

fn container(status: &ContainerStatus) -> ContainerInfo {
    let running = status.state.as_ref().and_then(|s| s.running.as_ref());
    // A kill shows in `state.terminated` until the container restarts, then moves to `lastState.terminated`;
    // the index reports each killed container ID once, whichever it sees first.
    let oom = |t: &&ContainerStateTerminated| t.reason.as_deref() == Some("OOMKilled");
    let last_oom = status
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .filter(oom)
        .or_else(|| {
            status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .filter(oom)
        });
    ContainerInfo {
        name: status.name.clone(),
        id: status
            .container_id
            .as_deref()
            .and_then(runtime_id)
            .map(str::to_owned),
        started_ms: running.and_then(|r| r.started_at.as_ref()).map(millis),
        last_oom_killed_id: last_oom
            .and_then(|t| t.container_id.as_deref())
            .and_then(runtime_id)
            .map(str::to_owned),
        last_oom_killed_ms: last_oom.and_then(|t| t.finished_at.as_ref()).map(millis),
    }
}

/// The index entry for a pod; `None` for a pod without a UID (never seen from the API server).
pub fn pod_info(pod: &Pod) -> Option<PodInfo> {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let statuses = status.into_iter().flat_map(|s| {
        let regular = s.container_statuses.iter().flatten();
        let init = s.init_container_statuses.iter().flatten();
        let ephemeral = s.ephemeral_container_statuses.iter().flatten();
        regular.chain(init).chain(ephemeral)
    });
    Some(PodInfo {
        uid: meta.uid.clone()?,
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        config_hash: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(CONFIG_HASH_ANNOTATION))
            .cloned(),
        qos_class: status.and_then(|s| s.qos_class.clone()),
        containers: statuses.map(container).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_statuses_and_static_hash() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"uid": "u-1", "namespace": "kube-system", "name": "etcd-n1",
                         "annotations": {"kubernetes.io/config.hash": "d76e26fba3bf2bfd215eb29011d55250"}},
            "status": {
                "qosClass": "Burstable",
                "containerStatuses": [{
                    "name": "etcd", "image": "i", "imageID": "", "ready": true, "restartCount": 1,
                    "containerID": "containerd://abc",
                    "state": {"running": {"startedAt": "2026-11-23T03:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                        "containerID": "containerd://old", "finishedAt": "2026-11-23T02:59:59Z"}}
                }],
                "initContainerStatuses": [{"name": "init", "image": "i", "imageID": "", "ready": false,
                    "restartCount": 0, "containerID": "cri-o://def"}]
            }
        }))
        .expect("valid pod");
        let info = pod_info(&pod).expect("has uid");
        assert_eq!(
            info.config_hash.as_deref(),
            Some("d76e26fba3bf2bfd215eb29011d55250")
        );
        assert_eq!(info.qos_class.as_deref(), Some("Burstable"));
        assert_eq!(info.containers.len(), 2);
        let etcd = &info.containers[0];
        assert_eq!(etcd.id.as_deref(), Some("abc"));
        assert_eq!(etcd.started_ms, Some(1_795_402_800_000));
        assert_eq!(etcd.last_oom_killed_id.as_deref(), Some("old"));
        assert_eq!(info.containers[1].id.as_deref(), Some("def"));
        assert_eq!(runtime_id("containerd://"), None);
        assert_eq!(runtime_id("bare"), Some("bare"));
    }

    #[test]
    fn oom_kill_in_current_state_counts_before_the_restart() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"uid": "u-2"},
            "status": {"containerStatuses": [{
                "name": "app", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "containerID": "containerd://dead",
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "containerID": "containerd://dead"}}
            }]}
        }))
        .expect("valid pod");
        let info = pod_info(&pod).expect("has uid");
        assert_eq!(
            info.containers[0].last_oom_killed_id.as_deref(),
            Some("dead")
        );
        assert_eq!(info.containers[0].started_ms, None);
    }
}
