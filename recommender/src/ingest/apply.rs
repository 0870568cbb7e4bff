//! Applying a validated, authenticated report to the model: every pod it names is checked first, so a report
//! that is rejected changes nothing.

use tailor_core::model::ContainerKey;
use tailor_core::quantity::Bytes;
use tailor_core::report::{ContainerRef, NodeReport, UrgentKind};
use tailor_core::time::Timestamp;

use crate::ingest::oom::OomKey;
use crate::state::Shared;

/// What applying a report did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Container summaries applied.
    pub containers: usize,
    /// OOM kills applied (urgent events and recovered ones).
    pub ooms: usize,
    /// OOM kills applied from a periodic summary's `oom_kills` because no urgent event announced them.
    pub recovered_ooms: usize,
    /// Entries skipped: pod or workload not known yet, or an interval already covered.
    pub skipped: usize,
}

/// The report names a pod that runs on another node than the reporting agent's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pod {namespace}/{pod} runs on {actual}, not on the reporting node {reported}")]
pub struct ForeignPod {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Node the pod runs on.
    pub actual: String,
    /// Node the report came from.
    pub reported: String,
}

fn check_node(shared: &Shared, node: &str, c: &ContainerRef) -> Result<(), ForeignPod> {
    let pods = shared.pods();
    match pods.get(&c.pod_uid).and_then(|p| p.node.as_deref()) {
        Some(actual) if actual != node => Err(ForeignPod {
            namespace: c.namespace.clone(),
            pod: c.pod.clone(),
            actual: actual.to_owned(),
            reported: node.to_owned(),
        }),
        _ => Ok(()),
    }
}

fn oom_key(c: &ContainerRef) -> OomKey {
    OomKey {
        pod_uid: c.pod_uid.clone(),
        container: c.container.clone(),
        container_id: c.container_id.clone(),
    }
}

/// Applies `report` (already validated, sender already authorized for `report.node`) at `now`.
pub fn apply(shared: &Shared, report: &NodeReport, now: Timestamp) -> Result<Applied, ForeignPod> {
    for c in report
        .containers
        .iter()
        .map(|c| &c.container)
        .chain(report.events.iter().map(|e| &e.container))
    {
        check_node(shared, &report.node, c)?;
    }
    let mut applied = Applied::default();
    let pods = shared.pods();
    let mut model = shared.model();
    for c in &report.containers {
        let pod = pods
            .get(&c.container.pod_uid)
            .filter(|p| p.namespace == c.container.namespace);
        let Some(workload) = pod.and_then(|p| p.workload.clone()) else {
            applied.skipped += 1;
            continue;
        };
        let key = ContainerKey::new(workload, c.container.container.clone());
        if !model.apply_container(key.clone(), c, now) {
            applied.skipped += 1;
            continue;
        }
        applied.containers += 1;
        if c.memory.oom_kills == 0 {
            continue;
        }
        let missing = shared.ooms().periodic(
            &oom_key(&c.container),
            c.interval_start_ms,
            c.interval_end_ms,
            c.memory.oom_kills,
            now.unix_millis(),
        );
        if missing == 0 {
            continue;
        }
        // The kill's urgent event never arrived: the summary's count is the signal, placed at the interval's end.
        let request = pod
            .and_then(|p| p.container(&c.container.container))
            .and_then(|c| c.memory_request)
            .unwrap_or(Bytes::ZERO);
        let limit = c
            .memory
            .limit_bytes
            .and_then(|l| i64::try_from(l).ok())
            .map(Bytes);
        let at = Timestamp::from_unix_millis(c.interval_end_ms);
        match model.apply_oom(key, &c.container.pod_uid, at, request, limit, now) {
            Ok(bumped) => {
                tracing::info!(pod = %c.container.pod, container = %c.container.container, %bumped, kills = missing, "OOM kill recovered from a periodic count");
                applied.ooms += 1;
                applied.recovered_ooms += 1;
            }
            Err(error) => tracing::debug!(%error, "recovered OOM kill ignored"),
        }
    }
    for e in &report.events {
        let UrgentKind::OomKill {
            limit_bytes, count, ..
        } = &e.kind
        else {
            continue;
        };
        let pod = pods
            .get(&e.container.pod_uid)
            .filter(|p| p.namespace == e.container.namespace);
        let Some((workload, pod)) = pod.and_then(|p| p.workload.clone().map(|w| (w, p))) else {
            applied.skipped += 1;
            continue;
        };
        let request = pod
            .container(&e.container.container)
            .and_then(|c| c.memory_request)
            .unwrap_or(Bytes::ZERO);
        let limit = limit_bytes.and_then(|l| i64::try_from(l).ok()).map(Bytes);
        let fresh = shared.ooms().urgent(
            &oom_key(&e.container),
            e.observed_ms,
            (*count).max(1),
            now.unix_millis(),
        );
        if fresh == 0 {
            tracing::debug!(pod = %e.container.pod, container = %e.container.container, "OOM kill already counted from a periodic summary");
            applied.skipped += 1;
            continue;
        }
        let key = ContainerKey::new(workload, e.container.container.clone());
        let at = Timestamp::from_unix_millis(e.observed_ms);
        match model.apply_oom(key, &e.container.pod_uid, at, request, limit, now) {
            Ok(bumped) => {
                tracing::info!(pod = %e.container.pod, container = %e.container.container, %bumped, "OOM kill recorded");
                applied.ooms += 1;
            }
            Err(error) => {
                tracing::debug!(%error, "OOM kill ignored");
                applied.skipped += 1;
            }
        }
    }
    Ok(applied)
}
