//! Histogram costs: ns per sample added, ns per percentile over all 176 buckets, ns per merge, and the size of the
//! stored form for one week of one-minute CPU samples of a real container (Alibaba 2018 trace `c_12104`).
//!
//! Run: `cargo bench -p tailor-core --bench histogram` (the sizes print before the timings).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tailor_core::histogram::{DecayingHistogram, HistogramOptions, PercentileMode};
use tailor_core::model::{
    AggregateConfig, AggregateState, ContainerState, CpuSample, MemorySample,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

const DAY: Duration = Duration::from_secs(86_400);
const WEEK_OF_MINUTES: usize = 7 * 24 * 60;

fn traces_dir() -> PathBuf {
    std::env::var_os("TAILOR_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces"))
        })
}

/// One week of the trace's one-minute CPU figures, in cores. The trace states CPU as a percentage of the
/// container's requested cores; we read it against a 4-core request.
fn week_of_cpu() -> Vec<f64> {
    let path = traces_dir().join("alibaba-2018/c_12104.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set TAILOR_TRACES to the traces folder)",
            path.display()
        )
    });
    let cores: Vec<f64> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1)?.trim().parse::<f64>().ok())
        .map(|pct| pct / 100.0 * 4.0)
        .take(WEEK_OF_MINUTES)
        .collect();
    assert_eq!(cores.len(), WEEK_OF_MINUTES, "trace shorter than a week");
    cores
}

fn minute(i: usize) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000 + 60 * i as i64)
}

fn week_histogram(cores: &[f64]) -> DecayingHistogram {
    let mut h = DecayingHistogram::new(HistogramOptions::cpu_default(), DAY);
    for (i, c) in cores.iter().enumerate() {
        h.add_sample(*c, 0.1, minute(i));
    }
    h
}

/// A whole aggregate for the same week: CPU from the trace, memory as a working set that follows CPU.
fn week_aggregate(cores: &[f64]) -> AggregateState {
    let cfg = AggregateConfig::default();
    let mut agg = AggregateState::new(&cfg, minute(0));
    let mut c = ContainerState::new();
    for (i, cpu) in cores.iter().enumerate() {
        c.add_cpu_sample(
            &mut agg,
            &cfg,
            CpuSample {
                start: minute(i),
                usage: MilliCpu::from_cores(*cpu),
            },
        );
        let memory =
            Bytes(600 << 20).saturating_add(Bytes::from_f64(cpu * 150.0 * 1024.0 * 1024.0));
        c.add_memory_sample(
            &mut agg,
            &cfg,
            MemorySample {
                start: minute(i),
                usage: memory,
            },
        );
    }
    agg
}

fn report_sizes(cores: &[f64]) {
    let h = week_histogram(cores);
    let json = serde_json::to_vec(&h.to_checkpoint()).unwrap();
    let agg = serde_json::to_vec(&week_aggregate(cores).to_checkpoint()).unwrap();
    let buckets = h.buckets().filter(|(_, w)| *w > 0.0).count();
    println!(
        "serialised CPU histogram, one week of 1-minute samples (alibaba-2018 c_12104): {} bytes \
         ({buckets} non-empty buckets, {} heap bytes live); whole aggregate checkpoint: {} bytes",
        json.len(),
        h.heap_bytes(),
        agg.len()
    );
    write_figures(serde_json::json!({
        "cpu_histogram_week_bytes": json.len(),
        "aggregate_checkpoint_bytes": agg.len(),
    }));
}

/// For `make bench`'s summary table (benchsum/): the sizes as a JSON figure file, when `TAILOR_BENCH_FIGURES`
/// names the run's figures folder. A failure only costs the table its figure, which then shows as missing.
fn write_figures(figures: serde_json::Value) {
    let Some(dir) = std::env::var_os("TAILOR_BENCH_FIGURES") else {
        return;
    };
    let path = PathBuf::from(dir).join("histogram.json");
    if let Err(e) = std::fs::write(&path, figures.to_string()) {
        eprintln!("{}: {e}", path.display());
    }
}

fn benches(c: &mut Criterion) {
    let cores = week_of_cpu();
    report_sizes(&cores);
    let full = week_histogram(&cores);

    let mut g = c.benchmark_group("histogram");
    g.bench_function("add_sample", |b| {
        let mut h = DecayingHistogram::new(HistogramOptions::cpu_default(), DAY);
        let mut i = 0usize;
        b.iter(|| {
            h.add_sample(black_box(cores[i % cores.len()]), 0.1, minute(i));
            i += 1;
        });
    });

    // Worst case for the walk: weight in all 176 buckets, percentile near the top.
    let mut wide = DecayingHistogram::new(HistogramOptions::cpu_default(), DAY);
    let o = HistogramOptions::cpu_default();
    for b in 0..o.num_buckets() {
        wide.add_sample(o.bucket_start(b) * 1.0001 + 1e-6, 1.0, minute(b));
    }
    assert_eq!(wide.buckets().count(), 176);
    for (name, mode) in [
        (
            "percentile_176_buckets_bucket_end",
            PercentileMode::BucketEnd,
        ),
        (
            "percentile_176_buckets_interpolate",
            PercentileMode::Interpolate,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(&wide).percentile(black_box(0.99), mode))
        });
    }
    g.bench_function("percentile_trace_week_p90", |b| {
        b.iter(|| black_box(&full).percentile(0.9, PercentileMode::BucketEnd))
    });

    let other = {
        let mut h = week_histogram(&cores[..WEEK_OF_MINUTES / 2]);
        h.add_sample(3.0, 1.0, minute(WEEK_OF_MINUTES + 1440));
        h
    };
    g.bench_function("merge_trace_week", |b| {
        b.iter_batched(
            || full.clone(),
            |mut h| {
                h.merge(black_box(&other)).unwrap();
                h
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.bench_function("clone_baseline", |b| b.iter(|| black_box(&full).clone()));
    g.bench_function("checkpoint_serialise", |b| {
        b.iter(|| serde_json::to_vec(&black_box(&full).to_checkpoint()).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = histogram;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(histogram);
