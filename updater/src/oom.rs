//! Fast paths: a pod whose container was just OOM-killed, a pod that is starting (not Ready yet, so it may
//! want a startup boost), or a boosted pod (its boost ends a set time after it turns Ready) wakes the planner
//! at once instead of waiting for the next tick.

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Pod;

/// How recent an OOM kill must be to wake the planner.
const RECENT_MS: i64 = 60_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether a container of `pod` was OOM-killed within the last minute.
pub fn recently_oom_killed(pod: &Pod) -> bool {
    oom_killed_since(pod, now_ms() - RECENT_MS)
}

/// Whether a container of `pod` was OOM-killed at or after `since_ms` (unix milliseconds).
pub fn oom_killed_since(pod: &Pod, since_ms: i64) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .any(|s| {
            s.last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .is_some_and(|t| {
                    t.reason.as_deref() == Some("OOMKilled")
                        && t.finished_at
                            .as_ref()
                            .is_some_and(|f| f.0.as_millisecond() >= since_ms)
                })
        })
}

/// Whether `pod` is scheduled, live and not Ready (starting, restarting or crashing): a boost may be due.
pub fn starting(pod: &Pod) -> bool {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let status = pod.status.as_ref();
    let live = pod.metadata.deletion_timestamp.is_none()
        && matches!(
            status.and_then(|s| s.phase.as_deref()),
            Some("Pending" | "Running")
        );
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    scheduled && live && !ready
}

/// Whether `pod` carries an active startup boost. Each of its updates wakes the planner, so the end of the
/// boost (a set time after Ready) is scheduled when the pod turns Ready, not a whole pass interval later.
pub fn boosted(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(tailor_core::plan::annotation::BOOST_RECORD_ANNOTATION))
        .and_then(|v| tailor_core::plan::annotation::parse_boost_record(v).ok())
        .is_some_and(|r| r.active)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_with(record: Option<&str>) -> Pod {
        let mut p = serde_json::json!({"metadata": {"name": "p"}});
        if let Some(r) = record {
            p["metadata"]["annotations"] = serde_json::json!({"tailor.dev/boost-state": r});
        }
        serde_json::from_value(p).expect("pod")
    }

    #[test]
    fn only_an_active_readable_boost_record_counts_as_boosted() {
        assert!(boosted(&pod_with(Some(
            "v1;active=1;since=5;c=app:0:300m:600m"
        ))));
        assert!(!boosted(&pod_with(Some(
            "v1;active=0;since=5;c=app:0:300m:600m"
        ))));
        assert!(!boosted(&pod_with(Some("active=1 but garbled"))));
        assert!(!boosted(&pod_with(None)));
    }
}
