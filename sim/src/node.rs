//! One simulated node: the pods bound to it, the kubelet's resize admission and actuation across them, and
//! the cgroup tree it writes. Pure apart from the tree writes; time comes in as `now`.

use crate::cgroup::engine::CgroupState;
use crate::cgroup::files::{WeightFormula, cpu_shares, cpu_weight};
use crate::cgroup::tree::{CgroupConfig, CgroupTree, TreeError};
use crate::naming::{Naming, QosClass};
use crate::pod::{OwnedCondition, PodEvent, PodTimings, RunState, SimPod, accumulate};
use crate::resize::{
    Action, Admission, NodeRoom, PendingResize, Resources, admit, plan_container, retry_order,
};
use crate::status::{ConditionClock, build_status};
use crate::truth::{ContainerTruth, NodeTruth};
use crate::workload::Workload;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Static description of a simulated node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub name: String,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub max_pods: u64,
    /// Small integer that numbers the node's addresses: InternalIP `10.200.0.<index + 10>`, pods `10.244.<index>.x`.
    pub index: u8,
    /// Resources reserved for system daemons (capacity − allocatable).
    pub reserved_cpu_millis: u64,
    pub reserved_memory_bytes: u64,
    /// CPU the kubelet's *resize* admission holds back on top of what allocatable shows, so a resize the API
    /// server's figures say fits goes `Deferred` (or `Infeasible` when it exceeds allocatable minus the hold).
    /// A test knob standing in for a kubelet whose view of room is smaller than the API's (exclusive CPUs,
    /// a pending node shrink); 0 in a normal node.
    pub resize_hold_cpu_millis: u64,
}

impl NodeSpec {
    /// Allocatable CPU in millicores.
    pub fn allocatable_cpu(&self) -> u64 {
        self.cpu_millis.saturating_sub(self.reserved_cpu_millis)
    }

    /// Allocatable memory in bytes.
    pub fn allocatable_memory(&self) -> u64 {
        self.memory_bytes.saturating_sub(self.reserved_memory_bytes)
    }

    /// The node's InternalIP.
    pub fn host_ip(&self) -> String {
        format!("10.200.0.{}", self.index.saturating_add(10))
    }
}

/// Behaviour shared by every simulated node.
#[derive(Debug, Clone)]
pub struct NodeBehaviour {
    pub naming: Naming,
    pub weight_formula: WeightFormula,
    pub timings: PodTimings,
    pub default_workload: Workload,
    pub seed: u64,
    /// Periodic retry of Deferred resizes (the kubelet's is 3 minutes).
    pub deferred_retry_ms: u64,
}

/// A log-worthy thing that happened on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    pub pod: String,
    pub uid: String,
    pub event: NodeEventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEventKind {
    Pod(PodEvent),
    ResizeAccepted,
    ResizePending { reason: String, message: String },
    ResizeCompleted,
    ResizeError(String),
}

/// A simulated node and its pods.
#[derive(Debug)]
pub struct NodeSim {
    pub spec: NodeSpec,
    pub behaviour: NodeBehaviour,
    pub tree: CgroupTree,
    pub pods: BTreeMap<String, SimPod>,
    clocks: BTreeMap<String, ConditionClock>,
    written: BTreeMap<String, BTreeSet<PathBuf>>,
    next_ip: u32,
    retry_deferred: bool,
    last_periodic_retry: Option<Timestamp>,
}

impl NodeSim {
    /// A node with an empty tree under `cgroup_root`.
    pub fn new(spec: NodeSpec, behaviour: NodeBehaviour, cgroup_root: PathBuf) -> Self {
        NodeSim {
            spec,
            behaviour,
            tree: CgroupTree::new(cgroup_root),
            pods: BTreeMap::new(),
            clocks: BTreeMap::new(),
            written: BTreeMap::new(),
            next_ip: 2,
            retry_deferred: false,
            last_periodic_retry: None,
        }
    }

    /// Creates the kubelet's top-level and QoS slices.
    pub fn init_tree(&mut self) -> Result<(), TreeError> {
        let n = self.behaviour.naming;
        for qos in [
            QosClass::Guaranteed,
            QosClass::Burstable,
            QosClass::BestEffort,
        ] {
            self.tree.ensure_dir(&n.qos_dir(qos))?;
        }
        Ok(())
    }

    fn room_excluding(&self, uid: &str) -> NodeRoom {
        let (cpu, mem) = self
            .pods
            .values()
            .filter(|p| p.uid != uid && p.is_active())
            .map(SimPod::allocated_requests)
            .fold((0, 0), |(c, m), (pc, pm)| (c + pc, m + pm));
        NodeRoom {
            allocatable_cpu: self.spec.allocatable_cpu(),
            allocatable_memory: self.spec.allocatable_memory(),
            others_cpu: cpu,
            others_memory: mem,
        }
    }

    /// Takes in a pod bound to this node (new or updated).
    pub fn upsert_pod(&mut self, pod: &Pod, now: Timestamp) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        if let Some(existing) = self.pods.get_mut(&uid) {
            let was_terminating = existing.terminating;
            if existing.observe(pod) {
                // A new spec supersedes any earlier decision; other deferred resizes get a retry too.
                existing.resize_pending = None;
                self.retry_deferred = true;
            }
            if existing.terminating && !was_terminating {
                self.retry_deferred = true;
            }
            return;
        }
        let ip = format!("10.244.{}.{}", self.spec.index, self.next_ip % 250 + 2);
        self.next_ip = self.next_ip.wrapping_add(1);
        let mut sim = SimPod::new(
            pod,
            self.behaviour.seed,
            ip,
            &self.behaviour.default_workload,
            &self.behaviour.timings,
            now,
        );
        sim.observe(pod);
        // Admission at pod start: the kubelet rejects a pod that does not fit allocatable.
        let room = self.room_excluding(&uid);
        let (cpu, mem) = sim.allocated_requests();
        if room.others_cpu + cpu > room.allocatable_cpu {
            sim.rejected = Some((
                "OutOfcpu".into(),
                format!(
                    "Pod was rejected: Node didn't have enough resource: cpu, requested: {cpu}, used: {}, capacity: {}",
                    room.others_cpu, room.allocatable_cpu
                ),
            ));
        } else if room.others_memory + mem > room.allocatable_memory {
            sim.rejected = Some((
                "OutOfmemory".into(),
                format!(
                    "Pod was rejected: Node didn't have enough resource: memory, requested: {mem}, used: {}, capacity: {}",
                    room.others_memory, room.allocatable_memory
                ),
            ));
        }
        self.pods.insert(uid, sim);
    }

    /// Forgets a pod that is gone from the API; its cgroups are removed.
    pub fn remove_pod(&mut self, uid: &str) -> Result<(), TreeError> {
        if let Some(p) = self.pods.remove(uid) {
            self.tree.remove(&p.pod_dir(&self.behaviour.naming))?;
            self.retry_deferred = true;
        }
        self.clocks.remove(uid);
        self.written.remove(uid);
        Ok(())
    }

    /// Runs resize admission for every pod whose spec differs from its allocation, in the kubelet's order.
    fn admit_resizes(&mut self, now: Timestamp) -> Vec<NodeEvent> {
        let periodic_due = self.last_periodic_retry.is_none_or(|t| {
            crate::pod::micros_between(t, now) / 1000 >= self.behaviour.deferred_retry_ms
        });
        if periodic_due {
            self.last_periodic_retry = Some(now);
        }
        let retry = std::mem::take(&mut self.retry_deferred) || periodic_due;
        let mut queue: Vec<PendingResize> = self
            .pods
            .values()
            .filter(|p| p.is_active() && p.desired != p.allocated)
            .filter(|p| match &p.resize_pending {
                None => true,
                Some(c) if c.reason == "Deferred" => retry,
                Some(_) => false,
            })
            .map(|p| {
                let (dc, dm) = crate::resize::pod_requests(&p.desired);
                let (ac, am) = p.allocated_requests();
                PendingResize {
                    key: p.uid.clone(),
                    increases_requests: dc > ac || dm > am,
                    priority: p.priority,
                    guaranteed: p.qos == QosClass::Guaranteed,
                    pending_since: p
                        .resize_pending
                        .as_ref()
                        .map_or(i64::MIN, |c| c.since.as_microsecond()),
                }
            })
            .collect();
        retry_order(&mut queue);
        let mut events = Vec::new();
        for item in queue {
            let mut room = self.room_excluding(&item.key);
            room.allocatable_cpu = room
                .allocatable_cpu
                .saturating_sub(self.spec.resize_hold_cpu_millis);
            let Some(p) = self.pods.get_mut(&item.key) else {
                continue;
            };
            match admit(&p.desired, &p.allocated, room) {
                Admission::Unchanged => p.resize_pending = None,
                Admission::Accept => {
                    p.allocated = p.desired.clone();
                    p.resize_pending = None;
                    let since = p.resize_in_progress.as_ref().map_or(now, |c| c.since);
                    p.resize_in_progress = Some(OwnedCondition {
                        reason: String::new(),
                        message: String::new(),
                        since,
                        generation: p.generation,
                    });
                    events.push(NodeEvent {
                        pod: p.name.clone(),
                        uid: p.uid.clone(),
                        event: NodeEventKind::ResizeAccepted,
                    });
                }
                Admission::Deferred(message) | Admission::Infeasible(message) => {
                    let reason = if p.desired_fits_node(room) {
                        "Deferred"
                    } else {
                        "Infeasible"
                    };
                    let since = match &p.resize_pending {
                        Some(c) if c.reason == reason => c.since,
                        _ => now,
                    };
                    let changed = p.resize_pending.as_ref().is_none_or(|c| c.reason != reason);
                    p.resize_pending = Some(OwnedCondition {
                        reason: reason.into(),
                        message: message.clone(),
                        since,
                        generation: p.generation,
                    });
                    if changed {
                        events.push(NodeEvent {
                            pod: p.name.clone(),
                            uid: p.uid.clone(),
                            event: NodeEventKind::ResizePending {
                                reason: reason.into(),
                                message,
                            },
                        });
                    }
                }
            }
        }
        events
    }

    /// Moves every container's actuated resources to its allocation: in place, by restart, or refused.
    fn actuate(&mut self, now: Timestamp) -> Vec<NodeEvent> {
        let mut events = Vec::new();
        for p in self.pods.values_mut().filter(|p| p.is_active()) {
            let mut error = None;
            let mut pending = false;
            for i in 0..p.containers.len() {
                let allocated = p.allocated[i];
                let usage = p.memory_usage(i);
                let c = &p.containers[i];
                if !c.is_running() {
                    // No cgroup to change: the next instance starts with the allocation.
                    p.containers[i].actuated = allocated;
                    continue;
                }
                let action = plan_container(
                    &c.spec.name,
                    &c.actuated,
                    &allocated,
                    c.spec.cpu_policy,
                    c.spec.memory_policy,
                    usage,
                );
                match action {
                    Action::None => {}
                    Action::InPlace => p.containers[i].actuated = allocated,
                    Action::Restart => {
                        let ev = p.restart_for_resize(i, now);
                        events.push(NodeEvent {
                            pod: p.name.clone(),
                            uid: p.uid.clone(),
                            event: NodeEventKind::Pod(ev),
                        });
                    }
                    Action::Error(m) => {
                        pending = true;
                        error = Some(m);
                    }
                }
            }
            let done = !pending
                && p.containers
                    .iter()
                    .zip(&p.allocated)
                    .all(|(c, a)| c.actuated == *a);
            match (&mut p.resize_in_progress, done, error) {
                (Some(_), true, _) => {
                    p.resize_in_progress = None;
                    events.push(NodeEvent {
                        pod: p.name.clone(),
                        uid: p.uid.clone(),
                        event: NodeEventKind::ResizeCompleted,
                    });
                }
                (slot, false, Some(message)) => {
                    let since = slot.as_ref().map_or(now, |c| c.since);
                    let generation = slot.as_ref().map_or(p.generation, |c| c.generation);
                    let changed = slot.as_ref().is_none_or(|c| c.message != message);
                    *slot = Some(OwnedCondition {
                        reason: "Error".into(),
                        message: message.clone(),
                        since,
                        generation,
                    });
                    if changed {
                        events.push(NodeEvent {
                            pod: p.name.clone(),
                            uid: p.uid.clone(),
                            event: NodeEventKind::ResizeError(message),
                        });
                    }
                }
                _ => {}
            }
        }
        events
    }

    /// Advances every pod to `now`, handles resizes, and rewrites the cgroup tree.
    pub fn tick(&mut self, now: Timestamp) -> Result<Vec<NodeEvent>, TreeError> {
        let mut events = self.admit_resizes(now);
        events.extend(self.actuate(now));
        let cpus = self.spec.cpu_millis.div_ceil(1000);
        let mut shares = self.cpu_shares(now);
        for p in self.pods.values_mut() {
            let name = p.name.clone();
            let uid = p.uid.clone();
            let pod_shares = shares.remove(&uid).unwrap_or_default();
            events.extend(
                p.step_with_shares(now, cpus, &self.behaviour.timings, &pod_shares)
                    .into_iter()
                    .map(|e| NodeEvent {
                        pod: name.clone(),
                        uid: uid.clone(),
                        event: NodeEventKind::Pod(e),
                    }),
            );
        }
        self.write_tree()?;
        Ok(events)
    }

    /// Splits the node's CPU between the running containers by `cpu.weight` when they want more than it has.
    fn cpu_shares(&self, now: Timestamp) -> BTreeMap<String, Vec<u64>> {
        let mut index = Vec::new();
        let mut wants = Vec::new();
        for p in self.pods.values() {
            for (i, want) in p.cpu_wants(now).into_iter().enumerate() {
                let weight = self.container_config(&p.containers[i].actuated).cpu_weight;
                index.push((p.uid.clone(), i));
                wants.push((want, weight));
            }
        }
        let fair = crate::contention::fair_shares(self.spec.cpu_millis, &wants);
        let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (((uid, i), share), (want, _)) in index.into_iter().zip(fair).zip(wants) {
            let v = out.entry(uid).or_default();
            v.resize(i + 1, u64::MAX);
            // A container that gets all it wants (up to its quota) is not capped: the quota throttles it.
            v[i] = if share >= want { u64::MAX } else { share };
        }
        out
    }

    fn container_config(&self, r: &Resources) -> CgroupConfig {
        let request = r.cpu_request.or(r.cpu_limit).unwrap_or(0);
        CgroupConfig {
            cpu_limit_millis: r.cpu_limit,
            cpu_weight: cpu_weight(cpu_shares(request), self.behaviour.weight_formula),
            memory_max: r.memory_limit,
        }
    }

    fn write_tree(&mut self) -> Result<(), TreeError> {
        let naming = self.behaviour.naming;
        let mut all_written = BTreeMap::new();
        for (uid, p) in &self.pods {
            let pod_dir = p.pod_dir(&naming);
            let mut now_written = BTreeSet::new();
            if p.is_active() {
                let mut total = CgroupState::default();
                accumulate(&mut total, &p.sandbox);
                total.memory = p.sandbox.memory;
                let sandbox_dir = naming.sandbox_dir(p.qos, uid, &p.sandbox_id);
                self.tree.write_cgroup(
                    &sandbox_dir,
                    &p.sandbox,
                    &CgroupConfig {
                        cpu_limit_millis: None,
                        cpu_weight: 1,
                        memory_max: None,
                    },
                )?;
                now_written.insert(sandbox_dir);
                for c in &p.containers {
                    accumulate(&mut total, &c.retired);
                    if c.is_running() {
                        accumulate(&mut total, &c.cgroup);
                        total.memory.add(&c.cgroup.memory);
                        let dir = naming.container_dir(p.qos, uid, &c.id);
                        self.tree.write_cgroup(
                            &dir,
                            &c.cgroup,
                            &self.container_config(&c.actuated),
                        )?;
                        now_written.insert(dir);
                    }
                }
                total.peak = p.peak_memory.max(total.memory.current());
                let actuated: Vec<Resources> = p.containers.iter().map(|c| c.actuated).collect();
                let all =
                    |f: fn(&Resources) -> Option<u64>| actuated.iter().map(f).sum::<Option<u64>>();
                let requests: u64 = actuated
                    .iter()
                    .map(|r| r.cpu_request.or(r.cpu_limit).unwrap_or(0))
                    .sum();
                let pod_cfg = CgroupConfig {
                    cpu_limit_millis: all(|r| r.cpu_limit),
                    cpu_weight: cpu_weight(cpu_shares(requests), WeightFormula::Linear),
                    memory_max: all(|r| r.memory_limit),
                };
                self.tree.write_cgroup(&pod_dir, &total, &pod_cfg)?;
            }
            let before = self.written.get(uid).cloned().unwrap_or_default();
            for stale in before.difference(&now_written) {
                self.tree.remove(stale)?;
            }
            if !p.is_active() {
                self.tree.remove(&pod_dir)?;
            }
            all_written.insert(uid.clone(), now_written);
        }
        self.written = all_written;
        Ok(())
    }

    /// The status to publish for pod `uid`.
    pub fn status(
        &mut self,
        uid: &str,
        carried: &[PodCondition],
        now: Timestamp,
    ) -> Option<PodStatus> {
        let p = self.pods.get(uid)?;
        let clock = self.clocks.entry(uid.to_string()).or_default();
        Some(build_status(
            p,
            clock,
            carried,
            &self.spec.host_ip(),
            self.behaviour.naming.runtime,
            now,
        ))
    }

    /// Pods that are terminating and whose containers have all stopped (ready to be deleted from the API).
    pub fn finished_terminating(&self) -> Vec<(String, String, String)> {
        self.pods
            .values()
            .filter(|p| {
                p.terminating
                    && p.containers.iter().all(|c| {
                        c.run == RunState::Done || matches!(c.run, RunState::Creating { .. })
                    })
            })
            .map(|p| (p.uid.clone(), p.namespace.clone(), p.name.clone()))
            .collect()
    }

    /// Ground truth of what was written: per running container, the counters and limits in its cgroup files.
    pub fn truth(&self) -> NodeTruth {
        let naming = self.behaviour.naming;
        let mut containers = Vec::new();
        for p in self.pods.values().filter(|p| p.is_active()) {
            for c in p.containers.iter().filter(|c| c.is_running()) {
                let dir = naming.container_dir(p.qos, &p.uid, &c.id);
                containers.push(ContainerTruth {
                    namespace: p.namespace.clone(),
                    pod: p.name.clone(),
                    pod_uid: p.uid.clone(),
                    container: c.spec.name.clone(),
                    container_id: c.id.uri(naming.runtime),
                    cgroup_path: self.tree.abs(&dir).display().to_string(),
                    cpu_usage_usec: c.cgroup.cpu.usage_usec,
                    cpu_rate_millis: c.cgroup.last_rate_millis,
                    nr_periods: c.cgroup.cpu.nr_periods,
                    nr_throttled: c.cgroup.cpu.nr_throttled,
                    throttled_usec: c.cgroup.cpu.throttled_usec,
                    memory_current: c.cgroup.memory.current(),
                    working_set: c.cgroup.memory.working_set(),
                    memory_peak: c.cgroup.peak,
                    memory_max: c.actuated.memory_limit,
                    cpu_limit_millis: c.actuated.cpu_limit,
                    oom_kills: c.retired.events.oom_kill + c.cgroup.events.oom_kill,
                    restart_count: c.restart_count,
                });
            }
        }
        NodeTruth {
            node: self.spec.name.clone(),
            containers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::{CgroupDriver, Runtime};
    use k8s_openapi::api::core::v1::{
        Container, ContainerResizePolicy, PodSpec, ResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn pod(uid: &str, cpu: &str, mem: &str, mem_policy: &str, workload: &str) -> Pod {
        let q = |cpu: &str, mem: &str| {
            [
                ("cpu".to_string(), Quantity(cpu.into())),
                ("memory".to_string(), Quantity(mem.into())),
            ]
            .into()
        };
        let mut p = Pod::default();
        p.metadata.name = Some(format!("pod-{uid}"));
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(uid.into());
        p.metadata.generation = Some(1);
        p.metadata.annotations = Some(
            [(
                crate::workload::WORKLOAD_ANNOTATION.to_string(),
                workload.to_string(),
            )]
            .into(),
        );
        p.spec = Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("img".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(q(cpu, mem)),
                    limits: Some(q(cpu, mem)),
                    ..Default::default()
                }),
                resize_policy: Some(vec![
                    ContainerResizePolicy {
                        resource_name: "cpu".into(),
                        restart_policy: "NotRequired".into(),
                    },
                    ContainerResizePolicy {
                        resource_name: "memory".into(),
                        restart_policy: mem_policy.into(),
                    },
                ]),
                ..Default::default()
            }],
            ..Default::default()
        });
        p
    }

    fn node(root: &std::path::Path) -> NodeSim {
        let behaviour = NodeBehaviour {
            naming: Naming {
                driver: CgroupDriver::Systemd,
                runtime: Runtime::Containerd,
            },
            weight_formula: WeightFormula::Quadratic,
            timings: PodTimings {
                start_delay_ms: 0,
                ready_delay_ms: 0,
                backoff_base_ms: 1000,
            },
            default_workload: Workload::from_json(
                r#"{"kind":"constant","cpu":"10m","memory":"1Mi"}"#,
            )
            .expect("model"),
            seed: 1,
            deferred_retry_ms: 180_000,
        };
        let spec = NodeSpec {
            name: "n1".into(),
            cpu_millis: 2000,
            memory_bytes: 4 << 30,
            max_pods: 110,
            index: 1,
            reserved_cpu_millis: 0,
            reserved_memory_bytes: 0,
            resize_hold_cpu_millis: 0,
        };
        NodeSim::new(spec, behaviour, root.to_path_buf())
    }

    const SMALL: &str = r#"{"kind":"constant","cpu":"50m","memory":"8Mi"}"#;

    fn read(n: &NodeSim, uid: &str, file: &str) -> String {
        let p = &n.pods[uid];
        let dir = n
            .behaviour
            .naming
            .container_dir(p.qos, uid, &p.containers[0].id);
        std::fs::read_to_string(n.tree.abs(&dir).join(file)).unwrap_or_default()
    }

    fn resize(p: &mut Pod, cpu: &str, mem: &str, generation: i64) {
        let q = |cpu: &str, mem: &str| {
            [
                ("cpu".to_string(), Quantity(cpu.into())),
                ("memory".to_string(), Quantity(mem.into())),
            ]
            .into()
        };
        if let Some(c) = p.spec.as_mut().and_then(|s| s.containers.first_mut()) {
            c.resources = Some(ResourceRequirements {
                requests: Some(q(cpu, mem)),
                limits: Some(q(cpu, mem)),
                ..Default::default()
            });
        }
        p.metadata.generation = Some(generation);
    }

    #[test]
    fn cpu_resize_in_place_then_infeasible_then_deferred() -> Result<(), TreeError> {
        let dir = tempfile::tempdir().map_err(|source| TreeError {
            op: "tmp",
            path: PathBuf::new(),
            source,
        })?;
        let mut n = node(dir.path());
        let mut a = pod("a", "500m", "64Mi", "NotRequired", SMALL);
        let b = pod("b", "1", "64Mi", "NotRequired", SMALL);
        n.upsert_pod(&a, t(0));
        n.upsert_pod(&b, t(0));
        n.tick(t(1))?;
        assert_eq!(read(&n, "a", "cpu.max"), "50000 100000\n");
        let id = n.pods["a"].containers[0].id.clone();

        resize(&mut a, "800m", "64Mi", 2);
        n.upsert_pod(&a, t(2));
        let ev = n.tick(t(2))?;
        assert!(
            ev.iter().any(|e| e.event == NodeEventKind::ResizeCompleted),
            "{ev:?}"
        );
        assert_eq!(read(&n, "a", "cpu.max"), "80000 100000\n");
        assert_eq!(
            n.pods["a"].containers[0].id, id,
            "NotRequired keeps the container"
        );
        assert_eq!(n.pods["a"].containers[0].restart_count, 0);
        assert!(n.pods["a"].resize_in_progress.is_none());

        resize(&mut a, "3", "64Mi", 3);
        n.upsert_pod(&a, t(3));
        n.tick(t(3))?;
        assert_eq!(
            n.pods["a"]
                .resize_pending
                .as_ref()
                .map(|c| c.reason.as_str()),
            Some("Infeasible")
        );
        assert_eq!(read(&n, "a", "cpu.max"), "80000 100000\n");

        resize(&mut a, "1500m", "64Mi", 4);
        n.upsert_pod(&a, t(4));
        n.tick(t(4))?;
        let pending = n.pods["a"].resize_pending.clone();
        assert_eq!(
            pending.as_ref().map(|c| c.reason.as_str()),
            Some("Deferred")
        );
        assert_eq!(pending.as_ref().map(|c| c.generation), Some(4));
        n.remove_pod("b")?;
        n.tick(t(5))?;
        assert!(n.pods["a"].resize_pending.is_none());
        assert_eq!(read(&n, "a", "cpu.max"), "150000 100000\n");
        let status = n
            .status("a", &[], t(5))
            .and_then(|s| s.container_statuses)
            .unwrap_or_default();
        let limits = status[0]
            .resources
            .as_ref()
            .and_then(|r| r.limits.clone())
            .unwrap_or_default();
        assert_eq!(limits.get("cpu").map(|q| q.0.as_str()), Some("1500m"));
        Ok(())
    }

    #[test]
    fn resize_hold_defers_what_allocatable_has_room_for() -> Result<(), TreeError> {
        let dir = tempfile::tempdir().map_err(|source| TreeError {
            op: "tmp",
            path: PathBuf::new(),
            source,
        })?;
        let mut n = node(dir.path());
        // 2 CPUs allocatable, the kubelet's resize admission keeps 1 back.
        n.spec.resize_hold_cpu_millis = 1000;
        let mut a = pod("a", "400m", "64Mi", "NotRequired", SMALL);
        let b = pod("b", "400m", "64Mi", "NotRequired", SMALL);
        n.upsert_pod(&a, t(0));
        n.upsert_pod(&b, t(0));
        n.tick(t(1))?;
        let reason = |n: &NodeSim| {
            n.pods["a"]
                .resize_pending
                .as_ref()
                .map(|c| c.reason.clone())
        };
        // 700m + 400m of b fits 2000m allocatable but not the 1000m the kubelet lets resizes use.
        resize(&mut a, "700m", "64Mi", 2);
        n.upsert_pod(&a, t(2));
        n.tick(t(2))?;
        assert_eq!(reason(&n).as_deref(), Some("Deferred"));
        // Above allocatable minus the hold: Infeasible.
        resize(&mut a, "1200m", "64Mi", 3);
        n.upsert_pod(&a, t(3));
        n.tick(t(3))?;
        assert_eq!(reason(&n).as_deref(), Some("Infeasible"));
        // Within what the kubelet allows: accepted.
        resize(&mut a, "600m", "64Mi", 4);
        n.upsert_pod(&a, t(4));
        n.tick(t(4))?;
        assert_eq!(reason(&n), None);
        Ok(())
    }

    #[test]
    fn cgroupfs_driver_with_crio_names_the_tree() -> Result<(), TreeError> {
        let dir = tempfile::tempdir().map_err(|source| TreeError {
            op: "tmp",
            path: PathBuf::new(),
            source,
        })?;
        let mut n = node(dir.path());
        n.behaviour.naming = Naming {
            driver: CgroupDriver::Cgroupfs,
            runtime: Runtime::Crio,
        };
        n.init_tree()?;
        let mut p = pod("0a-1b", "500m", "64Mi", "NotRequired", SMALL);
        if let Some(c) = p
            .spec
            .as_mut()
            .and_then(|s| s.containers.first_mut())
            .and_then(|c| c.resources.as_mut())
        {
            c.limits = None;
        }
        n.upsert_pod(&p, t(0));
        n.tick(t(1))?;
        let sim = &n.pods["0a-1b"];
        assert_eq!(sim.qos, QosClass::Burstable);
        let leaf = dir.path().join(format!(
            "kubepods/burstable/pod0a-1b/crio-{}",
            sim.containers[0].id.as_str()
        ));
        assert_eq!(
            std::fs::read_to_string(leaf.join("cpu.max")).unwrap_or_default(),
            "max 100000\n"
        );
        assert!(
            dir.path()
                .join(format!(
                    "kubepods/burstable/pod0a-1b/crio-{}",
                    sim.sandbox_id.as_str()
                ))
                .is_dir()
        );
        assert!(dir.path().join("kubepods/besteffort").is_dir());
        let status = n
            .status("0a-1b", &[], t(1))
            .and_then(|s| s.container_statuses)
            .unwrap_or_default();
        assert!(
            status[0]
                .container_id
                .as_deref()
                .is_some_and(|id| id.starts_with("cri-o://"))
        );
        Ok(())
    }

    #[test]
    fn oversubscribed_node_shares_cpu_by_weight() -> Result<(), TreeError> {
        let dir = tempfile::tempdir().map_err(|source| TreeError {
            op: "tmp",
            path: PathBuf::new(),
            source,
        })?;
        let mut n = node(dir.path());
        // Node has 2 cores; three pods want 1 core each with limits of 2: 2000m shared 1:1:2 by request.
        let busy = r#"{"kind":"constant","cpu":"1","memory":"8Mi"}"#;
        let q = |p: &mut Pod, req: &str| {
            if let Some(c) = p.spec.as_mut().and_then(|s| s.containers.first_mut()) {
                let m = |v: &str| -> std::collections::BTreeMap<String, Quantity> {
                    [
                        ("cpu".to_string(), Quantity(v.into())),
                        ("memory".to_string(), Quantity("64Mi".into())),
                    ]
                    .into()
                };
                c.resources = Some(ResourceRequirements {
                    requests: Some(m(req)),
                    limits: Some(m("2")),
                    ..Default::default()
                });
            }
        };
        for (uid, req) in [("x", "250m"), ("y", "250m"), ("z", "500m")] {
            let mut p = pod(uid, "1", "64Mi", "NotRequired", busy);
            q(&mut p, req);
            n.upsert_pod(&p, t(0));
        }
        n.tick(t(0))?;
        n.tick(t(1))?;
        let rate = |uid: &str| n.pods[uid].containers[0].cgroup.last_rate_millis;
        let total = rate("x") + rate("y") + rate("z");
        assert!((1990..=2000).contains(&total), "work-conserving: {total}");
        assert!(
            rate("z") > rate("x") && rate("x") == rate("y"),
            "{} {} {}",
            rate("x"),
            rate("y"),
            rate("z")
        );
        let c = &n.pods["x"].containers[0].cgroup;
        assert_eq!(c.cpu.nr_throttled, 0, "contention is not throttling");
        assert!(c.cpu_pressure.some.total > 0);
        Ok(())
    }

    #[test]
    fn memory_resize_restarts_or_errors() -> Result<(), TreeError> {
        let dir = tempfile::tempdir().map_err(|source| TreeError {
            op: "tmp",
            path: PathBuf::new(),
            source,
        })?;
        let mut n = node(dir.path());
        let mut r = pod("r", "500m", "64Mi", "RestartContainer", SMALL);
        let mut e = pod(
            "e",
            "500m",
            "256Mi",
            "NotRequired",
            r#"{"kind":"constant","cpu":"50m","memory":"100Mi"}"#,
        );
        n.upsert_pod(&r, t(0));
        n.upsert_pod(&e, t(0));
        n.tick(t(1))?;
        let old = n.pods["r"].containers[0].id.clone();
        resize(&mut r, "500m", "128Mi", 2);
        n.upsert_pod(&r, t(2));
        n.tick(t(2))?;
        n.tick(t(3))?;
        let c = &n.pods["r"].containers[0];
        assert_eq!(c.restart_count, 1);
        assert_ne!(c.id, old);
        assert!(c.is_running());
        assert_eq!(read(&n, "r", "memory.max"), format!("{}\n", 128u64 << 20));
        assert!(
            !dir.path()
                .join(
                    n.behaviour
                        .naming
                        .container_dir(QosClass::Guaranteed, "r", &old)
                )
                .exists(),
            "old cgroup removed"
        );

        resize(&mut e, "500m", "64Mi", 2);
        n.upsert_pod(&e, t(4));
        n.tick(t(4))?;
        let cond = n.pods["e"].resize_in_progress.clone();
        assert_eq!(cond.as_ref().map(|c| c.reason.as_str()), Some("Error"));
        assert!(
            cond.as_ref()
                .is_some_and(|c| c.message.contains("above the new limit"))
        );
        assert_eq!(read(&n, "e", "memory.max"), format!("{}\n", 256u64 << 20));
        assert_eq!(n.pods["e"].containers[0].restart_count, 0);
        Ok(())
    }
}
