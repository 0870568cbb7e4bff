//! Fast paths: a pod whose container was just OOM-killed, or a pod that is starting (not Ready yet, so it may
//! want a startup boost), wakes the planner at once instead of waiting for the next tick.

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
