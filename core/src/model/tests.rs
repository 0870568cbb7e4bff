use std::time::Duration;

use super::*;
use crate::histogram::PercentileMode;

const MIB: i64 = 1024 * 1024;
const DAY: Duration = Duration::from_secs(86_400);

fn t(minutes: i64) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000 + minutes * 60)
}

fn mem(start: Timestamp, mib: i64) -> MemorySample {
    MemorySample {
        start,
        usage: Bytes(mib * MIB),
    }
}

#[test]
fn one_memory_peak_per_window() {
    let cfg = AggregateConfig::upstream();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    c.add_memory_sample(&mut agg, &cfg, mem(t(0), 100));
    assert_eq!(c.window_end(), Some(t(0).saturating_add(DAY)));
    c.add_memory_sample(&mut agg, &cfg, mem(t(10), 300));
    c.add_memory_sample(&mut agg, &cfg, mem(t(20), 200));
    // The 100Mi peak was replaced by 300Mi; 200Mi changed nothing.
    let weights: Vec<f64> = agg
        .memory_peaks
        .buckets()
        .map(|(_, w)| w)
        .filter(|w| *w > 0.0)
        .collect();
    assert_eq!(weights.len(), 1);
    assert_eq!(c.max_memory_peak(), Bytes(300 * MIB));
    // Two and a half days later: the window moves by two whole intervals plus one.
    c.add_memory_sample(&mut agg, &cfg, mem(t(60 * 24 * 3 + 720), 50));
    assert_eq!(c.window_end(), Some(t(0).saturating_add(DAY * 4)));
    assert_eq!(c.max_memory_peak(), Bytes(50 * MIB));
}

#[test]
fn duplicate_and_out_of_order_samples_are_dropped() {
    let cfg = AggregateConfig::upstream();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    let s = CpuSample {
        start: t(5),
        usage: MilliCpu(100),
    };
    assert_eq!(c.add_cpu_sample(&mut agg, &cfg, s), SampleOutcome::Accepted);
    assert_eq!(
        c.add_cpu_sample(&mut agg, &cfg, s),
        SampleOutcome::Discarded
    );
    let earlier = CpuSample { start: t(4), ..s };
    assert_eq!(
        c.add_cpu_sample(&mut agg, &cfg, earlier),
        SampleOutcome::Discarded
    );
    let negative = CpuSample {
        start: t(6),
        usage: MilliCpu(-1),
    };
    assert_eq!(
        c.add_cpu_sample(&mut agg, &cfg, negative),
        SampleOutcome::Discarded
    );
    assert_eq!(agg.total_samples, 1);
    c.add_memory_sample(&mut agg, &cfg, mem(t(5), 10));
    assert_eq!(
        c.add_memory_sample(&mut agg, &cfg, mem(t(4), 20)),
        SampleOutcome::Discarded
    );
}

#[test]
fn upstream_oom_bump_is_relative_to_request_and_peak() {
    let cfg = AggregateConfig::upstream();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    c.add_memory_sample(&mut agg, &cfg, mem(t(0), 300));
    // max(1Gi request, 300Mi peak) = 1Gi; max(1Gi + 100Mi, 1Gi × 1.2) = 1.2Gi (truncated).
    let bumped = c
        .record_oom(
            &mut agg,
            &cfg,
            t(5),
            Bytes(1024 * MIB),
            Some(Bytes(4096 * MIB)),
        )
        .unwrap();
    assert_eq!(bumped, Bytes(1_288_490_188));
    assert_eq!(agg.oom_floor, None, "upstream mode keeps no floor");
    // Small request: the 100Mi minimum bump wins.
    let mut c2 = ContainerState::new();
    let bumped = c2
        .record_oom(&mut agg, &cfg, t(6), Bytes(100 * MIB), None)
        .unwrap();
    assert_eq!(bumped, Bytes(200 * MIB));
}

#[test]
fn stale_ooms_are_refused() {
    let cfg = AggregateConfig::default();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    c.add_memory_sample(&mut agg, &cfg, mem(t(3 * 24 * 60), 100));
    let err = c
        .record_oom(&mut agg, &cfg, t(0), Bytes(MIB), None)
        .unwrap_err();
    assert!(matches!(err, ModelError::StaleOom { .. }));
}

#[test]
fn aggregate_checkpoint_round_trips() {
    let cfg = AggregateConfig::default();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    for m in 0..3000 {
        c.add_cpu_sample(
            &mut agg,
            &cfg,
            CpuSample {
                start: t(m),
                usage: MilliCpu(100 + (m % 50) * 10),
            },
        );
        c.add_memory_sample(&mut agg, &cfg, mem(t(m), 200 + m % 70));
    }
    c.record_oom(
        &mut agg,
        &cfg,
        t(3000),
        Bytes(256 * MIB),
        Some(Bytes(300 * MIB)),
    )
    .unwrap();
    let json = serde_json::to_string(&agg.to_checkpoint()).unwrap();
    let back =
        AggregateState::from_checkpoint(&cfg, &serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(back.total_samples, agg.total_samples);
    assert_eq!(back.oom_floor, agg.oom_floor);
    assert_eq!(
        (back.first_sample_start, back.last_sample_start),
        (agg.first_sample_start, agg.last_sample_start)
    );
    for p in [0.5, 0.9, 0.95] {
        assert_eq!(
            back.cpu.percentile(p, PercentileMode::BucketEnd),
            agg.cpu.percentile(p, PercentileMode::BucketEnd)
        );
        assert_eq!(
            back.memory_peaks.percentile(p, PercentileMode::BucketEnd),
            agg.memory_peaks.percentile(p, PercentileMode::BucketEnd)
        );
    }
}

#[test]
fn merge_and_expiry() {
    let cfg = AggregateConfig::default();
    let mut a = AggregateState::new(&cfg, t(0));
    let mut b = AggregateState::new(&cfg, t(100));
    a.add_cpu_sample(
        &cfg,
        CpuSample {
            start: t(10),
            usage: MilliCpu(100),
        },
    );
    b.add_cpu_sample(
        &cfg,
        CpuSample {
            start: t(200),
            usage: MilliCpu(300),
        },
    );
    a.merge(&b).unwrap();
    assert_eq!(
        (a.first_sample_start, a.last_sample_start, a.total_samples),
        (Some(t(10)), Some(t(200)), 2)
    );
    assert!(!a.is_expired(&cfg, t(200 + 8 * 24 * 60)));
    assert!(a.is_expired(&cfg, t(201 + 8 * 24 * 60)));
}

#[test]
fn container_keys_print_and_parse() {
    let key = ContainerKey::new(
        WorkloadKey::new("shop", WorkloadKind::Deployment, "cart"),
        "app",
    );
    assert_eq!(key.to_string(), "shop/Deployment/cart/app");
    assert_eq!("shop/Deployment/cart/app".parse::<ContainerKey>(), Ok(key));
    let custom: ContainerKey = "ml/RayCluster/head/worker".parse().unwrap();
    assert_eq!(
        custom.workload.kind,
        WorkloadKind::Other("RayCluster".into())
    );
    for bad in ["", "a/b/c", "a/b/c/d/e", "a//c/d"] {
        assert!(bad.parse::<ContainerKey>().is_err(), "{bad:?}");
    }
}

#[test]
fn the_memory_usage_histogram_takes_every_sample_and_survives_a_checkpoint() {
    let cfg = AggregateConfig {
        memory_usage_histogram: true,
        ..AggregateConfig::default()
    };
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    for m in 0..100 {
        let mib = if m == 50 { 4096 } else { 200 };
        c.add_memory_sample(&mut agg, &cfg, mem(t(m), mib));
    }
    let usage = agg.memory_usage.as_ref().expect("kept");
    assert!(!usage.is_empty());
    assert!(
        agg.memory_peaks.total_weight() < usage.total_weight(),
        "peaks: one a day; usage: every sample"
    );
    let p90 = agg
        .memory_request_histogram()
        .percentile(0.9, PercentileMode::BucketEnd);
    assert!(
        p90 < 250.0 * MIB as f64,
        "typical use, not the one peak: {p90}"
    );

    let json = serde_json::to_string(&agg.to_checkpoint()).unwrap();
    let back =
        AggregateState::from_checkpoint(&cfg, &serde_json::from_str(&json).unwrap()).unwrap();
    // Checkpoints quantise weights (as upstream's do): compare what the estimators read.
    for p in [0.5, 0.9] {
        assert_eq!(
            back.memory_request_histogram()
                .percentile(p, PercentileMode::BucketEnd),
            agg.memory_request_histogram()
                .percentile(p, PercentileMode::BucketEnd)
        );
    }

    // A checkpoint written without the histogram (older Tailor, or the option off) restores with it empty, and
    // the request falls back to the peaks; with the option off none is kept.
    let mut old = agg.to_checkpoint();
    old.memory_usage = None;
    let restored = AggregateState::from_checkpoint(&cfg, &old).unwrap();
    assert!(restored.memory_usage.as_ref().is_some_and(|h| h.is_empty()));
    let off =
        AggregateState::from_checkpoint(&AggregateConfig::default(), &agg.to_checkpoint()).unwrap();
    assert!(off.memory_usage.is_none());
    assert!(!AggregateConfig::upstream().memory_usage_histogram);
}

#[test]
fn a_resumed_open_window_replaces_its_peak_instead_of_adding_one() {
    let cfg = AggregateConfig::upstream();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    c.add_memory_sample(&mut agg, &cfg, mem(t(0), 300));
    let window = c.open_window(t(10)).expect("open");
    assert_eq!(window.end, t(0).saturating_add(DAY));
    assert!(
        c.open_window(t(0).saturating_add(DAY)).is_none(),
        "closed at its end"
    );

    // A restart: the histogram comes back from the checkpoint, the window from its stored form.
    let mut restored = agg.clone();
    let mut resumed = ContainerState::resume(window);
    resumed.add_memory_sample(&mut restored, &cfg, mem(t(20), 300));
    assert!((restored.memory_peaks.total_weight() - agg.memory_peaks.total_weight()).abs() < 1e-12);
    resumed.add_memory_sample(&mut restored, &cfg, mem(t(30), 400));
    assert!((restored.memory_peaks.total_weight() - agg.memory_peaks.total_weight()).abs() < 1e-9);
    assert_eq!(resumed.max_memory_peak(), Bytes(400 * MIB));
    let json = serde_json::to_string(&window).expect("serialize");
    assert_eq!(
        serde_json::from_str::<OpenWindow>(&json).expect("parse"),
        window
    );
}
