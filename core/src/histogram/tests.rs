use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::time::Timestamp;

const DAY: Duration = Duration::from_secs(86_400);

/// Buckets [0,1) [1,3) [3,7) [7,15) [15,31) [31,63) [63,127) [127,∞): easy to check by hand.
fn doubling() -> HistogramOptions {
    HistogramOptions::exponential(100.0, 1.0, 2.0, 1e-4).unwrap()
}

fn t(days: f64) -> Timestamp {
    Timestamp::from_unix_millis((1_700_000_000_000.0 + days * 86_400_000.0) as i64)
}

#[test]
fn default_layouts_match_upstream() {
    for o in [
        HistogramOptions::cpu_default(),
        HistogramOptions::memory_default(),
    ] {
        assert_eq!(o.num_buckets(), 176);
        assert_eq!(o.epsilon(), 1e-4);
    }
    let cpu = HistogramOptions::cpu_default();
    assert_eq!(cpu.bucket_start(0), 0.0);
    assert!((cpu.bucket_start(1) - 0.01).abs() < 1e-12);
    assert!((cpu.bucket_start(2) - 0.0205).abs() < 1e-12);
    assert_eq!(cpu.find_bucket(0.005), 0);
    assert_eq!(cpu.find_bucket(0.015), 1);
    assert_eq!(cpu.find_bucket(1e9), 175);
    assert_eq!(cpu.find_bucket(f64::NAN), 0);
}

#[test]
fn bad_options_are_refused() {
    assert!(HistogramOptions::exponential(100.0, 1.0, 1.0, 1e-4).is_err());
    assert!(HistogramOptions::exponential(-1.0, 1.0, 2.0, 1e-4).is_err());
    assert!(HistogramOptions::exponential(f64::INFINITY, 1.0, 2.0, 1e-4).is_err());
    assert!(HistogramOptions::exponential(1e300, 1e-300, 1.000001, 1e-4).is_err());
}

#[test]
fn percentile_worked_example() {
    let o = doubling();
    assert_eq!(o.num_buckets(), 8);
    let mut h = DecayingHistogram::new(o, DAY);
    assert!(h.is_empty());
    assert_eq!(h.percentile(0.5, PercentileMode::BucketEnd), 0.0);
    for (v, w) in [(2.0, 1.0), (5.0, 1.0), (10.0, 2.0)] {
        h.add_sample(v, w, t(0.0));
    }
    use PercentileMode::*;
    // total 4: P25 reaches 1 in [1,3), P50 reaches 2 in [3,7), P100 reaches 4 in [7,15).
    assert_eq!(h.percentile(0.25, BucketEnd), 3.0);
    assert_eq!(h.percentile(0.5, BucketEnd), 7.0);
    assert_eq!(h.percentile(1.0, BucketEnd), 15.0);
    assert_eq!(h.percentile(0.4, BucketEnd), 7.0);
    // Interpolation: P40 needs 1.6; bucket [3,7) holds 1 after 1 before it: 3 + 0.6 × 4.
    assert!((h.percentile(0.4, Interpolate) - 5.4).abs() < 1e-12);
    assert!((h.percentile(0.75, Interpolate) - 11.0).abs() < 1e-12);
    // A value beyond the range lands in the last bucket, whose start is reported.
    h.add_sample(1000.0, 100.0, t(0.0));
    assert_eq!(h.percentile(0.99, BucketEnd), 127.0);
    assert_eq!(h.percentile(0.99, Interpolate), 127.0);
}

#[test]
fn newer_samples_weigh_more_by_half_life() {
    let mut h = DecayingHistogram::new(doubling(), DAY);
    h.add_sample(2.0, 1.0, t(0.0));
    h.add_sample(10.0, 1.0, t(1.0));
    // Weights 1 and 2: P30 (0.9 of 3) is in [1,3), P50 (1.5) in [7,15).
    assert_eq!(h.percentile(0.3, PercentileMode::BucketEnd), 3.0);
    assert_eq!(h.percentile(0.5, PercentileMode::BucketEnd), 15.0);
    assert!((h.weight(3) / h.weight(1) - 2.0).abs() < 1e-9);
}

#[test]
fn years_of_samples_never_overflow() {
    // Ten years of one sample an hour at a 10-day half-life: 365 half-lives, far past 2^1024 without
    // renormalisation.
    let mut h = DecayingHistogram::new(HistogramOptions::cpu_default(), DAY * 10);
    for i in 0..87_600 {
        let v = if i % 20 == 0 { 2.0 } else { 0.5 };
        h.add_sample(v, 0.1, t(i as f64 / 24.0));
        assert!(h.total_weight().is_finite(), "sample {i}");
    }
    assert!(h.total_weight() > 0.0);
    let p90 = h.percentile(0.9, PercentileMode::BucketEnd);
    let p99 = h.percentile(0.99, PercentileMode::BucketEnd);
    assert!(p90 > 0.5 && p90 < 0.6, "p90 {p90}");
    assert!(p99 > 2.0 && p99 < 2.2, "p99 {p99}");
    let reference = h.reference().unwrap();
    assert!(
        t(3650.0).since(reference) < DAY * 1000,
        "the reference followed the samples"
    );
}

#[test]
fn subtract_undoes_add() {
    let mut h = DecayingHistogram::new(doubling(), DAY);
    h.add_sample(5.0, 1.0, t(0.0));
    h.add_sample(20.0, 1.0, t(0.5));
    h.subtract_sample(20.0, 1.0, t(0.5));
    assert_eq!(h.percentile(1.0, PercentileMode::BucketEnd), 7.0);
    h.subtract_sample(5.0, 5.0, t(0.0));
    assert!(h.is_empty());
    assert!(h.total_weight().abs() < 1e-12);
    assert_eq!(
        h.heap_bytes(),
        0,
        "an emptied histogram releases its storage"
    );
}

#[test]
fn merge_equals_adding_everything_to_one() {
    let o = HistogramOptions::cpu_default();
    let (mut a, mut b, mut all) = (
        DecayingHistogram::new(o, DAY),
        DecayingHistogram::new(o, DAY),
        DecayingHistogram::new(o, DAY),
    );
    for i in 0..500 {
        let (v, time) = ((i % 37) as f64 * 0.05, t(i as f64 / 50.0));
        if i < 250 {
            a.add_sample(v, 1.0, time)
        } else {
            b.add_sample(v, 1.0, time)
        }
        all.add_sample(v, 1.0, time);
    }
    let mut ab = a.clone();
    ab.merge(&b).unwrap();
    let mut ba = b.clone();
    ba.merge(&a).unwrap();
    for p in [0.1, 0.5, 0.9, 0.95, 1.0] {
        let want = all.percentile(p, PercentileMode::BucketEnd);
        assert_eq!(ab.percentile(p, PercentileMode::BucketEnd), want, "p{p}");
        assert_eq!(ba.percentile(p, PercentileMode::BucketEnd), want, "p{p}");
    }
    let mismatched = DecayingHistogram::new(o, DAY * 2);
    assert!(ab.merge(&mismatched).is_err());
}

#[test]
fn checkpoint_round_trip_keeps_percentiles() {
    let o = HistogramOptions::memory_default();
    let mut h = DecayingHistogram::new(o, DAY);
    for i in 0..2000 {
        h.add_sample(2e8 + (i % 100) as f64 * 3e6, 1.0, t(i as f64 / 300.0));
    }
    let cp = h.to_checkpoint();
    let json = serde_json::to_string(&cp).unwrap();
    let back: HistogramCheckpoint = serde_json::from_str(&json).unwrap();
    let restored = DecayingHistogram::from_checkpoint(o, DAY, &back).unwrap();
    for p in [0.5, 0.9, 0.95] {
        assert_eq!(
            restored.percentile(p, PercentileMode::BucketEnd),
            h.percentile(p, PercentileMode::BucketEnd)
        );
    }
    assert!((restored.total_weight() - h.total_weight()).abs() / h.total_weight() < 1e-12);
    assert_eq!(restored.reference(), h.reference());

    let empty = DecayingHistogram::new(o, DAY).to_checkpoint();
    assert!(
        DecayingHistogram::from_checkpoint(o, DAY, &empty)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_checkpoints_are_typed_errors() {
    let o = HistogramOptions::cpu_default();
    let mut h = DecayingHistogram::new(o, DAY);
    h.add_sample(1.0, 1.0, t(0.0));
    let good = h.to_checkpoint();
    let check =
        |cp: HistogramCheckpoint| DecayingHistogram::from_checkpoint(o, DAY, &cp).unwrap_err();
    assert!(matches!(
        check(HistogramCheckpoint {
            version: 9,
            ..good.clone()
        }),
        HistogramError::UnsupportedVersion(9, 1)
    ));
    assert!(matches!(
        DecayingHistogram::from_checkpoint(HistogramOptions::memory_default(), DAY, &good)
            .unwrap_err(),
        HistogramError::LayoutMismatch(_)
    ));
    assert!(matches!(
        check(HistogramCheckpoint {
            total_weight: f64::NAN,
            ..good.clone()
        }),
        HistogramError::Malformed(_)
    ));
    assert!(matches!(
        check(HistogramCheckpoint {
            first_bucket: 175,
            weights: vec![1, 1],
            ..good
        }),
        HistogramError::Malformed(_)
    ));
}

proptest! {
    #[test]
    fn percentiles_are_monotone_and_bounded(
        samples in prop::collection::vec((0.0f64..2000.0, 0.01f64..10.0, 0.0f64..30.0), 1..200),
        p in 0.0f64..1.0,
        q in 0.0f64..1.0,
    ) {
        let o = HistogramOptions::cpu_default();
        let mut h = DecayingHistogram::new(o, DAY);
        for (v, w, d) in &samples {
            h.add_sample(*v, *w, t(*d));
        }
        let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
        for mode in [PercentileMode::BucketEnd, PercentileMode::Interpolate] {
            let (a, b) = (h.percentile(lo, mode), h.percentile(hi, mode));
            prop_assert!(a.is_finite() && b.is_finite());
            prop_assert!(a <= b, "{:?}: p{} = {} > p{} = {}", mode, lo, a, hi, b);
        }
        prop_assert!(h.percentile(hi, PercentileMode::Interpolate) <= h.percentile(hi, PercentileMode::BucketEnd));
        let max_v = samples.iter().map(|s| s.0).fold(0.0, f64::max);
        let upper = o.bucket_start(o.find_bucket(max_v) + 1).max(o.bucket_start(o.num_buckets() - 1));
        prop_assert!(h.percentile(1.0, PercentileMode::BucketEnd) <= upper);
    }

    #[test]
    fn checkpoint_parsing_never_panics(json in "\\PC{0,120}") {
        if let Ok(cp) = serde_json::from_str::<HistogramCheckpoint>(&json) {
            let _ = DecayingHistogram::from_checkpoint(HistogramOptions::cpu_default(), DAY, &cp);
        }
    }

    // Rounding each bucket to 1/10 000 of the largest moves the cumulative weight below any bucket by at most
    // half a unit per occupied bucket, both in the sum up to that bucket and in the total: a restored percentile
    // p lies between the original's percentiles at p - e and p + e, e = occupied / units. It does not stay within a
    // bucket of the original's p: when p falls at the edge of a gap between sparse samples, a shift of e carries it
    // across the gap (a CI run found such a case).
    #[test]
    fn restored_percentiles_move_by_at_most_the_rounding_in_cumulative_weight(
        samples in prop::collection::vec((0.0f64..50.0, 0.0f64..10.0), 1..300),
        p in 0.05f64..1.0,
    ) {
        let o = HistogramOptions::cpu_default();
        let mut h = DecayingHistogram::new(o, DAY);
        for (v, d) in &samples {
            h.add_sample(*v, 1.0, t(*d));
        }
        let r = DecayingHistogram::from_checkpoint(o, DAY, &h.to_checkpoint()).unwrap();
        let max = h.buckets().map(|(_, w)| w).fold(0.0, f64::max);
        let occupied = h.buckets().filter(|(_, w)| *w > 0.0).count() as f64;
        let units = h.total_weight() / max * 10_000.0;
        let e = occupied / units + 1e-9;
        let bucket = |x: f64| o.find_bucket(x * 0.999_999);
        let restored = bucket(r.percentile(p, PercentileMode::BucketEnd));
        let low = bucket(h.percentile((p - e).max(0.0), PercentileMode::BucketEnd));
        let high = bucket(h.percentile((p + e).min(1.0), PercentileMode::BucketEnd));
        prop_assert!(
            low <= restored && restored <= high,
            "p{} (e {}): restored bucket {} outside [{}, {}]", p, e, restored, low, high
        );
    }
}
