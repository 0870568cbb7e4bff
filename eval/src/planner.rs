//! The real resize planner (`tailor_core::plan`) driving the replay: the trace's container is one pod on a
//! roomy node in `InPlace` mode, and every applied decision is written back into the pod view as the kubelet
//! would (spec, allocated and actual resources, observed generation) and into the planner's own memory.

use tailor_core::estimate::Recommendation;
use tailor_core::plan::ContainerView;
use tailor_core::plan::{
    ContainerKind, ContainerPolicy, ContainerRecommendation, ControlledValues, Decision,
    NodeCapacity, PassState, PlannerConfig, PodInput, PodMemory, PodPhase, PodView, RateLimits,
    Requirements, ResizePolicy as RestartPolicies, ResourceMask, ResourceValues, Termination,
    TerminationReason, UpdateMode, WorkloadPolicy, compute_qos,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use crate::policy::{Controlled, Size};

const NODE: &str = "node";
const CONTAINER: &str = "main";

/// Planner state for one replayed container.
#[derive(Debug)]
pub struct CorePlanner {
    cfg: PlannerConfig,
    rate: RateLimits,
    memory: PodMemory,
    pod: PodView,
    policy: WorkloadPolicy,
    controlled: Controlled,
}

fn requirements(size: &Size, controlled: Controlled) -> Requirements {
    let cpu = |v: MilliCpu| (controlled.cpu && v.get() > 0).then_some(v.get());
    let mem = |v: Bytes| (controlled.memory && v.get() > 0).then_some(v.get());
    Requirements {
        requests: ResourceValues::new(cpu(size.cpu_request), mem(size.memory_request)),
        limits: ResourceValues::new(cpu(size.cpu_limit), mem(size.memory_limit)),
    }
}

impl CorePlanner {
    pub fn new(start: Timestamp, size: &Size, controlled: Controlled) -> Self {
        let spec = requirements(size, controlled);
        let container = ContainerView {
            name: CONTAINER.into(),
            kind: ContainerKind::App,
            spec,
            allocated: Some(spec.requests),
            actual: Some(spec),
            resize_policy: RestartPolicies::default(),
            restart_count: 0,
            last_termination: None,
            running: true,
            ready: true,
            started_at: Some(start),
            working_set: None,
        };
        let pod = PodView {
            namespace: "eval".into(),
            name: "replay".into(),
            workload: "eval/replay".into(),
            node: Some(NODE.into()),
            phase: PodPhase::Running,
            deleting: false,
            qos: compute_qos([&spec]),
            containers: vec![container],
            generation: 1,
            observed_generation: Some(1),
            pending: None,
            in_progress: None,
            static_or_mirror: false,
            windows: false,
            pod_level_resources: false,
            foreign_writer: None,
            ready: true,
            ready_since: Some(start),
            start_time: Some(start),
            boost: None,
        };
        let policy = WorkloadPolicy {
            mode: UpdateMode::InPlace,
            containers: vec![ContainerPolicy {
                name: CONTAINER.into(),
                off: false,
                controlled: ResourceMask {
                    cpu: controlled.cpu,
                    memory: controlled.memory,
                },
                controlled_values: ControlledValues::RequestsAndLimits,
            }],
            min_replicas: None,
            boost: None,
        };
        Self {
            cfg: PlannerConfig::default(),
            rate: RateLimits::unlimited(),
            memory: PodMemory::default(),
            pod,
            policy,
            controlled,
        }
    }

    /// The container's working set, for the planner's rule that memory limits drop only above it.
    pub fn observe_memory(&mut self, working_set: Bytes) {
        if let Some(c) = self.pod.containers.first_mut() {
            c.working_set = Some(working_set);
        }
    }

    /// An OOM kill and restart, as the pod status would show it.
    pub fn record_oom(&mut self, at: Timestamp) {
        if let Some(c) = self.pod.containers.first_mut() {
            c.restart_count += 1;
            c.last_termination = Some(Termination {
                reason: TerminationReason::OomKilled,
                finished_at: Some(at),
            });
        }
    }

    /// Plans once at `now`; a decision that changes resources is applied at once (the node always has room).
    pub fn decide(
        &mut self,
        now: Timestamp,
        size: &Size,
        rec: &Recommendation,
        memory_limit: Option<Bytes>,
    ) -> Option<Size> {
        let c = self.controlled;
        let values = |cpu: MilliCpu, mem: Bytes| {
            ResourceValues::new(c.cpu.then_some(cpu.get()), c.memory.then_some(mem.get()))
        };
        let recs = [ContainerRecommendation {
            name: CONTAINER.into(),
            target: values(rec.target.cpu, rec.target.memory),
            lower: values(rec.lower_bound.cpu, rec.lower_bound.memory),
            upper: values(rec.upper_bound.cpu, rec.upper_bound.memory),
            memory_limit: memory_limit.filter(|_| c.memory),
        }];
        let committed = requirements(size, c).requests;
        let mut pass = PassState::new(&self.cfg, now, &mut self.rate);
        pass.nodes.insert(
            NODE.into(),
            NodeCapacity {
                allocatable_cpu: MilliCpu(1_000_000),
                allocatable_memory: Bytes(1 << 42),
                committed_cpu: committed.cpu.unwrap_or(MilliCpu(0)),
                committed_memory: committed.memory.unwrap_or(Bytes::ZERO),
            },
        );
        let decision = pass.plan(&PodInput {
            pod: &self.pod,
            recommendation: Some(&recs),
            policy: &self.policy,
            memory: &self.memory,
        });
        let after = match &decision {
            Decision::Resize { plan, .. }
            | Decision::Split { now: plan, .. }
            | Decision::Revert { plan, .. } => plan.containers.first().map(|ch| ch.after)?,
            _ => return None,
        };
        let before = self.pod.clone();
        self.pod.generation += 1;
        self.pod.observed_generation = Some(self.pod.generation);
        if let Some(ct) = self.pod.containers.first_mut() {
            ct.spec = after;
            ct.allocated = Some(after.requests);
            ct.actual = Some(after);
        }
        self.pod.qos = compute_qos([&after]);
        self.memory.record_applied(
            &decision,
            &before,
            Some(self.pod.generation),
            &self.cfg,
            now,
        );
        let cpu = |v: Option<MilliCpu>, old: MilliCpu| if c.cpu { v.unwrap_or(old) } else { old };
        let mem = |v: Option<Bytes>, old: Bytes| if c.memory { v.unwrap_or(old) } else { old };
        Some(Size {
            cpu_request: cpu(after.requests.cpu, size.cpu_request),
            cpu_limit: cpu(after.limits.cpu, size.cpu_limit),
            memory_request: mem(after.requests.memory, size.memory_request),
            memory_limit: mem(after.limits.memory, size.memory_limit),
        })
    }
}

#[cfg(test)]
mod tests {
    use tailor_core::estimate::Resources;

    use super::*;
    use crate::policy::LimitRatios;

    fn rec(cpu: i64, mem: i64) -> Recommendation {
        let t = Resources::new(MilliCpu(cpu), Bytes(mem));
        Recommendation {
            target: t,
            lower_bound: Resources::default(),
            upper_bound: Resources::new(MilliCpu(1 << 40), Bytes(1 << 50)),
            uncapped_target: t,
        }
    }

    #[test]
    fn the_core_planner_resizes_down_after_its_cooldown_and_up_at_once_after_an_oom() {
        let start = Timestamp::from_unix_secs(1_700_000_000);
        let min = |m: u64| start.saturating_add(std::time::Duration::from_secs(60 * m));
        let size = Size::from_requests(MilliCpu(1000), Bytes(1 << 30), LimitRatios::default());
        let both = Controlled {
            cpu: true,
            memory: true,
        };
        let mut p = CorePlanner::new(start, &size, both);
        let small = rec(400, 512 << 20);
        assert_eq!(
            p.decide(min(10), &size, &small, None),
            None,
            "down cooldown"
        );
        p.observe_memory(Bytes(300 << 20));
        let down = p
            .decide(min(61), &size, &small, None)
            .expect("drift down after the cooldown");
        assert_eq!(down.cpu_request, MilliCpu(400));
        assert_eq!(down.cpu_limit, MilliCpu(800), "limit keeps its ratio");
        assert_eq!(down.memory_request, Bytes(512 << 20));
        assert_eq!(
            p.decide(min(62), &down, &small, None),
            None,
            "nothing left to do"
        );
        p.record_oom(min(63));
        let up = p
            .decide(min(63), &down, &small, None)
            .expect("an OOM resizes at once");
        assert!(up.memory_limit.get() >= (512i64 << 20) * 12 / 10, "{up:?}");
    }
}
