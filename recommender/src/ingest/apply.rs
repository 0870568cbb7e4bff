//! Applying a validated, authenticated report to the model: every pod it names is checked first, so a report
//! that is rejected changes nothing.
//!
//! Entries about a pod the recommender cannot attribute yet (pod not known, or its workload not resolved) are
//! parked instead of dropped (see [`super::parked`]) and applied by the same code once it can: when the pod
//! watch updates the pod, when a later report names the pod, and at the start of every recommendation pass
//! (after owner resolution is retried). Applying a parked entry goes through the same checks as a fresh one,
//! so an interval already covered or an OOM kill already counted is not counted again.

use tailor_core::model::{ContainerKey, WorkloadKey};
use tailor_core::quantity::Bytes;
use tailor_core::report::{ContainerRef, ContainerReport, NodeReport, UrgentEvent, UrgentKind};
use tailor_core::time::Timestamp;

use crate::ingest::oom::OomKey;
use crate::ingest::parked::{Entry, Parked};
use crate::model::Model;
use crate::pods::{PodIndex, PodInfo};
use crate::state::Shared;

/// What applying a report (or parked entries) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Container summaries applied.
    pub containers: usize,
    /// OOM kills applied (urgent events and recovered ones).
    pub ooms: usize,
    /// OOM kills applied from a periodic summary's `oom_kills` because no urgent event announced them.
    pub recovered_ooms: usize,
    /// Entries skipped: an interval already covered, an OOM kill already counted, or a pod UID the recommender
    /// knows in another namespace.
    pub skipped: usize,
    /// Entries parked because their pod or its workload is not known yet.
    pub parked: usize,
    /// Of those, OOM kill events.
    pub parked_ooms: usize,
    /// Parked entries taken up again (applied, skipped or dropped as foreign; counted in those fields too).
    pub unparked: usize,
    /// Parked entries dropped because their pod turned out to run on another node than the reporting one.
    pub foreign: usize,
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

fn check_node(pods: &PodIndex, node: &str, c: &ContainerRef) -> Result<(), ForeignPod> {
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

/// Whether an entry can be applied now.
enum Attribution<'a> {
    /// Pod and workload known.
    Known(&'a PodInfo, WorkloadKey),
    /// The pod or its workload is not known yet.
    Pending,
    /// The UID is of a pod in another namespace: the entry is not about that pod.
    Mismatch,
}

fn attribute<'a>(pods: &'a PodIndex, c: &ContainerRef) -> Attribution<'a> {
    match pods.get(&c.pod_uid) {
        Some(p) if p.namespace != c.namespace => Attribution::Mismatch,
        Some(p) => match &p.workload {
            Some(w) => Attribution::Known(p, w.clone()),
            None => Attribution::Pending,
        },
        None => Attribution::Pending,
    }
}

fn entry_container(entry: &Entry) -> &ContainerRef {
    match entry {
        Entry::Summary(c) => &c.container,
        Entry::Oom(e) => &e.container,
    }
}

/// The model and the pod index, locked for one batch of entries.
struct Target<'a> {
    shared: &'a Shared,
    pods: &'a PodIndex,
    model: &'a mut Model,
    now: Timestamp,
}

impl Target<'_> {
    fn summary(
        &mut self,
        pod: &PodInfo,
        workload: WorkloadKey,
        c: &ContainerReport,
        applied: &mut Applied,
    ) {
        let key = ContainerKey::new(workload, c.container.container.clone());
        if !self.model.apply_container(key.clone(), c, self.now) {
            applied.skipped += 1;
            return;
        }
        applied.containers += 1;
        if c.memory.oom_kills == 0 {
            return;
        }
        let missing = self.shared.ooms().periodic(
            &oom_key(&c.container),
            c.interval_start_ms,
            c.interval_end_ms,
            c.memory.oom_kills,
            self.now.unix_millis(),
        );
        if missing == 0 {
            return;
        }
        // The kill's urgent event never arrived: the summary's count is the signal, placed at the interval's end.
        let request = pod
            .container(&c.container.container)
            .and_then(|c| c.memory_request)
            .unwrap_or(Bytes::ZERO);
        let limit = c
            .memory
            .limit_bytes
            .and_then(|l| i64::try_from(l).ok())
            .map(Bytes);
        let at = Timestamp::from_unix_millis(c.interval_end_ms);
        match self
            .model
            .apply_oom(key, &c.container.pod_uid, at, request, limit, self.now)
        {
            Ok(bumped) => {
                tracing::info!(pod = %c.container.pod, container = %c.container.container, %bumped, kills = missing, "OOM kill recovered from a periodic count");
                applied.ooms += 1;
                applied.recovered_ooms += 1;
            }
            Err(error) => tracing::debug!(%error, "recovered OOM kill ignored"),
        }
    }

    fn oom(
        &mut self,
        pod: &PodInfo,
        workload: WorkloadKey,
        e: &UrgentEvent,
        applied: &mut Applied,
    ) {
        let UrgentKind::OomKill {
            limit_bytes, count, ..
        } = &e.kind
        else {
            return;
        };
        let request = pod
            .container(&e.container.container)
            .and_then(|c| c.memory_request)
            .unwrap_or(Bytes::ZERO);
        let limit = limit_bytes.and_then(|l| i64::try_from(l).ok()).map(Bytes);
        let fresh = self.shared.ooms().urgent(
            &oom_key(&e.container),
            e.observed_ms,
            (*count).max(1),
            self.now.unix_millis(),
        );
        if fresh == 0 {
            tracing::debug!(pod = %e.container.pod, container = %e.container.container, "OOM kill already counted from a periodic summary");
            applied.skipped += 1;
            return;
        }
        let key = ContainerKey::new(workload, e.container.container.clone());
        let at = Timestamp::from_unix_millis(e.observed_ms);
        match self
            .model
            .apply_oom(key, &e.container.pod_uid, at, request, limit, self.now)
        {
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

    /// Takes up the parked entries of those of `uids` that are attributable now, oldest first.
    fn unpark<'u>(&mut self, uids: impl IntoIterator<Item = &'u str>, applied: &mut Applied) {
        let ready: Vec<Parked> = {
            let mut parked = self.shared.parked();
            if parked.is_empty() {
                return;
            }
            let mut ready = Vec::new();
            for uid in uids {
                let known = self.pods.get(uid).is_some_and(|p| p.workload.is_some());
                if known && parked.contains(uid) {
                    ready.extend(parked.take(uid, self.now.unix_millis()));
                }
            }
            ready
        };
        let mut foreign = 0;
        for p in &ready {
            applied.unparked += 1;
            let c = entry_container(&p.entry);
            let (pod, workload) = match attribute(self.pods, c) {
                Attribution::Known(pod, workload) => (pod, workload),
                Attribution::Pending | Attribution::Mismatch => {
                    tracing::warn!(pod = %c.pod, namespace = %c.namespace, uid = %c.pod_uid, "parked entry dropped: the pod with its UID is in another namespace");
                    foreign += 1;
                    continue;
                }
            };
            // The same rule as `check_node`, which could not apply while the pod was unknown.
            if let Some(actual) = pod.node.as_deref().filter(|n| *n != p.node) {
                tracing::warn!(pod = %c.pod, namespace = %c.namespace, %actual, reported = %p.node, "parked entry dropped: the pod runs on another node than the reporting one");
                foreign += 1;
                continue;
            }
            match &p.entry {
                Entry::Summary(s) => self.summary(pod, workload, s, applied),
                Entry::Oom(e) => self.oom(pod, workload, e, applied),
            }
        }
        if foreign > 0 {
            applied.foreign += foreign;
            self.shared.parked().count_foreign(foreign as u64);
        }
        if !ready.is_empty() {
            tracing::debug!(entries = ready.len(), foreign, "parked entries taken up");
        }
    }
}

/// Applies `report` (already validated, sender already authorized for `report.node`) at `now`.
pub fn apply(shared: &Shared, report: &NodeReport, now: Timestamp) -> Result<Applied, ForeignPod> {
    let pods = shared.pods();
    let named = || {
        report
            .containers
            .iter()
            .map(|c| &c.container)
            .chain(report.events.iter().map(|e| &e.container))
    };
    for c in named() {
        check_node(&pods, &report.node, c)?;
    }
    let mut applied = Applied::default();
    let mut model = shared.model();
    let mut target = Target {
        shared,
        pods: &pods,
        model: &mut model,
        now,
    };
    // Entries parked earlier go first: a pod's intervals must arrive in order, or the earlier one is refused
    // as already covered.
    target.unpark(named().map(|c| c.pod_uid.as_str()), &mut applied);
    let mut pending = Vec::new();
    for c in &report.containers {
        match attribute(&pods, &c.container) {
            Attribution::Known(pod, workload) => target.summary(pod, workload, c, &mut applied),
            Attribution::Pending => pending.push(Entry::Summary(Box::new(c.clone()))),
            Attribution::Mismatch => applied.skipped += 1,
        }
    }
    for e in &report.events {
        if !matches!(e.kind, UrgentKind::OomKill { .. }) {
            continue;
        }
        match attribute(&pods, &e.container) {
            Attribution::Known(pod, workload) => target.oom(pod, workload, e, &mut applied),
            Attribution::Pending => pending.push(Entry::Oom(e.clone())),
            Attribution::Mismatch => applied.skipped += 1,
        }
    }
    if !pending.is_empty() {
        // Parked while the pod index is still read-locked: a pod watch update that makes the pod known waits for
        // this lock, and takes these entries up right after.
        let mut parked = shared.parked();
        for entry in pending {
            applied.parked += 1;
            applied.parked_ooms += usize::from(matches!(entry, Entry::Oom(_)));
            parked.park(&report.node, entry, now.unix_millis());
        }
    }
    Ok(applied)
}

/// Applies the parked entries of pod `uid` if it is attributable now: the pod watch calls this on every update.
pub fn unpark_pod(shared: &Shared, uid: &str, now: Timestamp) -> Applied {
    if !shared.parked().contains(uid) {
        return Applied::default();
    }
    unpark_these(shared, [uid], now)
}

/// Drops expired parked entries and applies those of every pod attributable now: each recommendation pass calls
/// this after retrying owner resolution.
pub fn unpark_all(shared: &Shared, now: Timestamp) -> Applied {
    let uids: Vec<String> = {
        let mut parked = shared.parked();
        parked.expire(now.unix_millis());
        parked.pods().map(str::to_owned).collect()
    };
    if uids.is_empty() {
        return Applied::default();
    }
    unpark_these(shared, uids.iter().map(String::as_str), now)
}

/// Takes the pod index and the model (after the parked lock is released) and applies the parked entries of `uids`.
fn unpark_these<'u>(
    shared: &Shared,
    uids: impl IntoIterator<Item = &'u str>,
    now: Timestamp,
) -> Applied {
    let mut applied = Applied::default();
    let pods = shared.pods();
    let mut model = shared.model();
    Target {
        shared,
        pods: &pods,
        model: &mut model,
        now,
    }
    .unpark(uids, &mut applied);
    applied
}
