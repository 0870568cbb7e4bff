//! Per-container sampling cost on a tmpfs tree of 330 containers (165 pods × 2 containers, plus their
//! sandboxes), the agent's reader against cgroups-rs 0.5.1 reading the same directories in the same run.
//!
//! Throughput is reported in containers, so criterion's time per element is the cost of one container's
//! sample. `cargo bench -p tailor-node-agent --bench sampling`. Before criterion runs, a table of thread CPU time
//! per container per sample is printed (rounds interleaved across variants, median of rounds), with the ratio to
//! cgroups-rs measured in the same rounds. The `parts` group times the pieces of one sample (parsing, one file
//! read per mode) to show where the time goes.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::memory::MemController;
use criterion::{Criterion, Throughput, criterion_group};
use tailor_core::report::ContainerRef;
use tailor_node_agent::cgroup::stats::{CpuStat, MemoryStat};
use tailor_node_agent::cgroup::{CgroupFiles, FileMode};
use tailor_node_agent::discovery::{Driver, Qos, Target, walk};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id, pod_uid};
use tailor_node_agent::sampler::{Sampler, SamplerConfig};

/// The agent's configurations: name, file mode, slow-file cadence, memory.events watched.
/// The first two are what the agent runs with (`auto` picks keep-open on cgroupfs, re-open elsewhere); the
/// others show what the cadence and the watch save.
const VARIANTS: [(&str, FileMode, u32, bool); 6] = [
    ("agent_keep_open", FileMode::KeepOpen, 5, true),
    ("agent_reopen", FileMode::Reopen, 5, true),
    ("agent_keep_open_polled", FileMode::KeepOpen, 5, false),
    ("agent_reopen_polled", FileMode::Reopen, 5, false),
    ("agent_keep_open_all_files", FileMode::KeepOpen, 1, false),
    ("agent_reopen_all_files", FileMode::Reopen, 1, false),
];

fn sampler(mode: FileMode, slow_every: u32, watch_events: bool) -> Sampler {
    Sampler::new(SamplerConfig {
        file_mode: mode,
        slow_every,
        watch_events,
        ..SamplerConfig::default()
    })
}

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

    for (name, mode, slow_every, watch) in VARIANTS {
        let mut sampler = sampler(mode, slow_every, watch);
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

    let mut group = c.benchmark_group("parts");
    let dir = &targets[0].dir;
    let memory_stat = std::fs::read(dir.join("memory.stat")).expect("memory.stat");
    let cpu_stat = std::fs::read(dir.join("cpu.stat")).expect("cpu.stat");
    group.bench_function("parse_memory_stat", |b| {
        b.iter(|| black_box(MemoryStat::parse_bytes(black_box(&memory_stat))))
    });
    group.bench_function("parse_cpu_stat", |b| {
        b.iter(|| black_box(CpuStat::parse_bytes(black_box(&cpu_stat))))
    });
    for (name, mode) in [
        ("read_memory_events_keep_open", FileMode::KeepOpen),
        ("read_memory_events_reopen", FileMode::Reopen),
    ] {
        let mut files = CgroupFiles::open(dir, mode).expect("open");
        let mut buf = Vec::new();
        group.bench_function(name, |b| b.iter(|| black_box(files.read_events(&mut buf))));
    }
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time per container per sample of every variant and of cgroups-rs reading the same directories, printed
/// as a table with ratios. The variants take turns in `ROUNDS` rounds of `SWEEPS` sweeps each, and each figure
/// is the median of its rounds, so a burst of load from other processes hits them alike.
fn cpu_time_summary() {
    const ROUNDS: usize = 7;
    const SWEEPS: u32 = 20;
    let (tmp, targets) = tree();
    #[allow(clippy::cast_precision_loss)]
    let per_container = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(SWEEPS) / CONTAINERS as f64;
    let mut samplers: Vec<Sampler> = VARIANTS
        .iter()
        .map(|&(_, mode, slow_every, watch)| {
            let mut s = sampler(mode, slow_every, watch);
            s.sync(targets.clone(), 1_800_000_000_000);
            s
        })
        .collect();
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
    let mut tick = 0u64;
    let mut rows: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
    let mut baseline = Vec::new();
    for round in 0..=ROUNDS {
        for (i, s) in samplers.iter_mut().enumerate() {
            let t0 = thread_cpu();
            for _ in 0..SWEEPS {
                tick += 1;
                black_box(s.sweep(1_800_000_000_000, tick * 1_000_000));
            }
            // Round 0 warms caches and descriptors up and is not counted.
            if round > 0 {
                rows[i].push(per_container(thread_cpu() - t0));
            }
            black_box(s.take_reports(1_900_000_000_000));
        }
        let t0 = thread_cpu();
        for _ in 0..SWEEPS {
            for (cpu, mem) in &controllers {
                black_box(cpu.cpu());
                black_box(mem.memory_stat());
            }
        }
        if round > 0 {
            baseline.push(per_container(thread_cpu() - t0));
        }
    }
    let baseline = median(baseline);
    println!(
        "\nCPU time per container per sample ({CONTAINERS} containers, median of {ROUNDS} rounds of {SWEEPS} sweeps, \
         thread CPU clock):"
    );
    for ((name, ..), us) in VARIANTS.iter().zip(rows) {
        let us = median(us);
        println!(
            "  {name:<28} {us:>8.2} µs   {:.3}× cgroups-rs",
            us / baseline
        );
    }
    println!(
        "  {:<28} {baseline:>8.2} µs   1.000× (baseline, same rounds)",
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
