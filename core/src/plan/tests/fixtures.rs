//! Small builders: a healthy running pod on a roomy node in a three-replica workload.

use std::collections::HashMap;

use crate::plan::units::{at, cpu, mem};
use crate::plan::*;

pub const MI: i64 = 1024 * 1024;
/// Far past every cooldown measured from the pod's start at 0.
pub const NOW: i64 = 100 * 3_600_000;

pub fn vals(cpu_m: Option<i64>, mem_mi: Option<i64>) -> ResourceValues {
    ResourceValues {
        cpu: cpu_m.map(cpu),
        memory: mem_mi.map(|m| mem(m * MI)),
    }
}

pub fn reqs(
    requests: (Option<i64>, Option<i64>),
    limits: (Option<i64>, Option<i64>),
) -> Requirements {
    Requirements {
        requests: vals(requests.0, requests.1),
        limits: vals(limits.0, limits.1),
    }
}

pub fn container(name: &str, spec: Requirements) -> ContainerView {
    ContainerView {
        name: name.to_owned(),
        kind: ContainerKind::App,
        spec,
        allocated: Some(spec.requests),
        actual: Some(spec),
        resize_policy: ResizePolicy::default(),
        restart_count: 0,
        last_termination: None,
        running: true,
        ready: true,
        started_at: Some(at(0)),
        working_set: None,
    }
}

/// Burstable: cpu 1000m/2000m, memory 512Mi/1024Mi.
pub fn burstable() -> ContainerView {
    container(
        "app",
        reqs((Some(1000), Some(512)), (Some(2000), Some(1024))),
    )
}

/// Guaranteed: cpu 1000m, memory 512Mi.
pub fn guaranteed() -> ContainerView {
    container(
        "app",
        reqs((Some(1000), Some(512)), (Some(1000), Some(512))),
    )
}

pub fn pod(containers: Vec<ContainerView>) -> PodView {
    let qos = compute_qos(containers.iter().map(|c| &c.spec));
    PodView {
        namespace: "ns".to_owned(),
        name: "p".to_owned(),
        workload: "ns/Deployment/w".to_owned(),
        node: Some("n1".to_owned()),
        phase: PodPhase::Running,
        deleting: false,
        qos,
        containers,
        generation: 1,
        observed_generation: Some(1),
        pending: None,
        in_progress: None,
        static_or_mirror: false,
        windows: false,
        pod_level_resources: false,
        foreign_writer: None,
        ready: true,
        ready_since: Some(at(0)),
        start_time: Some(at(0)),
        boost: None,
    }
}

/// A recommendation whose bounds are ±20 % around the target.
pub fn rec(name: &str, cpu_m: i64, mem_mi: i64) -> ContainerRecommendation {
    ContainerRecommendation {
        name: name.to_owned(),
        target: vals(Some(cpu_m), Some(mem_mi)),
        lower: ResourceValues {
            cpu: Some(cpu(cpu_m * 8 / 10)),
            memory: Some(mem(mem_mi * MI * 8 / 10)),
        },
        upper: ResourceValues {
            cpu: Some(cpu(cpu_m * 12 / 10)),
            memory: Some(mem(mem_mi * MI * 12 / 10)),
        },
        memory_limit: None,
    }
}

pub fn policy(mode: UpdateMode) -> WorkloadPolicy {
    WorkloadPolicy {
        mode,
        containers: Vec::new(),
        min_replicas: None,
        boost: None,
    }
}

pub fn policy_with(mode: UpdateMode, values: ControlledValues) -> WorkloadPolicy {
    WorkloadPolicy {
        mode,
        containers: vec![ContainerPolicy {
            name: "*".to_owned(),
            off: false,
            controlled: ResourceMask::ALL,
            controlled_values: values,
        }],
        min_replicas: None,
        boost: None,
    }
}

/// The cluster around the pods under test.
pub struct World {
    pub cfg: PlannerConfig,
    pub rate: RateLimits,
    pub nodes: HashMap<String, NodeCapacity>,
    pub budgets: HashMap<String, WorkloadBudget>,
    pub limit_ranges: HashMap<String, LimitRange>,
    pub quotas: HashMap<String, QuotaRoom>,
}

impl World {
    pub fn new() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert("n1".to_owned(), node(64_000, 256 * 1024, 1000, 512));
        let mut budgets = HashMap::new();
        budgets.insert(
            "ns/Deployment/w".to_owned(),
            WorkloadBudget {
                pdb_disruptions_allowed: None,
                restarting: 0,
                live_replicas: 3,
            },
        );
        Self {
            cfg: PlannerConfig::default(),
            rate: RateLimits::unlimited(),
            nodes,
            budgets,
            limit_ranges: HashMap::new(),
            quotas: HashMap::new(),
        }
    }

    pub fn with_node(mut self, n: NodeCapacity) -> Self {
        self.nodes.insert("n1".to_owned(), n);
        self
    }

    pub fn pass(&mut self, now: i64) -> PassState<'_> {
        let mut s = PassState::new(&self.cfg, at(now), &mut self.rate);
        s.nodes = self.nodes.clone();
        s.budgets = self.budgets.clone();
        s.limit_ranges = self.limit_ranges.clone();
        s.quotas = self.quotas.clone();
        s
    }

    /// Plans one pod at `now` in a fresh pass.
    pub fn plan_at(
        &mut self,
        pod: &PodView,
        recs: &[ContainerRecommendation],
        policy: &WorkloadPolicy,
        memory: &PodMemory,
        now: i64,
    ) -> Decision {
        let mut pass = self.pass(now);
        pass.plan(&PodInput {
            pod,
            recommendation: Some(recs),
            policy,
            memory,
        })
    }

    pub fn plan(
        &mut self,
        pod: &PodView,
        recs: &[ContainerRecommendation],
        policy: &WorkloadPolicy,
    ) -> Decision {
        self.plan_at(pod, recs, policy, &PodMemory::default(), NOW)
    }
}

/// `c` after an OOM kill that finished at `finished`.
pub fn oom_killed(mut c: ContainerView, finished: i64) -> ContainerView {
    c.last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(finished)),
    });
    c.restart_count = 1;
    c
}

/// Node with allocatable and committed CPU (millicores) and memory (MiB).
pub fn node(
    alloc_cpu: i64,
    alloc_mem_mi: i64,
    committed_cpu: i64,
    committed_mem_mi: i64,
) -> NodeCapacity {
    NodeCapacity {
        allocatable_cpu: cpu(alloc_cpu),
        allocatable_memory: mem(alloc_mem_mi * MI),
        committed_cpu: cpu(committed_cpu),
        committed_memory: mem(committed_mem_mi * MI),
    }
}

/// The single container change of a Resize (or Split) decision.
pub fn only_change(d: &Decision) -> &ContainerChange {
    let plan = d
        .plan()
        .unwrap_or_else(|| panic!("expected a plan, got {d:?}"));
    assert_eq!(plan.containers.len(), 1, "{d:?}");
    &plan.containers[0]
}

pub fn cpu_req(r: &Requirements) -> Option<i64> {
    r.requests.get(Resource::Cpu)
}
pub fn cpu_lim(r: &Requirements) -> Option<i64> {
    r.limits.get(Resource::Cpu)
}
pub fn mem_req_mi(r: &Requirements) -> Option<i64> {
    r.requests.get(Resource::Memory).map(|v| v / MI)
}
pub fn mem_lim_mi(r: &Requirements) -> Option<i64> {
    r.limits.get(Resource::Memory).map(|v| v / MI)
}
