//! Reads what the pipeline did, as a user with kubectl would: pod status (the resources the kubelet applied,
//! restarts and their reasons), VPA status (target and bounds) and Events. [`Observer`] keeps what it has seen
//! across snapshots so OOM kills and restarts are counted once.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ListParams};
use tailor_k8s::crd::vpa::{ResourceList, VerticalPodAutoscaler};

use crate::DemoError;
use crate::workloads::{CONTAINER, WORKLOAD_NAMESPACE, Workload};

/// CPU in millicores and memory in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
}

impl Amount {
    /// The CPU and memory of a `ResourceList` (missing or unparsable entries count as 0).
    pub fn of(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let get = |name: &str| list.and_then(|l| l.get(name));
        Self {
            cpu_millis: get("cpu")
                .and_then(|q| tailor_k8s::quantity::millicpu(q).ok())
                .map_or(0, |m| m.get()),
            memory_bytes: get("memory")
                .and_then(|q| tailor_k8s::quantity::bytes(q).ok())
                .map_or(0, |b| b.get()),
        }
    }

    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu_millis: self.cpu_millis + other.cpu_millis,
            memory_bytes: self.memory_bytes + other.memory_bytes,
        }
    }

    /// `300m/128Mi`.
    pub fn display(self) -> String {
        format!("{}/{}", cpu(self.cpu_millis), mem(self.memory_bytes))
    }
}

/// Millicores as `250m`.
pub fn cpu(millis: i64) -> String {
    format!("{millis}m")
}

/// Bytes as `123Mi` (rounded).
pub fn mem(bytes: i64) -> String {
    let mib = (bytes as f64) / f64::from(1 << 20);
    format!("{mib:.0}Mi")
}

/// One workload container as the pod status shows it.
#[derive(Debug, Clone)]
pub struct PodRow {
    pub workload: String,
    pub pod: String,
    pub uid: String,
    pub node: String,
    /// `status.containerStatuses[].resources.requests`: what the kubelet actually applied.
    pub requests: Amount,
    pub limits: Amount,
    pub restarts: i32,
    pub ready: bool,
    /// `lastState.terminated`: reason and finish time.
    pub last_termination: Option<(String, jiff::Timestamp)>,
}

/// One VPA's recommendation for the workload container.
#[derive(Debug, Clone, Default)]
pub struct VpaRow {
    pub mode: String,
    pub target: Option<Amount>,
    pub lower: Option<Amount>,
    pub upper: Option<Amount>,
    /// Throttled share of recent CFS periods, when the recommender's `CPUThrottled` condition names the
    /// container.
    pub throttled_percent: Option<u8>,
}

/// An Event about a pod or VPA.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventRow {
    pub time: jiff::Timestamp,
    pub object: String,
    pub reason: String,
    pub message: String,
}

/// Everything read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub pods: Vec<PodRow>,
    pub vpas: BTreeMap<String, VpaRow>,
    pub events: Vec<EventRow>,
}

/// Reasons worth showing: everything the updater emits and the kubelet's resize outcomes other than success.
pub fn interesting(reason: &str) -> bool {
    matches!(
        reason,
        "ResizedByTailor"
            | "ResizeReverted"
            | "StartupBoosted"
            | "StartupUnboosted"
            | "EvictedByTailor"
            | "WouldResize"
            | "WouldBoost"
            | "ResizeDeferred"
            | "ResizeInfeasible"
            | "ResizeError"
    )
}

/// Reads pods, VPAs and Events of the demo workloads.
pub async fn snapshot(
    client: &kube::Client,
    workloads: &[Workload],
) -> Result<Snapshot, DemoError> {
    let names: BTreeSet<&str> = workloads.iter().map(|w| w.name).collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), WORKLOAD_NAMESPACE);
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), WORKLOAD_NAMESPACE);
    let events: Api<Event> = Api::namespaced(client.clone(), WORKLOAD_NAMESPACE);
    let pod_list = pods
        .list(&ListParams::default())
        .await
        .map_err(DemoError::kube("listing pods"))?;
    let mut out = Snapshot::default();
    for p in &pod_list.items {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(app) = p.metadata.labels.as_ref().and_then(|l| l.get("app")) else {
            continue;
        };
        if !names.contains(app.as_str()) {
            continue;
        }
        if let Some(row) = pod_row(app, p) {
            out.pods.push(row);
        }
    }
    out.pods
        .sort_by(|a, b| (&a.workload, &a.pod).cmp(&(&b.workload, &b.pod)));
    for v in vpas
        .list(&ListParams::default())
        .await
        .map_err(DemoError::kube("listing VPAs"))?
    {
        let name = v.metadata.name.clone().unwrap_or_default();
        if names.contains(name.as_str()) {
            out.vpas.insert(name, vpa_row(&v));
        }
    }
    for e in events
        .list(&ListParams::default())
        .await
        .map_err(DemoError::kube("listing events"))?
    {
        let reason = e.reason.clone().unwrap_or_default();
        // The updater reports each action on the pod and again on its VPA; the pod's copy is enough.
        if !interesting(&reason) || e.involved_object.kind.as_deref() != Some("Pod") {
            continue;
        }
        let Some(time) = event_time(&e) else { continue };
        out.events.push(EventRow {
            time,
            object: e.involved_object.name.clone().unwrap_or_default(),
            reason,
            message: e.message.clone().unwrap_or_default(),
        });
    }
    out.events.sort();
    Ok(out)
}

fn event_time(e: &Event) -> Option<jiff::Timestamp> {
    e.event_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn container_status(p: &Pod) -> Option<&ContainerStatus> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)
}

fn pod_row(app: &str, p: &Pod) -> Option<PodRow> {
    let cs = container_status(p)?;
    let resources = cs.resources.as_ref();
    let last_termination = cs
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| {
            let at = t.finished_at.as_ref()?.0;
            Some((t.reason.clone().unwrap_or_default(), at))
        });
    Some(PodRow {
        workload: app.to_owned(),
        pod: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        requests: Amount::of(resources.and_then(|r| r.requests.as_ref())),
        limits: Amount::of(resources.and_then(|r| r.limits.as_ref())),
        restarts: cs.restart_count,
        ready: cs.ready,
        last_termination,
    })
}

fn vpa_row(v: &VerticalPodAutoscaler) -> VpaRow {
    let rec = v
        .status
        .as_ref()
        .and_then(|s| s.recommendation.as_ref())
        .and_then(|r| {
            r.container_recommendations
                .iter()
                .find(|c| c.container_name == CONTAINER)
        });
    let amount = |l: Option<&ResourceList>| l.map(|l| Amount::of(Some(l)));
    let throttled_percent = v
        .throttled_containers()
        .into_iter()
        .find(|t| t.container == CONTAINER)
        .map(|t| t.percent);
    VpaRow {
        mode: format!("{:?}", v.update_mode()),
        target: rec.map(|r| Amount::of(Some(&r.target))),
        lower: rec.and_then(|r| amount(r.lower_bound.as_ref())),
        upper: rec.and_then(|r| amount(r.upper_bound.as_ref())),
        throttled_percent,
    }
}

/// A restart seen between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub workload: String,
    pub pod: String,
    pub reason: String,
    pub at: jiff::Timestamp,
}

/// Remembers restart counts per pod, so every restart is counted once with its reason.
#[derive(Debug, Default)]
pub struct Observer {
    restart_counts: BTreeMap<String, i32>,
    pub restarts: Vec<Restart>,
    /// First and latest snapshot.
    pub first: Option<Snapshot>,
    pub last: Option<Snapshot>,
}

impl Observer {
    /// Takes in a snapshot; returns the restarts that happened since the previous one.
    pub fn observe(&mut self, snap: Snapshot) -> Vec<Restart> {
        let mut new = Vec::new();
        for p in &snap.pods {
            let seen = self.restart_counts.insert(p.uid.clone(), p.restarts);
            let before = seen.unwrap_or(0);
            if p.restarts > before {
                let (reason, at) = p
                    .last_termination
                    .clone()
                    .unwrap_or_else(|| ("Unknown".to_owned(), jiff::Timestamp::now()));
                for _ in before..p.restarts {
                    new.push(Restart {
                        workload: p.workload.clone(),
                        pod: p.pod.clone(),
                        reason: reason.clone(),
                        at,
                    });
                }
            }
        }
        self.restarts.extend(new.iter().cloned());
        if self.first.is_none() {
            self.first = Some(snap.clone());
        }
        self.last = Some(snap);
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: &str, restarts: i32, reason: &str) -> PodRow {
        PodRow {
            workload: "w".into(),
            pod: format!("p-{uid}"),
            uid: uid.into(),
            node: "n".into(),
            requests: Amount::default(),
            limits: Amount::default(),
            restarts,
            ready: true,
            last_termination: Some((reason.into(), jiff::Timestamp::UNIX_EPOCH)),
        }
    }

    #[test]
    fn each_restart_is_counted_once_with_its_reason() {
        let mut o = Observer::default();
        let snap = |r| Snapshot {
            pods: vec![row("a", r, "OOMKilled")],
            ..Snapshot::default()
        };
        assert!(o.observe(snap(0)).is_empty());
        assert_eq!(o.observe(snap(2)).len(), 2);
        assert!(o.observe(snap(2)).is_empty());
        assert_eq!(o.restarts.len(), 2);
        assert!(o.restarts.iter().all(|r| r.reason == "OOMKilled"));
    }

    #[test]
    fn amounts_parse_kubernetes_quantities() {
        let list = BTreeMap::from([
            ("cpu".to_owned(), Quantity("1500m".into())),
            ("memory".to_owned(), Quantity("128Mi".into())),
        ]);
        let a = Amount::of(Some(&list));
        assert_eq!(
            a,
            Amount {
                cpu_millis: 1500,
                memory_bytes: 128 << 20
            }
        );
        assert_eq!(a.display(), "1500m/128Mi");
    }
}
