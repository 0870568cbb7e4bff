//! From a trace's own resolution to one sample a minute (what the upstream recommender and Tailor's default
//! pipeline consume), the same way for every contender.
//!
//! The method, stated once:
//! - A minute that holds measurements keeps them: CPU is their mean, memory their maximum.
//! - A minute without one, at most [`FillConfig::max_gap`] after the last measurement, holds the last value. Held
//!   CPU is multiplied by `1 + U(-spread, +spread)`, drawn from a SplitMix64 stream seeded with the seed and the
//!   trace's dataset and name, so a 5-minute average becomes five minutes that vary around it (the average is
//!   kept in expectation; the peaks inside the window stay unknown). Held memory is not varied: it is a level,
//!   and invented memory peaks would be invented OOM kills.
//! - Longer gaps stay empty: nothing is fed and nothing is scored there.

use std::time::Duration;

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use crate::trace::{Provisioned, Trace};

pub const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillConfig {
    pub seed: u64,
    /// Half-width of the multiplicative noise on held CPU values (0.1 = ±10 %).
    pub cpu_spread: f64,
    pub max_gap: Duration,
}

impl Default for FillConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            cpu_spread: 0.1,
            max_gap: Duration::from_secs(15 * 60),
        }
    }
}

/// One minute of usage, as the workload demanded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    pub at: Timestamp,
    pub cpu: Option<MilliCpu>,
    pub memory: Option<Bytes>,
}

/// A trace at one sample a minute, ready to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteSeries {
    pub dataset: String,
    pub name: String,
    pub provisioned: Provisioned,
    /// Strictly increasing, minute-aligned; gaps are missing minutes.
    pub minutes: Vec<Minute>,
}

impl MinuteSeries {
    pub fn has_cpu(&self) -> bool {
        self.minutes.iter().any(|m| m.cpu.is_some())
    }
    pub fn has_memory(&self) -> bool {
        self.minutes.iter().any(|m| m.memory.is_some())
    }
}

/// SplitMix64: tiny, fully specified, and stable forever (a crate's generator may change between versions).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn next_signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// FNV-1a of the trace's identity, mixed with the seed: each trace gets its own stream, stable across runs.
fn trace_seed(seed: u64, dataset: &str, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in dataset.bytes().chain([0u8]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub fn to_minutes(trace: &Trace, cfg: &FillConfig) -> MinuteSeries {
    let mut measured: Vec<(Timestamp, Option<MilliCpu>, Option<Bytes>)> = Vec::new();
    let mut acc: Option<(Timestamp, i64, i64, Option<Bytes>)> = None;
    let flush = |acc: Option<(Timestamp, i64, i64, Option<Bytes>)>,
                 out: &mut Vec<(Timestamp, Option<MilliCpu>, Option<Bytes>)>| {
        if let Some((at, sum, n, mem)) = acc {
            let cpu = (n > 0).then(|| MilliCpu(sum / n));
            out.push((at, cpu, mem));
        }
    };
    for p in &trace.points {
        let minute = p.at.truncate_to(MINUTE);
        if acc.is_some_and(|a| a.0 != minute) {
            flush(acc.take(), &mut measured);
        }
        let a = acc.get_or_insert((minute, 0, 0, None));
        if let Some(c) = p.cpu {
            a.1 = a.1.saturating_add(c.get());
            a.2 += 1;
        }
        if let Some(m) = p.memory {
            a.3 = Some(a.3.map_or(m, |x| x.max(m)));
        }
    }
    flush(acc, &mut measured);

    let mut rng = SplitMix64::new(trace_seed(cfg.seed, &trace.dataset, &trace.name));
    let mut minutes = Vec::with_capacity(measured.len());
    for (i, &(at, cpu, memory)) in measured.iter().enumerate() {
        minutes.push(Minute { at, cpu, memory });
        let Some(&(next, _, _)) = measured.get(i + 1) else {
            continue;
        };
        if next.since(at) > cfg.max_gap {
            continue;
        }
        let mut t = at.saturating_add(MINUTE);
        while t < next {
            let noise = 1.0 + cfg.cpu_spread * rng.next_signed_unit();
            minutes.push(Minute {
                at: t,
                cpu: cpu.map(|c| c.scale(noise)),
                memory,
            });
            t = t.saturating_add(MINUTE);
        }
    }
    MinuteSeries {
        dataset: trace.dataset.clone(),
        name: trace.name.clone(),
        provisioned: trace.provisioned,
        minutes,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::trace::Point;

    fn trace(points: Vec<Point>) -> Trace {
        Trace {
            dataset: "d".into(),
            name: "n".into(),
            provisioned: Provisioned {
                cpu: MilliCpu(1000),
                memory: Bytes(1 << 30),
            },
            points,
        }
    }

    fn point(secs: i64, cpu: i64, mem: i64) -> Point {
        Point {
            at: Timestamp::from_unix_secs(secs),
            cpu: Some(MilliCpu(cpu)),
            memory: Some(Bytes(mem)),
        }
    }

    #[test]
    fn five_minute_points_become_five_minutes_and_long_gaps_stay_empty() {
        let t = trace(vec![
            point(600, 500, 100),
            point(900, 300, 200),
            point(900 + 3600, 100, 50),
        ]);
        let s = to_minutes(&t, &FillConfig::default());
        let at: Vec<i64> = s
            .minutes
            .iter()
            .map(|m| m.at.unix_millis() / 1000)
            .collect();
        assert_eq!(at, vec![600, 660, 720, 780, 840, 900, 4500]);
        // Measured minutes keep their values; held ones vary CPU within ±10 % and hold memory.
        assert_eq!(s.minutes[0].cpu, Some(MilliCpu(500)));
        for m in &s.minutes[1..5] {
            let c = m.cpu.expect("held").get();
            assert!((450..=550).contains(&c), "{c}");
            assert_eq!(m.memory, Some(Bytes(100)));
        }
        assert_eq!(s.minutes[5].cpu, Some(MilliCpu(300)));
    }

    #[test]
    fn several_points_in_a_minute_average_cpu_and_keep_peak_memory() {
        let t = trace(vec![
            point(60, 100, 10),
            point(80, 300, 30),
            point(100, 200, 20),
        ]);
        let s = to_minutes(&t, &FillConfig::default());
        assert_eq!(s.minutes.len(), 1);
        assert_eq!(s.minutes[0].cpu, Some(MilliCpu(200)));
        assert_eq!(s.minutes[0].memory, Some(Bytes(30)));
    }

    proptest! {
        #[test]
        fn fill_is_seeded_aligned_and_keeps_the_mean(
            steps in prop::collection::vec((1i64..20, 0i64..100_000), 1..60),
            seed in any::<u64>(),
        ) {
            let mut secs = 1_700_000_000;
            let mut points = Vec::new();
            for (gap_min, cpu) in &steps {
                secs += gap_min * 60;
                points.push(point(secs, *cpu, cpu * 10));
            }
            let t = trace(points);
            let cfg = FillConfig { seed, ..FillConfig::default() };
            let a = to_minutes(&t, &cfg);
            prop_assert_eq!(&a, &to_minutes(&t, &cfg), "same seed, same minutes");
            for w in a.minutes.windows(2) {
                prop_assert!(w[0].at < w[1].at);
            }
            for m in &a.minutes {
                prop_assert_eq!(m.at.unix_millis() % 60_000, 0);
                let c = m.cpu.expect("cpu").get() as f64;
                prop_assert!(c >= 0.0);
            }
            prop_assert!(a.minutes.len() >= t.points.len());
        }
    }
}
