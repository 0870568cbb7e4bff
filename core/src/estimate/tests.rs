//! Worked examples: every expected figure below was computed by hand from upstream VPA's formulas
//! (research/vpa.md §1.2–1.4): bucket end of the sample's bucket, truncated to integer units, plus a truncated
//! 15% margin, times `(1 + m/conf)^e` for the bounds, floored by the per-pod minimum split over containers.

use std::time::Duration;

use super::*;
use crate::model::{AggregateConfig, ContainerState, CpuSample, MemorySample};

const MIB: i64 = 1024 * 1024;

fn t(minutes: i64) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000 + minutes * 60)
}

/// One day of one-minute samples at a constant level, fed as upstream's feeder would.
fn one_day_constant(cores: f64, memory: Bytes) -> AggregateState {
    let cfg = AggregateConfig::upstream();
    let mut agg = AggregateState::new(&cfg, t(0));
    let mut c = ContainerState::new();
    for m in 0..1440 {
        c.add_cpu_sample(
            &mut agg,
            &cfg,
            CpuSample {
                start: t(m),
                usage: MilliCpu::from_cores(cores),
            },
        );
        c.add_memory_sample(
            &mut agg,
            &cfg,
            MemorySample {
                start: t(m),
                usage: memory,
            },
        );
    }
    agg
}

#[test]
fn one_day_at_constant_usage_matches_upstream() {
    let agg = one_day_constant(0.5, Bytes(300 * MIB));
    let rec = recommend(&agg, &EstimatorConfig::default(), 1, t(1440));
    // CPU: 0.5 cores sits in bucket 25, which ends at 0.51113 cores → 511m; +15% → 587m.
    // Confidence = min(1439/1440 days, 1440/1440) = 0.99931.
    assert_eq!(rec.target.cpu, MilliCpu(587));
    assert_eq!(rec.upper_bound.cpu, MilliCpu(1174)); // 587 × (1 + 1/0.99931)
    assert_eq!(rec.lower_bound.cpu, MilliCpu(585)); // 587 × (1 + 0.001/0.99931)^-2
    // Memory: one peak of 300Mi, in bucket 19, which ends at 330659541 bytes; +15% → 380258472.
    assert_eq!(rec.target.memory, Bytes(380_258_472));
    assert_eq!(rec.upper_bound.memory, Bytes(760_781_195));
    assert_eq!(rec.lower_bound.memory, Bytes(379_498_567));
    assert_eq!(rec.uncapped_target, rec.target);
}

#[test]
fn the_steps_compose_to_the_same_numbers() {
    let agg = one_day_constant(0.5, Bytes(300 * MIB));
    let base = percentile(&agg, 0.9, 0.9, PercentileMode::BucketEnd);
    assert_eq!(base, Resources::new(MilliCpu(511), Bytes(330_659_541)));
    let margin = with_margin(base, 0.15, 0.15);
    assert_eq!(margin, Resources::new(MilliCpu(587), Bytes(380_258_472)));
    let conf = confidence(&agg, Duration::from_secs(86_400));
    assert!((conf - 1439.0 / 1440.0).abs() < 1e-12);
    assert_eq!(with_confidence(margin, 1.0, 1.0, conf).cpu, MilliCpu(1174));
}

#[test]
fn no_history_gives_the_minimums_and_one_sample_gives_open_bounds() {
    let cfg = AggregateConfig::upstream();
    let agg = AggregateState::new(&cfg, t(0));
    let rec = recommend(&agg, &EstimatorConfig::default(), 2, t(0));
    // 25m and 250Mi per pod, split over two containers: 12m (12.5 truncated) and 125Mi.
    let min = Resources::new(MilliCpu(12), Bytes(125 * MIB));
    assert_eq!(
        (rec.target, rec.lower_bound, rec.upper_bound),
        (min, min, min)
    );

    let mut agg = AggregateState::new(&cfg, t(0));
    agg.add_cpu_sample(
        &cfg,
        CpuSample {
            start: t(0),
            usage: MilliCpu(500),
        },
    );
    let rec = recommend(&agg, &EstimatorConfig::default(), 1, t(0));
    // Zero confidence: (1 + 1/0)^1 is infinite (clamped), (1 + 0.001/0)^-2 is zero (then the minimum).
    assert_eq!(rec.upper_bound.cpu, MilliCpu::MAX);
    assert_eq!(rec.lower_bound.cpu, MilliCpu(25));
}

#[test]
fn small_usage_is_lifted_to_the_per_pod_minimum() {
    let agg = one_day_constant(0.001, Bytes(MIB));
    let rec = recommend(&agg, &EstimatorConfig::default(), 1, t(1440));
    assert_eq!(rec.target, Resources::new(MilliCpu(25), Bytes(250 * MIB)));
}

#[test]
fn interpolation_removes_the_bucket_end_bias() {
    let agg = one_day_constant(0.5, Bytes(300 * MIB));
    let cfg = EstimatorConfig {
        percentile_mode: PercentileMode::Interpolate,
        ..EstimatorConfig::default()
    };
    let rec = recommend(&agg, &cfg, 1, t(1440));
    // All weight in one bucket [0.4868, 0.5111): P90 interpolates to 90% of the way across it.
    let o = crate::histogram::HistogramOptions::cpu_default();
    let want = o.bucket_start(25) + 0.9 * (o.bucket_start(26) - o.bucket_start(25));
    let want = MilliCpu::from_cores(want);
    assert_eq!(rec.target.cpu, want.saturating_add(want.scale(0.15)));
    assert!(rec.target.cpu < MilliCpu(587));
}

/// Ten replicas at 200Mi for three days; then one of them is OOM-killed at its 512Mi limit.
fn ten_replicas_one_oom(cfg: &AggregateConfig) -> (AggregateState, Bytes) {
    let mut agg = AggregateState::new(cfg, t(0));
    let mut replicas = vec![ContainerState::new(); 10];
    for m in 0..3 * 1440 {
        for c in &mut replicas {
            c.add_memory_sample(
                &mut agg,
                cfg,
                MemorySample {
                    start: t(m),
                    usage: Bytes(200 * MIB),
                },
            );
            c.add_cpu_sample(
                &mut agg,
                cfg,
                CpuSample {
                    start: t(m),
                    usage: MilliCpu(100),
                },
            );
        }
    }
    let bumped = replicas[3]
        .record_oom(
            &mut agg,
            cfg,
            t(3 * 1440 - 30),
            Bytes(256 * MIB),
            Some(Bytes(512 * MIB)),
        )
        .unwrap();
    (agg, bumped)
}

#[test]
fn one_replicas_oom_is_lost_in_upstream_p90_but_floors_tailor() {
    let est = EstimatorConfig::default();
    let (upstream, upstream_bump) = ten_replicas_one_oom(&AggregateConfig::upstream());
    // Upstream bumps from the request: max(256Mi + 100Mi, 256Mi × 1.2) = 356Mi — below the 512Mi limit the
    // container was killed at — and P90 over ten replicas' peaks ignores that one sample anyway (#6420).
    assert_eq!(upstream_bump, Bytes(356 * MIB));
    let rec = recommend(&upstream, &est, 1, t(3 * 1440 + 1));
    assert!(
        rec.target.memory < Bytes(256 * MIB),
        "upstream target {}",
        rec.target.memory
    );

    let cfg = AggregateConfig::default();
    let (agg, bumped) = ten_replicas_one_oom(&cfg);
    assert_eq!(bumped, Bytes(512 * MIB).scale(1.2));
    let during = recommend(&agg, &est, 1, t(3 * 1440 + 1));
    assert!(during.lower_bound.memory >= bumped && during.target.memory >= bumped);
    let after = recommend(&agg, &est, 1, t(4 * 1440 + 1));
    assert!(
        after.target.memory < bumped,
        "the floor expires after its hold"
    );
}

#[test]
fn policy_caps_bounds_but_not_the_uncapped_target() {
    let agg = one_day_constant(0.5, Bytes(300 * MIB));
    let rec = recommend(&agg, &EstimatorConfig::default(), 1, t(1440));
    let policy = ContainerPolicy {
        min_cpu: Some(MilliCpu(600)),
        max_memory: Some(Bytes(350 * MIB)),
        ..ContainerPolicy::default()
    };
    let node = Resources::new(MilliCpu(1000), Bytes(64 * 1024 * MIB));
    let capped = cap_to_policy(&rec, &policy, Some(node));
    assert_eq!(capped.target.cpu, MilliCpu(600));
    assert_eq!(
        capped.upper_bound.cpu,
        MilliCpu(1000),
        "nothing above the largest node"
    );
    assert_eq!(capped.target.memory, Bytes(350 * MIB));
    assert_eq!(capped.uncapped_target, rec.target);
}

#[test]
fn rounding_is_off_by_default_and_ceils_every_figure_when_set() {
    let agg = one_day_constant(0.5, Bytes(300 * MIB));
    let plain = recommend(&agg, &EstimatorConfig::default(), 1, t(1440));
    // Upstream's defaults (1 millicore, 1 byte) leave the worked example's figures untouched.
    assert_eq!(plain.target.memory, Bytes(380_258_472));
    let cfg = EstimatorConfig {
        round_cpu_millicores: 10,
        round_memory_bytes: MIB,
        ..EstimatorConfig::default()
    };
    let rounded = recommend(&agg, &cfg, 1, t(1440));
    // 380258472 bytes is 362.64 MiB → 363 MiB; 587m → 590m; 1174m → 1180m.
    assert_eq!(rounded.target.memory, Bytes(363 * MIB));
    assert_eq!(rounded.target.cpu, MilliCpu(590));
    assert_eq!(rounded.upper_bound.cpu, MilliCpu(1180));
    for (r, p) in [
        (rounded.lower_bound, plain.lower_bound),
        (rounded.upper_bound, plain.upper_bound),
        (rounded.uncapped_target, plain.uncapped_target),
    ] {
        assert_eq!(r.memory.get() % MIB, 0);
        assert!(r.memory >= p.memory && r.memory.get() - p.memory.get() < MIB);
        assert!(r.cpu >= p.cpu && r.cpu.get() - p.cpu.get() < 10);
    }
    assert_eq!(
        round_up(Resources::default(), 10, MIB),
        Resources::default()
    );
}
