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
            RunState::Creating { .. } if c.restart_count == 0 => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..Default::default()
            },
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
            image_id: format!("{}@sha256:{}", c.spec.image, &pod.sandbox_id.as_str()[..64]),
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
