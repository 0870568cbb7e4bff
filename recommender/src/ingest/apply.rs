//! Applying a validated, authenticated report to the model: every pod it names is checked first, so a report
//! that is rejected changes nothing.

use tailor_core::model::ContainerKey;
use tailor_core::quantity::Bytes;
use tailor_core::report::{ContainerRef, NodeReport, UrgentKind};
use tailor_core::time::Timestamp;

use crate::state::Shared;

/// What applying a report did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Container summaries applied.
    pub containers: usize,
    /// OOM kills applied.
    pub ooms: usize,
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
        if model.apply_container(key, c, now) {
            applied.containers += 1;
        } else {
            applied.skipped += 1;
        }
    }
    for e in &report.events {
        let UrgentKind::OomKill { limit_bytes, .. } = &e.kind else {
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
