//! A planning pass over 50 000 pods (two containers each, 1 000 nodes, 5 000 workloads), against a baseline
//! pass that only computes every pod's QoS class over the same data. Goal: the full pass in ≤ 200 ms.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tailor_core::plan::*;
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

const PODS: usize = 50_000;
const NODES: usize = 1_000;
const WORKLOADS: usize = 5_000;
const MI: i64 = 1024 * 1024;
const NOW: i64 = 1_800_000_000_000;

fn vals(c: i64, m: i64) -> ResourceValues {
    ResourceValues {
        cpu: Some(MilliCpu(c)),
        memory: Some(Bytes(m * MI)),
    }
}

fn container(name: &str, i: usize) -> ContainerView {
    let c = 100 + (i as i64 * 37) % 900;
    let m = 128 + (i as i64 * 53) % 896;
    let spec = Requirements {
        requests: vals(c, m),
        limits: vals(c * 2, m * 2),
    };
    ContainerView {
        name: name.to_owned(),
        kind: ContainerKind::App,
        spec,
        allocated: Some(spec.requests),
        actual: Some(spec),
        resize_policy: ResizePolicy {
            cpu: RestartPolicy::NotRequired,
            memory: if i.is_multiple_of(4) {
                RestartPolicy::RestartContainer
            } else {
                RestartPolicy::NotRequired
            },
        },
        restart_count: 0,
        last_termination: i.is_multiple_of(97).then_some(Termination {
            reason: TerminationReason::OomKilled,
            finished_at: Some(Timestamp::from_unix_millis(NOW - 5_000)),
        }),
        running: true,
        ready: true,
        started_at: Some(Timestamp::from_unix_millis(0)),
        working_set: Some(Bytes(m * MI / 2)),
    }
}

struct Fixture {
    pods: Vec<PodView>,
    recs: Vec<Vec<ContainerRecommendation>>,
    policies: Vec<WorkloadPolicy>,
    memory: PodMemory,
    nodes: HashMap<String, NodeCapacity>,
    budgets: HashMap<String, WorkloadBudget>,
}

fn fixture() -> Fixture {
    let workloads: Vec<String> = (0..WORKLOADS)
        .map(|w| format!("ns-{}/Deployment/w{w}", w % 100))
        .collect();
    let mut pods = Vec::with_capacity(PODS);
    let mut recs = Vec::with_capacity(PODS);
    for i in 0..PODS {
        let containers = vec![container("app", i), container("sidecar", i + 1)];
        let qos = compute_qos(containers.iter().map(|c| &c.spec));
        // A third of the pods are far off their target, the rest close to it.
        let factor = match i % 3 {
            0 => 500,
            1 => 1_500,
            _ => 1_050,
        };
        recs.push(
            containers
                .iter()
                .map(|c| {
                    let cpu = c.spec.requests.cpu.map_or(0, |v| v.0) * factor / 1000;
                    let mem = c.spec.requests.memory.map_or(0, |v| v.0) * factor / 1000 / MI;
                    ContainerRecommendation {
                        name: c.name.clone(),
                        target: vals(cpu, mem),
                        lower: vals(cpu * 8 / 10, mem * 8 / 10),
                        upper: vals(cpu * 12 / 10, mem * 12 / 10),
                        memory_limit: None,
                    }
                })
                .collect(),
        );
        pods.push(PodView {
            namespace: format!("ns-{}", i % 100),
            name: format!("pod-{i}"),
            workload: workloads[i % WORKLOADS].clone(),
            node: Some(format!("node-{}", i % NODES)),
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
            ready_since: Some(Timestamp::from_unix_millis(0)),
            start_time: Some(Timestamp::from_unix_millis(0)),
            boost: None,
        });
    }
    let modes = [UpdateMode::InPlace, UpdateMode::InPlaceOrRecreate];
    let policies = (0..WORKLOADS)
        .map(|w| WorkloadPolicy {
            mode: modes[w % 2],
            containers: Vec::new(),
            min_replicas: None,
            boost: None,
        })
        .collect();
    let nodes = (0..NODES)
        .map(|n| {
            let cap = NodeCapacity {
                allocatable_cpu: MilliCpu(64_000),
                allocatable_memory: Bytes(256 * 1024 * MI),
                committed_cpu: MilliCpu(50_000),
                committed_memory: Bytes(200 * 1024 * MI),
            };
            (format!("node-{n}"), cap)
        })
        .collect();
    let budgets = workloads
        .iter()
        .map(|w| {
            (
                w.clone(),
                WorkloadBudget {
                    pdb_disruptions_allowed: Some(1),
                    restarting: 0,
                    live_replicas: 10,
                },
            )
        })
        .collect();
    Fixture {
        pods,
        recs,
        policies,
        memory: PodMemory::default(),
        nodes,
        budgets,
    }
}

fn full_pass(f: &Fixture, cfg: &PlannerConfig) -> usize {
    let mut rate = RateLimits::new(
        TokenBucket::new(1_000, 10, Timestamp::from_unix_millis(NOW)),
        2,
        1_000,
    );
    let mut pass = PassState::new(cfg, Timestamp::from_unix_millis(NOW), &mut rate);
    pass.nodes = f.nodes.clone();
    pass.budgets = f.budgets.clone();
    let mut resizes = 0;
    for (i, pod) in f.pods.iter().enumerate() {
        let input = PodInput {
            pod,
            recommendation: Some(&f.recs[i]),
            policy: &f.policies[i % WORKLOADS],
            memory: &f.memory,
        };
        if black_box(pass.plan(&input)).plan().is_some() {
            resizes += 1;
        }
    }
    resizes
}

fn baseline_pass(f: &Fixture) -> usize {
    f.pods
        .iter()
        .filter(|p| compute_qos(p.containers.iter().map(|c| &c.spec)) == QosClass::Burstable)
        .count()
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let cfg = PlannerConfig::default();
    let mut g = c.benchmark_group("planner_pass_50k_pods");
    g.sample_size(20);
    g.bench_function("baseline_qos_only", |b| {
        b.iter(|| black_box(baseline_pass(&f)))
    });
    g.bench_function("full_plan", |b| b.iter(|| black_box(full_pass(&f, &cfg))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
