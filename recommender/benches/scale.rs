//! Scale benchmark: 20 000 workloads × 5 containers = 100 000 aggregates.
//! - `ingest`: one 100-container node report through the real apply path (pod checks, locks, model).
//! - `recommend_all`: a full recommendation pass, every VPA's status computed from the model (one core).
//!
//! Run: `cargo bench -p tailor-recommender --bench scale`.

#[path = "support/fixture.rs"]
mod fixture;

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tailor_core::report::{NodeReport, REPORT_VERSION, ReportKind};
use tailor_core::time::Timestamp;
use tailor_recommender::args::Args;
use tailor_recommender::ingest::apply::apply;
use tailor_recommender::model::ModelOptions;
use tailor_recommender::recommend::compute;
use tailor_recommender::state::Shared;

const WORKLOADS: usize = 20_000;
const CONTAINERS: usize = 5;
const STEPS: usize = 30;

fn bench(c: &mut Criterion) {
    let model = fixture::model(WORKLOADS, CONTAINERS, STEPS);
    let pods = fixture::pods(WORKLOADS, CONTAINERS, 500);
    let vpas = fixture::vpas(WORKLOADS);
    // What the binary runs with its default flags (Tailor's settings, 1 MiB memory rounding included).
    let cfg = Args::parse_from_iter(["tailor-recommender", "--insecure-http"])
        .expect("default flags")
        .recommend_config();
    let now = Timestamp::from_unix_millis(fixture::T0 + 3_600_000);

    let mut group = c.benchmark_group("scale_100k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(WORKLOADS as u64));
    group.bench_function("recommend_all", |b| {
        b.iter(|| {
            let mut provided = 0;
            for v in &vpas {
                provided += usize::from(
                    compute(v, &model, &pods, None, &cfg, now)
                        .status
                        .recommendation
                        .is_some(),
                );
            }
            assert_eq!(provided, WORKLOADS);
        });
    });

    // Ingestion: reports of 100 containers (20 pods × 5) from one node, each with a fresh interval.
    let shared = Shared::new(ModelOptions::default());
    // All pods on one node, so one agent may report any of them.
    *shared.pods_mut() = fixture::pods(WORKLOADS, CONTAINERS, 1);
    let mut step = STEPS;
    group.throughput(Throughput::Elements(100));
    group.bench_function("ingest_100_containers", |b| {
        // Building the report (string formatting) is setup; only applying it is timed.
        b.iter_batched(
            || {
                step += 1;
                let start = fixture::T0 + (step as i64) * 10_000;
                let first = (step * 20) % WORKLOADS;
                let containers = (first..first + 20)
                    .flat_map(|i| (0..CONTAINERS).map(move |c| fixture::summary(i, c, start, step)))
                    .collect();
                NodeReport {
                    version: REPORT_VERSION,
                    node: "node-0".into(),
                    agent_id: "bench".into(),
                    sequence: step as u64,
                    created_ms: start + 10_000,
                    kind: ReportKind::Periodic,
                    containers,
                    events: vec![],
                }
            },
            |report| {
                let now = Timestamp::from_unix_millis(report.created_ms);
                let applied = apply(&shared, &report, now).expect("own pods");
                assert_eq!(applied.containers, 100);
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
