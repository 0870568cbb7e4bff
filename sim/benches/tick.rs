//! Cost of one simulation tick: the pure cgroup step of one container (baseline) against a full node tick
//! (lifecycle, resize checks, atomic rewrite of every cgroup file) for 10 and 100 single-container pods.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::hint::black_box;
use tailor_sim::cgroup::engine::{CgroupState, Demand, Limits};
use tailor_sim::cgroup::files::WeightFormula;
use tailor_sim::naming::{CgroupDriver, Naming, Runtime};
use tailor_sim::node::{NodeBehaviour, NodeSim, NodeSpec};
use tailor_sim::pod::PodTimings;
use tailor_sim::workload::Workload;

fn pod(i: usize) -> Pod {
    let q = |c: &str, m: &str| {
        [
            ("cpu".to_string(), Quantity(c.into())),
            ("memory".to_string(), Quantity(m.into())),
        ]
        .into()
    };
    let mut p = Pod::default();
    p.metadata.name = Some(format!("p{i}"));
    p.metadata.namespace = Some("default".into());
    p.metadata.uid = Some(format!("00000000-0000-0000-0000-{i:012}"));
    p.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                requests: Some(q("10m", "16Mi")),
                limits: Some(q("50m", "64Mi")),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    p
}

fn node(pods: usize, root: &std::path::Path) -> NodeSim {
    let behaviour = NodeBehaviour {
        naming: Naming { driver: CgroupDriver::Systemd, runtime: Runtime::Containerd },
        weight_formula: WeightFormula::Quadratic,
        timings: PodTimings { start_delay_ms: 0, ready_delay_ms: 0, backoff_base_ms: 10_000 },
        default_workload: Workload::from_json(r#"{"kind":"diurnal","cpu_min":"5m","cpu_max":"80m","memory_min":"8Mi","memory_max":"24Mi","period_seconds":600}"#)
            .expect("model"),
        seed: 1,
        deferred_retry_ms: 180_000,
    };
    let spec = NodeSpec {
        name: "bench".into(),
        cpu_millis: 64_000,
        memory_bytes: 256 << 30,
        max_pods: 1000,
        index: 1,
        reserved_cpu_millis: 0,
        reserved_memory_bytes: 0,
        resize_hold_cpu_millis: 0,
    };
    let mut n = NodeSim::new(spec, behaviour, root.to_path_buf());
    for i in 0..pods {
        n.upsert_pod(&pod(i), Timestamp::UNIX_EPOCH);
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut state = CgroupState::default();
    let demand = Demand {
        cpu_millis: 80,
        anon_bytes: 20 << 20,
        file_bytes: 4 << 20,
    };
    let limits = Limits {
        cpu_millis: Some(50),
        memory_bytes: Some(64 << 20),
    };
    c.bench_function("cgroup_step_one_container", |b| {
        b.iter(|| black_box(state.step(demand, limits, 1_000_000, 64)))
    });

    for pods in [10usize, 100] {
        let dir =
            tempfile::tempdir_in(tailor_sim::cgroup::tree::scratch_parent()).expect("tempdir");
        let mut n = node(pods, dir.path());
        let mut second = 1i64;
        c.bench_function(&format!("node_tick_{pods}_pods"), |b| {
            b.iter(|| {
                second += 1;
                let now = Timestamp::from_second(second).expect("time");
                black_box(n.tick(now).expect("tick"))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
