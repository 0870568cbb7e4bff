use std::collections::BTreeMap;
use std::time::Duration;

use tailor_core::estimate::{EstimatorConfig, recommend};
use tailor_core::histogram::PercentileMode;
use tailor_core::model::{CpuSample, WorkloadKind};
use tailor_core::quantity::MilliCpu;
use tailor_core::report::{
    ContainerRef, CpuSummary, MemorySummary, ThrottlingDelta, cpu_bucket_for_millicores,
};

use super::*;

const T0: i64 = 1_800_000_000_000;

fn key() -> ContainerKey {
    ContainerKey::new(
        WorkloadKey::new("shop", WorkloadKind::Deployment, "web"),
        "app",
    )
}

fn summary(
    start_ms: i64,
    len_ms: i64,
    millicores: u64,
    samples: u32,
    memory: u64,
) -> ContainerReport {
    ContainerReport {
        container: ContainerRef {
            namespace: "shop".into(),
            pod: "web-1".into(),
            pod_uid: "uid-1".into(),
            container: "app".into(),
            container_id: "c1".into(),
        },
        interval_start_ms: start_ms,
        interval_end_ms: start_ms + len_ms,
        samples,
        startup: false,
        started_ms: None,
        cpu: CpuSummary {
            histogram: BTreeMap::from([(cpu_bucket_for_millicores(millicores), samples)]),
            ..CpuSummary::default()
        },
        memory: MemorySummary {
            working_set_peak_bytes: memory,
            current_peak_bytes: memory,
            ..MemorySummary::default()
        },
    }
}

#[test]
fn reports_weigh_like_one_minute_samples() {
    // An hour of 10 s reports at 250m must give the same histogram as upstream's 60 one-minute samples.
    let mut model = Model::new(ModelOptions::upstream());
    let now = Timestamp::from_unix_millis(T0);
    for i in 0..360 {
        assert!(model.apply_container(
            key(),
            &summary(T0 + i * 10_000, 10_000, 250, 10, 100 << 20),
            now
        ));
    }
    let ours = &model.get(&key()).expect("tracked").steady;

    let cfg = AggregateConfig::upstream();
    let mut upstream = AggregateState::new(&cfg, now);
    for i in 0..60 {
        upstream.add_cpu_sample(
            &cfg,
            CpuSample {
                start: Timestamp::from_unix_millis(T0 + i * 60_000),
                usage: MilliCpu(250),
            },
        );
    }
    // Same weight per minute; the sample times differ by seconds, so decay differs by far less than 0.1 %.
    assert!(
        (ours.cpu.total_weight() - upstream.cpu.total_weight()).abs()
            < 1e-3 * upstream.cpu.total_weight()
    );
    assert_eq!(
        ours.total_samples, 60,
        "confidence counts minutes of samples"
    );
    for p in [0.5, 0.9, 0.95] {
        assert_eq!(
            ours.cpu.percentile(p, PercentileMode::BucketEnd),
            upstream.cpu.percentile(p, PercentileMode::BucketEnd)
        );
    }
    let rec = recommend(ours, &EstimatorConfig::default(), 1, now);
    let up = recommend(&upstream, &EstimatorConfig::default(), 1, now);
    assert_eq!(rec.target.cpu, up.target.cpu);
}

#[test]
fn memory_peaks_follow_the_window() {
    let mut model = Model::new(ModelOptions::upstream());
    let now = Timestamp::from_unix_millis(T0);
    model.apply_container(key(), &summary(T0, 10_000, 100, 10, 100 << 20), now);
    model.apply_container(
        key(),
        &summary(T0 + 10_000, 10_000, 100, 10, 300 << 20),
        now,
    );
    model.apply_container(
        key(),
        &summary(T0 + 20_000, 10_000, 100, 10, 200 << 20),
        now,
    );
    let agg = &model.get(&key()).expect("tracked").steady;
    // One window, one peak: the highest (300Mi) replaced the first, so even the lowest percentile is 300Mi.
    let p = agg.memory_peaks.percentile(0.01, PercentileMode::BucketEnd);
    assert!(
        p >= (300u64 << 20) as f64 && p < (300u64 << 20) as f64 * 1.06,
        "{p}"
    );
}

#[test]
fn overlapping_intervals_are_skipped() {
    let mut model = Model::new(ModelOptions::default());
    let now = Timestamp::from_unix_millis(T0);
    assert!(model.apply_container(key(), &summary(T0, 10_000, 100, 10, 1 << 20), now));
    assert!(!model.apply_container(key(), &summary(T0 + 5_000, 10_000, 100, 10, 1 << 20), now));
}

#[test]
fn startup_samples_stay_out_of_the_steady_histogram() {
    let mut model = Model::new(ModelOptions::default());
    let now = Timestamp::from_unix_millis(T0);
    let mut boot = summary(T0, 10_000, 2000, 10, 1 << 20);
    boot.startup = true;
    model.apply_container(key(), &boot, now);
    model.apply_container(key(), &summary(T0 + 10_000, 10_000, 100, 10, 1 << 20), now);
    let t = model.get(&key()).expect("tracked");
    assert!(t.startup.cpu.percentile(0.9, PercentileMode::BucketEnd) >= 2.0);
    assert!(t.steady.cpu.percentile(0.99, PercentileMode::BucketEnd) < 0.2);

    let mut upstream = Model::new(ModelOptions::upstream());
    upstream.apply_container(key(), &boot, now);
    let t = upstream.get(&key()).expect("tracked");
    assert!(
        t.steady.cpu.percentile(0.99, PercentileMode::BucketEnd) >= 2.0,
        "switch off: startup counts"
    );
}

#[test]
fn heavy_throttling_adds_demand_above_the_limit() {
    let mut r = summary(T0, 10_000, 500, 10, 1 << 20);
    r.cpu.limit_millicores = Some(500);
    r.cpu.throttling = ThrottlingDelta {
        nr_periods: 100,
        nr_throttled: 50,
        throttled_usec: 2_000_000,
    };
    let now = Timestamp::from_unix_millis(T0);

    let mut on = Model::new(ModelOptions::default());
    on.apply_container(key(), &r, now);
    let p = on
        .get(&key())
        .expect("tracked")
        .steady
        .cpu
        .percentile(0.95, PercentileMode::BucketEnd);
    assert!(p >= 0.75, "demand estimated at limit × 1.5: {p}");

    let mut off = Model::new(ModelOptions::upstream());
    off.apply_container(key(), &r, now);
    let p = off
        .get(&key())
        .expect("tracked")
        .steady
        .cpu
        .percentile(0.95, PercentileMode::BucketEnd);
    assert!(p < 0.6, "{p}");
}

#[test]
fn oom_floor_holds_then_expires() {
    let mut model = Model::new(ModelOptions::default());
    let at = Timestamp::from_unix_millis(T0);
    model.apply_container(key(), &summary(T0 - 10_000, 10_000, 100, 10, 200 << 20), at);
    let bumped = model
        .apply_oom(
            key(),
            "uid-1",
            at,
            Bytes(128 << 20),
            Some(Bytes(256 << 20)),
            at,
        )
        .expect("oom");
    assert_eq!(bumped, Bytes(356 << 20));
    let t = model.get(&key()).expect("tracked");
    assert_eq!(
        t.steady
            .active_oom_floor(at.saturating_add(Duration::from_secs(3600))),
        Some(bumped)
    );
    assert_eq!(
        t.steady
            .active_oom_floor(at.saturating_add(Duration::from_secs(25 * 3600))),
        None
    );
}

#[test]
fn dirty_tracking_and_garbage_collection() {
    let mut model = Model::new(ModelOptions::default());
    let now = Timestamp::from_unix_millis(T0);
    model.apply_container(key(), &summary(T0, 10_000, 100, 10, 1 << 20), now);
    assert_eq!(model.take_dirty_workloads(), vec![key().workload]);
    assert!(model.take_dirty_workloads().is_empty());
    model.mark_dirty(&key().workload);
    assert_eq!(model.take_dirty_workloads().len(), 1);
    assert_eq!(
        model.collect_garbage(now.saturating_add(Duration::from_secs(3600))),
        0
    );
    assert_eq!(
        model.collect_garbage(now.saturating_add(Duration::from_secs(9 * 24 * 3600))),
        1
    );
    assert!(model.is_empty());
}

/// Checkpoint (aggregate and open windows) of `model`'s aggregate at `now`, restored into a fresh model.
fn restart(model: &Model, now: Timestamp, with_windows: bool) -> Model {
    let tracked = model.get(&key()).expect("tracked");
    let cfg = model.options().aggregate.clone();
    let state =
        AggregateState::from_checkpoint(&cfg, &tracked.steady.to_checkpoint()).expect("loads");
    let mut fresh = Model::new(model.options().clone());
    fresh.restore(key(), state, now).expect("restore");
    if with_windows {
        fresh.resume_windows(key(), &tracked.open_windows(now), now);
    }
    fresh
}

fn peak_weight(model: &Model) -> f64 {
    model
        .get(&key())
        .expect("tracked")
        .steady
        .memory_peaks
        .total_weight()
}

#[test]
fn a_restart_inside_a_memory_window_does_not_count_its_peak_twice() {
    let now = Timestamp::from_unix_millis(T0 + 20_000);
    let mut before = Model::new(ModelOptions::default());
    before.apply_container(key(), &summary(T0, 10_000, 100, 10, 500 << 20), now);
    let one_peak = peak_weight(&before);
    assert!(one_peak > 0.0);
    let windows = before.get(&key()).expect("tracked").open_windows(now);
    assert_eq!(windows.len(), 1, "one pod with an open window: {windows:?}");

    // The same pod keeps reporting in the same window after the restart.
    let next = summary(T0 + 10_000, 10_000, 100, 10, 500 << 20);
    let mut resumed = restart(&before, now, true);
    resumed.apply_container(key(), &next, now);
    let weight = peak_weight(&resumed);
    assert!(
        (weight - one_peak).abs() < 1e-9 * one_peak,
        "one peak for one window: weight {weight}, one peak weighs {one_peak}"
    );
    // Without the windows the restored replica would open a second window for the same day.
    let mut cold = restart(&before, now, false);
    cold.apply_container(key(), &next, now);
    assert!(
        peak_weight(&cold) > 1.5 * one_peak,
        "the double count this prevents"
    );

    // A higher peak later in the window replaces the stored one.
    resumed.apply_container(
        key(),
        &summary(T0 + 20_000, 10_000, 100, 10, 900 << 20),
        now,
    );
    let t = resumed.get(&key()).expect("tracked");
    assert!((peak_weight(&resumed) - one_peak).abs() < 1e-9 * one_peak);
    let p = t
        .steady
        .memory_peaks
        .percentile(0.01, PercentileMode::BucketEnd);
    assert!(p >= (900u64 << 20) as f64, "{p}");

    // Windows that have closed are not stored.
    let later = now.saturating_add(Duration::from_secs(25 * 3600));
    assert!(
        before
            .get(&key())
            .expect("tracked")
            .open_windows(later)
            .is_empty()
    );
}

#[test]
fn an_oom_peak_survives_a_restart_when_no_report_follows() {
    let at = Timestamp::from_unix_millis(T0 + 10_000);
    let mut model = Model::new(ModelOptions::upstream());
    model.apply_container(key(), &summary(T0, 10_000, 100, 10, 200 << 20), at);
    model
        .apply_oom(key(), "uid-1", at, Bytes(128 << 20), None, at)
        .expect("oom");
    let before = recommend(
        &model.get(&key()).expect("tracked").steady,
        &EstimatorConfig::default(),
        1,
        at,
    );
    let resumed = restart(&model, at, true);
    let after = recommend(
        &resumed.get(&key()).expect("tracked").steady,
        &EstimatorConfig::default(),
        1,
        at,
    );
    assert_eq!(before.target.memory, after.target.memory);
    assert!(
        after.target.memory > Bytes(300 << 20),
        "{:?}",
        after.target.memory
    );
}

#[test]
fn pod_state_of_long_silent_pods_is_collected() {
    let now = Timestamp::from_unix_millis(T0);
    let mut model = Model::new(ModelOptions::default());
    model.apply_container(key(), &summary(T0, 10_000, 100, 10, 1 << 20), now);
    assert_eq!(
        model.get(&key()).expect("tracked").open_windows(now).len(),
        1
    );
    let later = now.saturating_add(Duration::from_secs(26 * 3600));
    model.collect_garbage(later);
    let t = model.get(&key()).expect("aggregate kept");
    assert!(
        t.open_windows(Timestamp::from_unix_millis(T0)).is_empty(),
        "per-pod state dropped"
    );
}
