//! Per-container sampling cost on a tmpfs tree of 330 containers (165 pods × 2 containers, plus their
//! sandboxes), the agent's reader against cgroups-rs 0.5.1 reading the same directories in the same run.
//!
//! Throughput is reported in containers, so criterion's time per element is the cost of one container's
//! sample. `cargo bench -p tailor-node-agent --bench sampling`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::memory::MemController;
use criterion::{Criterion, Throughput, criterion_group};
use tailor_core::report::ContainerRef;
use tailor_node_agent::cgroup::FileMode;
use tailor_node_agent::discovery::{Driver, Qos, Target, walk};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id, pod_uid};
use tailor_node_agent::sampler::{Sampler, SamplerConfig};

/// The agent's configurations: re-opening files (any filesystem) or keeping them open (cgroupfs), with the
/// default cadence (slow files every 5th sample) and with every file on every sample.
const VARIANTS: [(&str, FileMode, u32); 4] = [
    ("agent_reopen", FileMode::Reopen, 5),
    ("agent_keep_open", FileMode::KeepOpen, 5),
    ("agent_reopen_all_files", FileMode::Reopen, 1),
    ("agent_keep_open_all_files", FileMode::KeepOpen, 1),
];

const PODS: u32 = 165;
const CONTAINERS: u64 = 330;

/// A tree on tmpfs when the machine has /dev/shm (as the kernel's cgroupfs, it has no disk behind it).
fn tree() -> (tempfile::TempDir, Vec<Target>) {
    let tmp = if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").expect("tmpfs tempdir")
    } else {
        tempfile::tempdir().expect("tempdir")
    };
    let tree = FixtureTree::new(tmp.path(), Driver::Systemd, Runtime::Containerd).expect("tree");
    let mut targets = Vec::new();
    for p in 0..PODS {
        let qos = [Qos::Guaranteed, Qos::Burstable, Qos::BestEffort][(p % 3) as usize];
        let uid = pod_uid(p);
        tree.add_container(&uid, qos, &container_id(0x5a, p), &FixtureStats::default())
            .expect("sandbox");
        for c in 0..2u8 {
            let id = container_id(0xa0 + c, p);
            let dir = tree
                .add_container(&uid, qos, &id, &FixtureStats::default())
                .expect("container");
            targets.push(Target {
                container: ContainerRef {
                    namespace: "bench".into(),
                    pod: format!("pod-{p}"),
                    pod_uid: uid.clone(),
                    container: format!("c{c}"),
                    container_id: id,
                },
                dir,
                qos,
                started_ms: None,
            });
        }
    }
    (tmp, targets)
}

fn sampling(c: &mut Criterion) {
    let (tmp, targets) = tree();
    let mut group = c.benchmark_group("sample_330_containers");
    group.throughput(Throughput::Elements(CONTAINERS));
    group.sample_size(30);

    for (name, mode, slow_every) in VARIANTS {
        let mut sampler = Sampler::new(SamplerConfig {
            file_mode: mode,
            slow_every,
            ..SamplerConfig::default()
        });
        assert_eq!(sampler.sync(targets.clone(), 1_800_000_000_000), 0);
        let mut tick: u64 = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                tick += 1;
                let out = sampler.sweep(
                    1_800_000_000_000 + i64::try_from(tick).unwrap_or(0),
                    tick * 1_000_000,
                );
                assert_eq!(out.sampled, 330);
                black_box(out)
            });
        });
        // Keep the summaries from growing without bound across iterations, as reports would.
        black_box(sampler.take_reports(1_900_000_000_000));
    }

    let root: PathBuf = tmp.path().to_path_buf();
    let controllers: Vec<(CpuController, MemController)> = targets
        .iter()
        .map(|t| {
            (
                CpuController::new(t.dir.clone(), root.clone(), true),
                MemController::new(t.dir.clone(), root.clone(), true),
            )
        })
        .collect();
    group.bench_function("cgroups_rs_0_5_1", |b| {
        b.iter(|| {
            for (cpu, mem) in &controllers {
                black_box(cpu.cpu());
                black_box(mem.memory_stat());
            }
        });
    });
    group.finish();

    let mut group = c.benchmark_group("discovery_330_containers");
    group.throughput(Throughput::Elements(CONTAINERS));
    group.sample_size(30);
    group.bench_function("walk", |b| {
        b.iter(|| black_box(walk(tmp.path()).expect("walk")))
    });
    group.finish();
}

/// Thread CPU time, which the other tenants of a shared machine do not inflate the way they inflate wall time.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU time per container per sample over `SWEEPS` sweeps of every variant, printed with the ratio to
/// cgroups-rs reading the same directories.
fn cpu_time_summary() {
    const SWEEPS: u32 = 60;
    let (tmp, targets) = tree();
    #[allow(clippy::cast_precision_loss)]
    let per_container = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(SWEEPS) / CONTAINERS as f64;
    let mut rows = Vec::new();
    for (name, mode, slow_every) in VARIANTS {
        let mut sampler = Sampler::new(SamplerConfig {
            file_mode: mode,
            slow_every,
            ..SamplerConfig::default()
        });
        sampler.sync(targets.clone(), 1_800_000_000_000);
        for i in 0..10u64 {
            black_box(sampler.sweep(1_800_000_000_000, i * 1_000_000));
        }
        let t0 = thread_cpu();
        for i in 0..u64::from(SWEEPS) {
            black_box(sampler.sweep(1_800_000_000_000, (i + 10) * 1_000_000));
        }
        rows.push((name, per_container(thread_cpu() - t0)));
    }
    let root: PathBuf = tmp.path().to_path_buf();
    let controllers: Vec<(CpuController, MemController)> = targets
        .iter()
        .map(|t| {
            (
                CpuController::new(t.dir.clone(), root.clone(), true),
                MemController::new(t.dir.clone(), root.clone(), true),
            )
        })
        .collect();
    let t0 = thread_cpu();
    for _ in 0..SWEEPS {
        for (cpu, mem) in &controllers {
            black_box(cpu.cpu());
            black_box(mem.memory_stat());
        }
    }
    let baseline = per_container(thread_cpu() - t0);
    println!(
        "\nCPU time per container per sample ({CONTAINERS} containers, {SWEEPS} sweeps, thread CPU clock):"
    );
    for (name, us) in &rows {
        println!(
            "  {name:<28} {us:>8.2} µs   {:.2}× cgroups-rs",
            us / baseline
        );
    }
    println!(
        "  {:<28} {baseline:>8.2} µs   1.00× (baseline, same run)",
        "cgroups_rs_0_5_1"
    );
}

criterion_group!(benches, sampling);

fn main() {
    cpu_time_summary();
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
