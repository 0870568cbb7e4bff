//! One simulated pod on one node: its containers' lifecycle (creating, running, OOM-killed, back-off,
//! restarted with a new container ID and cgroup), the kubelet's allocation and actuation state for in-place
//! resizes, and the cgroup counters. Pure: every method takes `now`; the node writes the files.

use crate::cgroup::engine::{CgroupState, Demand, Limits, StepOutcome};
use crate::naming::{ContainerId, QosClass};
use crate::quantity::{parse_bytes, parse_cpu_millis};
use crate::resize::{ResizeRestart, Resources};
use crate::workload::{PodWorkload, WORKLOAD_ANNOTATION, Workload};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};
use std::path::PathBuf;

/// Microseconds from `a` to `b` (0 if `b` is earlier).
pub fn micros_between(a: Timestamp, b: Timestamp) -> u64 {
    u64::try_from(b.as_microsecond() - a.as_microsecond()).unwrap_or(0)
}

/// Adds milliseconds to a timestamp (saturating at the representable range).
pub fn plus_ms(t: Timestamp, ms: u64) -> Timestamp {
    let us = t
        .as_microsecond()
        .saturating_add(i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX));
    Timestamp::from_microsecond(us).unwrap_or(t)
}

/// The parts of a container spec the simulator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub resources: Resources,
    pub cpu_policy: ResizeRestart,
    pub memory_policy: ResizeRestart,
}

fn quantity_map(
    map: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
    key: &str,
) -> Option<String> {
    map.and_then(|m| m.get(key)).map(|q| q.0.clone())
}

/// Reads one container's spec. Unparseable quantities count as unset (the API server validated them already).
pub fn container_spec(c: &Container) -> ContainerSpec {
    let res = c.resources.as_ref();
    let req = res.and_then(|r| r.requests.as_ref());
    let lim = res.and_then(|r| r.limits.as_ref());
    let cpu = |m, k| quantity_map(m, k).and_then(|s| parse_cpu_millis(&s).ok());
    let mem = |m, k| quantity_map(m, k).and_then(|s| parse_bytes(&s).ok());
    let policy = |resource: &str| {
        c.resize_policy
            .iter()
            .flatten()
            .find(|p| p.resource_name == resource)
            .map_or(ResizeRestart::NotRequired, |p| {
                if p.restart_policy == "RestartContainer" {
                    ResizeRestart::RestartContainer
                } else {
                    ResizeRestart::NotRequired
                }
            })
    };
    ContainerSpec {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        resources: Resources {
            cpu_request: cpu(req, "cpu"),
            cpu_limit: cpu(lim, "cpu"),
            memory_request: mem(req, "memory"),
            memory_limit: mem(lim, "memory"),
        },
        cpu_policy: policy("cpu"),
        memory_policy: policy("memory"),
    }
}

/// QoS class computed from container resources, like the API server's `ComputePodQOS` (requests default to
/// limits when unset, which the API server's defaulting has already done for stored pods).
pub fn compute_qos(containers: &[Resources]) -> QosClass {
    let mut any = false;
    let mut guaranteed = true;
    for r in containers {
        let cpu_req = r.cpu_request.or(r.cpu_limit);
        let mem_req = r.memory_request.or(r.memory_limit);
        any |= cpu_req.is_some()
            || mem_req.is_some()
            || r.cpu_limit.is_some()
            || r.memory_limit.is_some();
        guaranteed &= r.cpu_limit.is_some()
            && r.memory_limit.is_some()
            && cpu_req == r.cpu_limit
            && mem_req == r.memory_limit;
    }
    if !any {
        QosClass::BestEffort
    } else if guaranteed {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    pub reason: String,
    pub exit_code: i32,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub container_id: ContainerId,
}

/// Where a container is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Image pull and create; starts at `start_at`.
    Creating { start_at: Timestamp },
    /// Running since `since`; counts as Ready from `ready_at`.
    Running {
        since: Timestamp,
        ready_at: Timestamp,
    },
    /// Exited and waiting out the restart back-off until `until`.
    BackOff { until: Timestamp },
    /// Exited for good (restartPolicy Never, or the pod is terminating).
    Done,
}

/// Lifecycle timings and policies shared by the pods of a node.
#[derive(Debug, Clone)]
pub struct PodTimings {
    /// From first sight to container start.
    pub start_delay_ms: u64,
    /// From container start to Ready.
    pub ready_delay_ms: u64,
    /// First restart back-off; doubles per restart up to five minutes (the first restart is immediate).
    pub backoff_base_ms: u64,
}

/// One container of a simulated pod.
#[derive(Debug, Clone)]
pub struct SimContainer {
    pub spec: ContainerSpec,
    pub id: ContainerId,
    pub restart_count: i32,
    pub run: RunState,
    pub started_at: Option<Timestamp>,
    pub last_terminated: Option<Terminated>,
    pub cgroup: CgroupState,
    /// Resources written into the current cgroup (what the runtime accepted).
    pub actuated: Resources,
    pub workload: Workload,
    /// Counters of earlier instances of this container (their cgroups are gone; the pod cgroup keeps them).
    pub retired: CgroupState,
}

impl SimContainer {
    /// Limits currently enforced on the cgroup.
    pub fn limits(&self) -> Limits {
        Limits {
            cpu_millis: self.actuated.cpu_limit,
            memory_bytes: self.actuated.memory_limit,
        }
    }

    /// True while the process runs (a cgroup exists).
    pub fn is_running(&self) -> bool {
        matches!(self.run, RunState::Running { .. })
    }

    /// Ready at `now`.
    pub fn is_ready(&self, now: Timestamp) -> bool {
        matches!(self.run, RunState::Running { ready_at, .. } if now >= ready_at)
    }
}

/// A condition the simulated kubelet owns, with when it began and at which pod generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedCondition {
    pub reason: String,
    pub message: String,
    pub since: Timestamp,
    pub generation: i64,
}

/// Something that happened during a step, for logs and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEvent {
    Started {
        container: String,
        id: ContainerId,
    },
    OomKilled {
        container: String,
        id: ContainerId,
    },
    Restarted {
        container: String,
        old: ContainerId,
        new: ContainerId,
        reason: String,
    },
}

/// A pod the simulated kubelet runs.
#[derive(Debug, Clone)]
pub struct SimPod {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    pub qos: QosClass,
    pub restart_policy: String,
    pub priority: i32,
    pub pod_ip: String,
    pub seen_at: Timestamp,
    pub sandbox_id: ContainerId,
    pub sandbox: CgroupState,
    pub containers: Vec<SimContainer>,
    /// Latest desired container resources from the spec.
    pub desired: Vec<Resources>,
    /// Resources the kubelet has admitted (`allocatedResources`).
    pub allocated: Vec<Resources>,
    pub resize_pending: Option<OwnedCondition>,
    pub resize_in_progress: Option<OwnedCondition>,
    pub terminating: bool,
    /// Set when admission refused the pod (e.g. `OutOfcpu`); the pod is Failed.
    pub rejected: Option<(String, String)>,
    pub peak_memory: u64,
    last_step: Timestamp,
    seed: u64,
}

impl SimPod {
    /// A pod first seen bound to this node at `now`.
    pub fn new(
        pod: &Pod,
        seed: u64,
        pod_ip: String,
        default_workload: &Workload,
        timings: &PodTimings,
        now: Timestamp,
    ) -> Self {
        let meta = &pod.metadata;
        let uid = meta.uid.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let specs: Vec<ContainerSpec> = spec
            .map(|s| s.containers.iter().map(container_spec).collect())
            .unwrap_or_default();
        let desired: Vec<Resources> = specs.iter().map(|c| c.resources).collect();
        let qos = pod
            .status
            .as_ref()
            .and_then(|s| s.qos_class.as_deref())
            .and_then(QosClass::parse)
            .unwrap_or_else(|| compute_qos(&desired));
        let pod_workload = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(WORKLOAD_ANNOTATION))
            .and_then(|text| match PodWorkload::from_json(text) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(pod = %meta.name.clone().unwrap_or_default(), error = %e, "ignoring bad workload annotation");
                    None
                }
            });
        let start_at = plus_ms(now, timings.start_delay_ms);
        let containers = specs
            .into_iter()
            .map(|spec| {
                let workload = pod_workload
                    .as_ref()
                    .and_then(|w| w.for_container(&spec.name))
                    .cloned()
                    .unwrap_or_else(|| default_workload.clone());
                SimContainer {
                    id: ContainerId::derive(seed, &[&uid, &spec.name, "0"]),
                    restart_count: 0,
                    run: RunState::Creating { start_at },
                    started_at: None,
                    last_terminated: None,
                    cgroup: CgroupState::default(),
                    actuated: spec.resources,
                    workload,
                    retired: CgroupState::default(),
                    spec,
                }
            })
            .collect();
        SimPod {
            sandbox_id: ContainerId::derive(seed, &[&uid, "sandbox"]),
            uid,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            generation: meta.generation.unwrap_or(1),
            qos,
            restart_policy: spec
                .and_then(|s| s.restart_policy.clone())
                .unwrap_or_else(|| "Always".into()),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            pod_ip,
            seen_at: now,
            sandbox: CgroupState::default(),
            containers,
            allocated: desired.clone(),
            desired,
            resize_pending: None,
            resize_in_progress: None,
            terminating: false,
            rejected: None,
            peak_memory: 0,
            last_step: now,
            seed,
        }
    }

    /// Takes in a newer version of the pod object. Returns true if the desired resources changed.
    pub fn observe(&mut self, pod: &Pod) -> bool {
        self.generation = pod.metadata.generation.unwrap_or(self.generation);
        if pod.metadata.deletion_timestamp.is_some() {
            self.terminating = true;
        }
        let desired: Vec<Resources> = pod
            .spec
            .as_ref()
            .map(|s| {
                s.containers
                    .iter()
                    .map(|c| container_spec(c).resources)
                    .collect()
            })
            .unwrap_or_default();
        if desired.len() != self.containers.len() || desired == self.desired {
            return false;
        }
        self.desired = desired;
        true
    }

    /// Allocated requests summed (what this pod holds on the node).
    pub fn allocated_requests(&self) -> (u64, u64) {
        crate::resize::pod_requests(&self.allocated)
    }

    /// True if the desired requests would fit the node were it empty (so a refusal is Deferred, not Infeasible).
    pub fn desired_fits_node(&self, room: crate::resize::NodeRoom) -> bool {
        let (cpu, mem) = crate::resize::pod_requests(&self.desired);
        cpu <= room.allocatable_cpu && mem <= room.allocatable_memory
    }

    /// True while the pod holds node resources.
    pub fn is_active(&self) -> bool {
        self.rejected.is_none() && !self.terminating
    }

    fn restart_backoff_ms(&self, restart_count: i32, timings: &PodTimings) -> u64 {
        if restart_count <= 0 {
            return 0;
        }
        let shift = u32::try_from(restart_count - 1).unwrap_or(0).min(16);
        timings
            .backoff_base_ms
            .saturating_mul(1 << shift)
            .min(300_000)
    }

    /// Replaces container `i` with a new instance: new ID, fresh cgroup, restartCount + 1, last state recorded.
    /// The new instance runs with the allocated resources.
    fn replace_instance(
        &mut self,
        i: usize,
        reason: &str,
        exit_code: i32,
        now: Timestamp,
        restart_at: Option<Timestamp>,
    ) -> ContainerId {
        let uid = self.uid.clone();
        let seed = self.seed;
        let allocated = self.allocated[i];
        let c = &mut self.containers[i];
        let old = c.id.clone();
        c.last_terminated = Some(Terminated {
            reason: reason.to_string(),
            exit_code,
            started_at: c.started_at.unwrap_or(now),
            finished_at: now,
            container_id: old.clone(),
        });
        let mut retired = std::mem::take(&mut c.cgroup);
        retired.memory = Default::default();
        accumulate(&mut c.retired, &retired);
        c.restart_count += 1;
        c.id = ContainerId::derive(seed, &[&uid, &c.spec.name, &c.restart_count.to_string()]);
        c.actuated = allocated;
        c.started_at = None;
        c.run = match restart_at {
            Some(t) if t > now => RunState::BackOff { until: t },
            Some(_) => RunState::Creating { start_at: now },
            None => RunState::Done,
        };
        old
    }

    /// Restarts container `i` now because its resize policy requires it.
    pub fn restart_for_resize(&mut self, i: usize, now: Timestamp) -> PodEvent {
        let old = self.replace_instance(i, "Error", 143, now, Some(now));
        let c = &mut self.containers[i];
        PodEvent::Restarted {
            container: c.spec.name.clone(),
            old,
            new: c.id.clone(),
            reason: "resize".into(),
        }
    }

    /// Advances lifecycle and counters to `now`. `node_cpus` bounds CPU use.
    pub fn step(&mut self, now: Timestamp, node_cpus: u64, timings: &PodTimings) -> Vec<PodEvent> {
        self.step_with_shares(now, node_cpus, timings, &[])
    }

    /// CPU each container would run at `now` if the node were idle (demand capped by its quota), in
    /// millicores; 0 for containers that are not running.
    pub fn cpu_wants(&self, now: Timestamp) -> Vec<u64> {
        self.containers
            .iter()
            .map(|c| match c.run {
                RunState::Running { since, .. } if self.is_active() => {
                    let demand = c
                        .workload
                        .demand(micros_between(since, now) / 1000)
                        .cpu_millis;
                    let quota = crate::cgroup::files::cpu_quota_us(c.actuated.cpu_limit)
                        .map_or(u64::MAX, |q| q * 1000 / crate::cgroup::files::CFS_PERIOD_US);
                    demand.min(quota)
                }
                _ => 0,
            })
            .collect()
    }

    /// Like [`SimPod::step`], with each container's CPU capped at `shares[i]` millicores by contention on
    /// the node (missing entries are uncapped).
    pub fn step_with_shares(
        &mut self,
        now: Timestamp,
        node_cpus: u64,
        timings: &PodTimings,
        shares: &[u64],
    ) -> Vec<PodEvent> {
        let dt = micros_between(self.last_step, now);
        self.last_step = self.last_step.max(now);
        let mut events = Vec::new();
        if self.rejected.is_some() {
            return events;
        }
        if self.terminating {
            for c in &mut self.containers {
                if c.is_running() {
                    c.last_terminated = None;
                    c.run = RunState::Done;
                }
            }
            return events;
        }
        self.sandbox.step(
            Demand {
                cpu_millis: 0,
                anon_bytes: 64 * 4096,
                file_bytes: 0,
            },
            Limits::default(),
            dt,
            node_cpus,
        );
        for i in 0..self.containers.len() {
            let c = &mut self.containers[i];
            match c.run.clone() {
                RunState::Creating { start_at } | RunState::BackOff { until: start_at }
                    if now >= start_at =>
                {
                    c.run = RunState::Running {
                        since: now,
                        ready_at: plus_ms(now, timings.ready_delay_ms),
                    };
                    c.started_at = Some(now);
                    events.push(PodEvent::Started {
                        container: c.spec.name.clone(),
                        id: c.id.clone(),
                    });
                }
                RunState::Running { since, .. } => {
                    let since_ms = micros_between(since, now) / 1000;
                    let demand = c.workload.demand(since_ms);
                    let limits = c.limits();
                    let share = shares.get(i).copied().unwrap_or(u64::MAX);
                    if c.cgroup.step_shared(demand, limits, dt, node_cpus, share)
                        == StepOutcome::OomKilled
                    {
                        let name = c.spec.name.clone();
                        let id = c.id.clone();
                        events.push(PodEvent::OomKilled {
                            container: name,
                            id,
                        });
                        let restart = self.restart_policy != "Never";
                        let delay =
                            self.restart_backoff_ms(self.containers[i].restart_count, timings);
                        let restart_at = restart.then(|| plus_ms(now, delay));
                        if restart {
                            self.replace_instance(i, "OOMKilled", 137, now, restart_at);
                        } else {
                            let c = &mut self.containers[i];
                            c.last_terminated = Some(Terminated {
                                reason: "OOMKilled".into(),
                                exit_code: 137,
                                started_at: c.started_at.unwrap_or(now),
                                finished_at: now,
                                container_id: c.id.clone(),
                            });
                            c.run = RunState::Done;
                        }
                    }
                }
                _ => {}
            }
        }
        let total: u64 = self
            .containers
            .iter()
            .filter(|c| c.is_running())
            .map(|c| c.cgroup.memory.current())
            .sum::<u64>()
            + self.sandbox.memory.current();
        self.peak_memory = self.peak_memory.max(total);
        events
    }

    /// Memory usage of container `i` as the kubelet's stats provider reports it.
    pub fn memory_usage(&self, i: usize) -> u64 {
        self.containers.get(i).map_or(0, |c| {
            if c.is_running() {
                c.cgroup.memory.current()
            } else {
                0
            }
        })
    }

    /// Relative cgroup path of the pod under `naming`.
    pub fn pod_dir(&self, naming: &crate::naming::Naming) -> PathBuf {
        naming.pod_dir(self.qos, &self.uid)
    }
}

/// Adds one cgroup's cumulative counters into an accumulator (memory sizes are not cumulative and are skipped).
pub fn accumulate(into: &mut CgroupState, from: &CgroupState) {
    into.cpu.add(&from.cpu);
    into.counters.add(&from.counters);
    into.events.add(&from.events);
    into.cpu_pressure.some.total += from.cpu_pressure.some.total;
    into.cpu_pressure.full.total += from.cpu_pressure.full.total;
    into.memory_pressure.some.total += from.memory_pressure.some.total;
    into.memory_pressure.full.total += from.memory_pressure.full.total;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::format_bytes;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use std::collections::BTreeMap;

    fn res(cpu_req: &str, cpu_lim: &str, mem_req: &str, mem_lim: &str) -> ResourceRequirements {
        let pick = |pairs: [(&str, &str); 2]| -> BTreeMap<String, Quantity> {
            pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect()
        };
        let requests = pick([("cpu", cpu_req), ("memory", mem_req)]);
        let limits = pick([("cpu", cpu_lim), ("memory", mem_lim)]);
        ResourceRequirements {
            requests: Some(requests),
            limits: Some(limits),
            ..Default::default()
        }
    }

    pub(crate) fn pod_with(resources: ResourceRequirements, annotation: Option<&str>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.uid = Some("0000aaaa-1111-2222-3333-444455556666".into());
        pod.metadata.generation = Some(1);
        if let Some(a) = annotation {
            pod.metadata.annotations =
                Some([(WORKLOAD_ANNOTATION.to_string(), a.to_string())].into());
        }
        pod.spec = Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("busybox".into()),
                resources: Some(resources),
                ..Default::default()
            }],
            ..Default::default()
        });
        pod
    }

    fn timings() -> PodTimings {
        PodTimings {
            start_delay_ms: 1000,
            ready_delay_ms: 2000,
            backoff_base_ms: 10_000,
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn qos_classes() {
        let g = Resources {
            cpu_request: Some(1),
            cpu_limit: Some(1),
            memory_request: Some(2),
            memory_limit: Some(2),
        };
        assert_eq!(compute_qos(&[g]), QosClass::Guaranteed);
        assert_eq!(
            compute_qos(&[Resources {
                cpu_request: None,
                memory_request: None,
                ..g
            }]),
            QosClass::Guaranteed
        );
        assert_eq!(
            compute_qos(&[Resources {
                cpu_request: Some(0),
                ..g
            }]),
            QosClass::Burstable
        );
        assert_eq!(compute_qos(&[g, Resources::default()]), QosClass::Burstable);
        assert_eq!(compute_qos(&[Resources::default()]), QosClass::BestEffort);
    }

    #[test]
    fn lifecycle_and_oom_restart() {
        let wl = Workload::from_json(r#"{"kind":"constant","cpu":"10m","memory":"1Mi"}"#)
            .expect("model");
        let leak = r#"{"kind":"leak","cpu":"100m","memory":"16Mi","leak_per_second":"8Mi"}"#;
        let pod = pod_with(
            res("100m", "200m", "32Mi", &format_bytes(64 << 20)),
            Some(leak),
        );
        let mut p = SimPod::new(&pod, 1, "10.0.0.2".into(), &wl, &timings(), t(0));
        assert_eq!(p.qos, QosClass::Burstable);
        assert!(matches!(p.containers[0].run, RunState::Creating { .. }));
        let ev = p.step(t(1), 4, &timings());
        assert!(matches!(ev.as_slice(), [PodEvent::Started { .. }]));
        assert!(!p.containers[0].is_ready(t(2)));
        assert!(p.containers[0].is_ready(t(3)));
        let first_id = p.containers[0].id.clone();
        let mut oom_at = None;
        for s in 2..20 {
            let ev = p.step(t(s), 4, &timings());
            if ev.iter().any(|e| matches!(e, PodEvent::OomKilled { .. })) {
                oom_at = Some(s);
                break;
            }
        }
        // 16Mi + 8Mi/s passes 64Mi (with kernel memory) after about 6 s of running.
        assert!(matches!(oom_at, Some(6 | 7)), "{oom_at:?}");
        let c = &p.containers[0];
        assert_eq!(c.restart_count, 1);
        assert_ne!(c.id, first_id);
        assert_eq!(
            c.last_terminated.as_ref().map(|l| l.reason.as_str()),
            Some("OOMKilled")
        );
        assert_eq!(
            c.last_terminated.as_ref().map(|l| &l.container_id),
            Some(&first_id)
        );
        assert_eq!(c.retired.events.oom_kill, 1);
        assert_eq!(c.cgroup.cpu.usage_usec, 0, "new cgroup starts from zero");
        // First restart is immediate; the second waits for the back-off.
        let ev = p.step(t(oom_at.unwrap_or(0) + 1), 4, &timings());
        assert!(matches!(ev.as_slice(), [PodEvent::Started { .. }]));
    }

    #[test]
    fn observe_detects_resize() {
        let wl = Workload::from_json(r#"{"kind":"constant","cpu":"10m","memory":"1Mi"}"#)
            .expect("model");
        let pod = pod_with(res("100m", "200m", "32Mi", "64Mi"), None);
        let mut p = SimPod::new(&pod, 1, "10.0.0.2".into(), &wl, &timings(), t(0));
        assert!(!p.observe(&pod));
        let mut resized = pod_with(res("150m", "300m", "32Mi", "64Mi"), None);
        resized.metadata.generation = Some(2);
        assert!(p.observe(&resized));
        assert_eq!(p.generation, 2);
        assert_eq!(p.desired[0].cpu_limit, Some(300));
        assert_eq!(p.allocated[0].cpu_limit, Some(200));
    }
}
