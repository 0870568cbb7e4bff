//! What a pod's own object says about each app container: the requests and limits in force (read by the
//! recommender's pod reader, which prefers `status.containerStatuses[].resources` — what the kubelet applied,
//! in-place resizes included — over the spec), restarts, and OOM kills from `state` / `lastState`.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;
use tailor_recommender::pods::PodInfo;

use crate::savings::Current;

/// The termination reason the kubelet writes for a container killed by the kernel's OOM killer.
pub const OOM_KILLED: &str = "OOMKilled";

/// One app container of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    /// Container name.
    pub name: String,
    /// CPU request and limit in force.
    pub cpu: Current<MilliCpu>,
    /// Memory request and limit in force.
    pub memory: Current<Bytes>,
    /// The container's restartCount.
    pub restarts: u32,
    /// The latest OOM kill the status shows: `Some(None)` when it carries no time.
    pub last_oom: Option<Option<Timestamp>>,
}

/// One pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    /// What the recommender's pod reader sees (namespace, name, owners, resources, finished).
    pub info: PodInfo,
    /// Per app container.
    pub containers: Vec<ContainerFacts>,
}

/// Reads a pod; `None` without a UID (not a real API object).
pub fn pod_facts(pod: &Pod) -> Option<PodFacts> {
    let (_, info) = PodInfo::from_pod(pod)?;
    let statuses: &[ContainerStatus] = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let containers = info
        .containers
        .iter()
        .map(|c| {
            let status = statuses.iter().find(|s| s.name == c.name);
            ContainerFacts {
                name: c.name.clone(),
                cpu: Current {
                    request: c.cpu_request,
                    limit: c.cpu_limit,
                },
                memory: Current {
                    request: c.memory_request,
                    limit: c.memory_limit,
                },
                restarts: status.map_or(0, |s| u32::try_from(s.restart_count).unwrap_or(0)),
                last_oom: status.and_then(last_oom_kill),
            }
        })
        .collect();
    Some(PodFacts { info, containers })
}

/// The latest OOM kill in the container's current or last state.
fn last_oom_kill(status: &ContainerStatus) -> Option<Option<Timestamp>> {
    [status.state.as_ref(), status.last_state.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|s| s.terminated.as_ref())
        .filter(|t| t.reason.as_deref() == Some(OOM_KILLED))
        .map(|t| {
            t.finished_at
                .as_ref()
                .or(t.started_at.as_ref())
                .map(|time| Timestamp::from_unix_millis(time.0.as_millisecond()))
        })
        .max()
}

/// Whether an OOM kill at `at` (unknown time counts as recent) falls within `window_ms` before `now`.
pub fn is_recent(at: Option<Timestamp>, now: Timestamp, window_ms: i64) -> bool {
    at.is_none_or(|t| now.unix_millis().saturating_sub(t.unix_millis()) <= window_ms)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("pod")
    }

    #[test]
    fn reads_applied_resources_restarts_and_oom_kills() {
        let p = pod(json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1"},
            "spec": {"containers": [
                {"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "128Mi"},
                                              "limits": {"cpu": "1", "memory": "256Mi"}}},
                {"name": "side", "resources": {"requests": {"cpu": "50m"}}}
            ]},
            "status": {"containerStatuses": [
                {"name": "app", "image": "i", "imageID": "", "ready": true, "restartCount": 3,
                 "resources": {"requests": {"cpu": "300m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                              "finishedAt": "2026-11-23T06:00:00Z"}}},
                {"name": "side", "image": "i", "imageID": "", "ready": true, "restartCount": 1,
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}
            ]}
        }));
        let facts = pod_facts(&p).expect("facts");
        let app = &facts.containers[0];
        assert_eq!(
            app.cpu.request,
            Some(MilliCpu(300)),
            "status wins over spec"
        );
        assert_eq!(app.memory.limit, Some(Bytes(256 << 20)));
        assert_eq!(app.restarts, 3);
        let at = Timestamp::from_unix_millis(1_795_413_600_000);
        assert_eq!(app.last_oom, Some(Some(at)));
        let side = &facts.containers[1];
        assert_eq!((side.restarts, side.last_oom), (1, None));
        assert_eq!(side.cpu.request, Some(MilliCpu(50)));
        assert!(is_recent(
            Some(at),
            at.saturating_add(std::time::Duration::from_secs(60)),
            60_000
        ));
        assert!(!is_recent(
            Some(at),
            at.saturating_add(std::time::Duration::from_secs(61)),
            60_000
        ));
        assert!(is_recent(None, at, 0), "a kill without a time counts");
    }

    #[test]
    fn pod_without_uid_or_status_is_tolerated() {
        assert!(pod_facts(&pod(json!({"metadata": {"name": "x"}}))).is_none());
        let bare = pod(json!({"metadata": {"name": "x", "uid": "u"},
                              "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "lots"}}}]}}));
        let facts = pod_facts(&bare).expect("facts");
        assert_eq!(
            facts.containers[0].cpu.request, None,
            "bad quantity reads as unset"
        );
    }

    proptest! {
        /// Pods come from the API server, but a report must survive any content: garbage quantities,
        /// reasons and counts never panic.
        #[test]
        fn arbitrary_pod_content_never_panics(
            cpu in ".{0,12}", memory in ".{0,12}", reason in ".{0,12}", restarts in any::<i32>(),
        ) {
            let p: Pod = serde_json::from_value(json!({
                "metadata": {"name": "p", "uid": "u"},
                "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
                "status": {"containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false,
                    "restartCount": restarts, "state": {"terminated": {"exitCode": 1, "reason": reason}}}]}
            })).expect("shape");
            let facts = pod_facts(&p).expect("facts");
            prop_assert!(facts.containers.len() == 1);
        }
    }
}
