//! Builds the `status` a kubelet would report for a simulated pod: phase, conditions (including
//! `PodResizePending` / `PodResizeInProgress` with their observedGeneration), containerStatuses with container
//! IDs, restartCount, lastState, `resources` (actual) and `allocatedResources`, qosClass and IPs.

use crate::naming::Runtime;
use crate::pod::{OwnedCondition, RunState, SimPod};
use crate::quantity::{format_bytes, format_cpu_millis};
use crate::resize::Resources;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, PodCondition, PodIP, PodStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

/// Condition types this simulated kubelet owns; others (PodScheduled, readiness gates) are carried over.
pub const OWNED_CONDITIONS: [&str; 6] = [
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
    "PodResizePending",
    "PodResizeInProgress",
];

fn requests_map(r: &Resources) -> BTreeMap<String, Quantity> {
    let mut m = BTreeMap::new();
    if let Some(c) = r.cpu_request {
        m.insert("cpu".to_string(), Quantity(format_cpu_millis(c)));
    }
    if let Some(b) = r.memory_request {
        m.insert("memory".to_string(), Quantity(format_bytes(b)));
    }
    m
}

fn limits_map(r: &Resources) -> BTreeMap<String, Quantity> {
    let mut m = BTreeMap::new();
    if let Some(c) = r.cpu_limit {
        m.insert("cpu".to_string(), Quantity(format_cpu_millis(c)));
    }
    if let Some(b) = r.memory_limit {
        m.insert("memory".to_string(), Quantity(format_bytes(b)));
    }
    m
}

fn requirements(r: &Resources) -> ResourceRequirements {
    let requests = requests_map(r);
    let limits = limits_map(r);
    ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    }
}

/// Remembers when each owned condition last changed, so `lastTransitionTime` is stable across updates.
#[derive(Debug, Clone, Default)]
pub struct ConditionClock {
    since: BTreeMap<&'static str, (bool, Timestamp)>,
}

impl ConditionClock {
    fn observe(&mut self, kind: &'static str, status: bool, now: Timestamp) -> Timestamp {
        let entry = self.since.entry(kind).or_insert((status, now));
        if entry.0 != status {
            *entry = (status, now);
        }
        entry.1
    }
}

fn condition(kind: &str, status: bool, since: Timestamp, generation: i64) -> PodCondition {
    PodCondition {
        type_: kind.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        last_transition_time: Some(Time(since)),
        observed_generation: Some(generation),
        ..Default::default()
    }
}

fn resize_condition(kind: &str, c: &OwnedCondition) -> PodCondition {
    PodCondition {
        type_: kind.to_string(),
        status: "True".to_string(),
        reason: (!c.reason.is_empty()).then(|| c.reason.clone()),
        message: (!c.message.is_empty()).then(|| c.message.clone()),
        last_transition_time: Some(Time(c.since)),
        observed_generation: Some(c.generation),
        ..Default::default()
    }
}

/// The pod phase the kubelet would report.
pub fn phase(pod: &SimPod) -> &'static str {
    if pod.rejected.is_some() {
        return "Failed";
    }
    let all_done = pod.containers.iter().all(|c| c.run == RunState::Done);
    if all_done && !pod.containers.is_empty() {
        let failed = pod
            .containers
            .iter()
            .any(|c| c.last_terminated.as_ref().is_some_and(|t| t.exit_code != 0));
        return if failed { "Failed" } else { "Succeeded" };
    }
    let ever_started = pod
        .containers
        .iter()
        .any(|c| c.started_at.is_some() || c.restart_count > 0);
    if ever_started { "Running" } else { "Pending" }
}

/// The image reference without its tag (`registry:5000/app:1` → `registry:5000/app`).
fn image_repository(image: &str) -> &str {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    }
}

/// Builds the pod status. `carried` are the API's current conditions (non-owned ones are kept).
pub fn build_status(
    pod: &SimPod,
    clock: &mut ConditionClock,
    carried: &[PodCondition],
    host_ip: &str,
    runtime: Runtime,
    now: Timestamp,
) -> PodStatus {
    let generation = pod.generation;
    let mut statuses = Vec::with_capacity(pod.containers.len());
    for (i, c) in pod.containers.iter().enumerate() {
        let allocated = pod.allocated.get(i).copied().unwrap_or(c.spec.resources);
        let state = match &c.run {
            RunState::Creating { .. } => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..Default::default()
            },
            RunState::BackOff { .. } => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".into()),
                    message: Some(format!(
                        "back-off restarting failed container {} in pod {}",
                        c.spec.name, pod.name
                    )),
                }),
                ..Default::default()
            },
            RunState::Running { since, .. } => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(*since)),
                }),
                ..Default::default()
            },
            RunState::Done => ContainerState {
                terminated: Some(terminated(c.last_terminated.as_ref(), &c.id, runtime, now)),
                ..Default::default()
            },
        };
        let last_state = match (&c.run, &c.last_terminated) {
            (RunState::Done, _) | (_, None) => None,
            (_, Some(t)) => Some(ContainerState {
                terminated: Some(terminated(Some(t), &t.container_id, runtime, now)),
                ..Default::default()
            }),
        };
        let has_instance = !matches!(c.run, RunState::Creating { .. } if c.restart_count == 0);
        statuses.push(ContainerStatus {
            name: c.spec.name.clone(),
            image: c.spec.image.clone(),
            // A stable fake digest per image reference, like a registry's content digest.
            image_id: format!(
                "{}@sha256:{}",
                image_repository(&c.spec.image),
                crate::naming::ContainerId::derive(0, &[&c.spec.image]).as_str()
            ),
            container_id: has_instance.then(|| c.id.uri(runtime)),
            ready: c.is_ready(now),
            started: Some(c.is_running()),
            restart_count: c.restart_count,
            state: Some(state),
            last_state,
            // Actual values: the running cgroup's; for a container without one, the allocated values.
            resources: Some(requirements(if c.is_running() {
                &c.actuated
            } else {
                &allocated
            })),
            allocated_resources: Some(requests_map(&allocated)),
            ..Default::default()
        });
    }

    let sandbox_ready = pod.rejected.is_none() && !pod.terminating;
    let all_ready = !pod.containers.is_empty() && pod.containers.iter().all(|c| c.is_ready(now));
    let mut conditions: Vec<PodCondition> = carried
        .iter()
        .filter(|c| !OWNED_CONDITIONS.contains(&c.type_.as_str()))
        .cloned()
        .collect();
    for (kind, status) in [
        ("PodReadyToStartContainers", sandbox_ready),
        ("Initialized", true),
        ("ContainersReady", all_ready),
        ("Ready", all_ready),
    ] {
        let since = clock.observe(kind, status, now);
        conditions.push(condition(kind, status, since, generation));
    }
    if let Some(p) = &pod.resize_pending {
        conditions.push(resize_condition("PodResizePending", p));
    }
    if let Some(p) = &pod.resize_in_progress {
        conditions.push(resize_condition("PodResizeInProgress", p));
    }

    PodStatus {
        phase: Some(phase(pod).to_string()),
        conditions: Some(conditions),
        container_statuses: Some(statuses),
        host_ip: Some(host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: host_ip.to_string(),
        }]),
        pod_ip: Some(pod.pod_ip.clone()),
        pod_ips: Some(vec![PodIP {
            ip: pod.pod_ip.clone(),
        }]),
        qos_class: Some(pod.qos.as_str().to_string()),
        start_time: Some(Time(pod.seen_at)),
        observed_generation: Some(generation),
        reason: pod.rejected.as_ref().map(|r| r.0.clone()),
        message: pod.rejected.as_ref().map(|r| r.1.clone()),
        ..Default::default()
    }
}

fn terminated(
    t: Option<&crate::pod::Terminated>,
    id: &crate::naming::ContainerId,
    runtime: Runtime,
    now: Timestamp,
) -> ContainerStateTerminated {
    match t {
        Some(t) => ContainerStateTerminated {
            container_id: Some(t.container_id.uri(runtime)),
            exit_code: t.exit_code,
            reason: Some(t.reason.clone()),
            started_at: Some(Time(t.started_at)),
            finished_at: Some(Time(t.finished_at)),
            ..Default::default()
        },
        None => ContainerStateTerminated {
            container_id: Some(id.uri(runtime)),
            exit_code: 0,
            reason: Some("Completed".into()),
            finished_at: Some(Time(now)),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::{PodTimings, SimPod};
    use crate::workload::Workload;
    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn sim(annotation: &str) -> SimPod {
        let q = |c: &str, m: &str| -> BTreeMap<String, Quantity> {
            [
                ("cpu".to_string(), Quantity(c.into())),
                ("memory".to_string(), Quantity(m.into())),
            ]
            .into()
        };
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.uid = Some("u-1".into());
        pod.metadata.generation = Some(3);
        pod.metadata.annotations = Some(
            [(
                crate::workload::WORKLOAD_ANNOTATION.to_string(),
                annotation.to_string(),
            )]
            .into(),
        );
        pod.spec = Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("img:1".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(q("250m", "64Mi")),
                    limits: Some(q("500m", "96Mi")),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
        let wl =
            Workload::from_json(r#"{"kind":"constant","cpu":"1m","memory":"1Mi"}"#).expect("model");
        let timings = PodTimings {
            start_delay_ms: 1000,
            ready_delay_ms: 1000,
            backoff_base_ms: 10_000,
        };
        SimPod::new(&pod, 9, "10.244.1.5".into(), &wl, &timings, t(0))
    }

    fn scheduled() -> PodCondition {
        PodCondition {
            type_: "PodScheduled".into(),
            status: "True".into(),
            ..Default::default()
        }
    }

    #[test]
    fn image_repository_strips_only_the_tag() {
        assert_eq!(image_repository("registry:5000/app:1"), "registry:5000/app");
        assert_eq!(image_repository("registry:5000/app"), "registry:5000/app");
        assert_eq!(image_repository("busybox"), "busybox");
    }

    #[test]
    fn pending_then_running_then_ready() {
        let timings = PodTimings {
            start_delay_ms: 1000,
            ready_delay_ms: 1000,
            backoff_base_ms: 10_000,
        };
        let mut p = sim(r#"{"kind":"constant","cpu":"100m","memory":"8Mi"}"#);
        let mut clock = ConditionClock::default();
        let s = build_status(
            &p,
            &mut clock,
            &[scheduled()],
            "10.200.0.11",
            Runtime::Containerd,
            t(0),
        );
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(s.qos_class.as_deref(), Some("Burstable"));
        assert_eq!(s.observed_generation, Some(3));
        let cs = &s.container_statuses.clone().unwrap_or_default()[0];
        assert!(cs.container_id.is_none());
        assert_eq!(
            cs.state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref()),
            Some("ContainerCreating")
        );
        assert_eq!(
            cs.allocated_resources
                .as_ref()
                .and_then(|a| a.get("memory"))
                .map(|q| q.0.as_str()),
            Some("64Mi")
        );
        let conds = s.conditions.clone().unwrap_or_default();
        assert!(
            conds.iter().any(|c| c.type_ == "PodScheduled"),
            "carried over"
        );
        assert!(conds.iter().any(|c| c.type_ == "Ready"
            && c.status == "False"
            && c.observed_generation == Some(3)));

        p.step(t(1), 4, &timings);
        let s = build_status(
            &p,
            &mut clock,
            &[scheduled()],
            "10.200.0.11",
            Runtime::Containerd,
            t(1),
        );
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let cs = &s.container_statuses.clone().unwrap_or_default()[0];
        assert!(!cs.ready);
        assert_eq!(cs.started, Some(true));
        let id = cs.container_id.clone().unwrap_or_default();
        assert!(
            id.starts_with("containerd://") && id.len() == 13 + 64,
            "{id}"
        );
        let limits = cs
            .resources
            .as_ref()
            .and_then(|r| r.limits.clone())
            .unwrap_or_default();
        assert_eq!(limits.get("cpu").map(|q| q.0.as_str()), Some("500m"));
        assert_eq!(limits.get("memory").map(|q| q.0.as_str()), Some("96Mi"));

        let s = build_status(
            &p,
            &mut clock,
            &[scheduled()],
            "10.200.0.11",
            Runtime::Containerd,
            t(2),
        );
        let ready = s
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .expect("Ready");
        assert_eq!(ready.status, "True");
        assert_eq!(ready.last_transition_time, Some(Time(t(2))));
        assert_eq!(s.pod_ip.as_deref(), Some("10.244.1.5"));
    }

    #[test]
    fn oom_shows_in_last_state_and_resize_conditions_render() {
        let timings = PodTimings {
            start_delay_ms: 0,
            ready_delay_ms: 0,
            backoff_base_ms: 10_000,
        };
        let mut p = sim(r#"{"kind":"leak","cpu":"10m","memory":"60Mi","leak_per_second":"40Mi"}"#);
        let mut clock = ConditionClock::default();
        p.step(t(0), 4, &timings);
        p.step(t(1), 4, &timings);
        let first = p.containers[0].id.clone();
        for s in 2..6 {
            p.step(t(s), 4, &timings);
        }
        p.resize_pending = Some(crate::pod::OwnedCondition {
            reason: "Deferred".into(),
            message: "Node didn't have enough resource: cpu".into(),
            since: t(4),
            generation: 3,
        });
        let s = build_status(&p, &mut clock, &[], "h", Runtime::Crio, t(5));
        let cs = &s.container_statuses.clone().unwrap_or_default()[0];
        assert!(cs.restart_count >= 1);
        let term = cs
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.clone())
            .expect("lastState.terminated");
        assert_eq!(term.reason.as_deref(), Some("OOMKilled"));
        assert_eq!(term.exit_code, 137);
        let last_id = term.container_id.clone().unwrap_or_default();
        assert!(last_id.starts_with("cri-o://"));
        assert_ne!(
            Some(last_id),
            cs.container_id,
            "lastState names the previous instance"
        );
        assert_ne!(cs.container_id, Some(first.uri(Runtime::Crio)));
        let pending = s
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "PodResizePending")
            .expect("pending");
        assert_eq!(pending.reason.as_deref(), Some("Deferred"));
        assert_eq!(pending.observed_generation, Some(3));
        assert_eq!(pending.status, "True");
    }
}
