//! What happened between two samples of one container. Pure arithmetic, so resets and clock oddities are
//! tested without files.

use tailor_core::report::ThrottlingDelta;

use crate::cgroup::RawSample;
use crate::cgroup::stats::Pressure;

/// The change between two samples of the same cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    /// Monotonic time between the samples.
    pub elapsed_usec: u64,
    pub usage_usec: u64,
    /// Usage rate over the gap; `None` when a counter went backwards or the rate is impossible, so the sample
    /// must not enter the histogram.
    pub millicores: Option<u64>,
    pub throttling: ThrottlingDelta,
    pub oom_kills: u64,
    pub cpu_pressure: PressureDelta,
    pub memory_pressure: PressureDelta,
    /// Some counter went backwards: the cgroup was recreated under the same path. Deltas of that sample are 0.
    pub reset: bool,
}

/// Stall-time deltas of one PSI file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PressureDelta {
    pub some_usec: u64,
    pub full_usec: u64,
}

/// `cur − prev` for a monotonic counter; `None` if it went backwards.
fn counter(prev: u64, cur: u64) -> Option<u64> {
    cur.checked_sub(prev)
}

fn pressure(prev: Option<&Pressure>, cur: Option<&Pressure>, reset: &mut bool) -> PressureDelta {
    let (Some(p), Some(c)) = (prev, cur) else {
        return PressureDelta::default();
    };
    let some = counter(p.some.total_usec, c.some.total_usec);
    let full = match (p.full, c.full) {
        (Some(pf), Some(cf)) => counter(pf.total_usec, cf.total_usec),
        _ => Some(0),
    };
    match (some, full) {
        (Some(some_usec), Some(full_usec)) => PressureDelta {
            some_usec,
            full_usec,
        },
        _ => {
            *reset = true;
            PressureDelta::default()
        }
    }
}

/// Computes the delta from `prev` to `cur`, `elapsed_usec` apart on a monotonic clock. `max_millicores` is the
/// highest believable rate (the node's CPUs plus slack): anything above it is a counter glitch, not usage.
pub fn delta(prev: &RawSample, cur: &RawSample, elapsed_usec: u64, max_millicores: u64) -> Delta {
    let mut reset = false;
    let mut take = |p: u64, c: u64| {
        counter(p, c).unwrap_or_else(|| {
            reset = true;
            0
        })
    };
    let usage_usec = take(prev.cpu.usage_usec, cur.cpu.usage_usec);
    let throttling = ThrottlingDelta {
        nr_periods: take(prev.cpu.nr_periods, cur.cpu.nr_periods),
        nr_throttled: take(prev.cpu.nr_throttled, cur.cpu.nr_throttled),
        throttled_usec: take(prev.cpu.throttled_usec, cur.cpu.throttled_usec),
    };
    let oom_kills = take(prev.memory_events.oom_kill, cur.memory_events.oom_kill);
    let cpu_pressure = pressure(
        prev.cpu_pressure.as_ref(),
        cur.cpu_pressure.as_ref(),
        &mut reset,
    );
    let memory_pressure = pressure(
        prev.memory_pressure.as_ref(),
        cur.memory_pressure.as_ref(),
        &mut reset,
    );
    let millicores = if reset || elapsed_usec == 0 {
        None
    } else {
        // usage_usec × 1000 / elapsed: u128 so a long gap with a big counter cannot overflow.
        let rate = u128::from(usage_usec) * 1_000 / u128::from(elapsed_usec);
        u64::try_from(rate).ok().filter(|&r| r <= max_millicores)
    };
    if reset {
        return Delta {
            elapsed_usec,
            reset,
            ..Delta::default()
        };
    }
    Delta {
        elapsed_usec,
        usage_usec,
        millicores,
        throttling,
        oom_kills,
        cpu_pressure,
        memory_pressure,
        reset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::stats::{CpuStat, MemoryEvents, PsiLine};

    fn sample(usage: u64, periods: u64, throttled: u64, oom: u64, psi_total: u64) -> RawSample {
        RawSample {
            cpu: CpuStat {
                usage_usec: usage,
                nr_periods: periods,
                nr_throttled: throttled,
                ..CpuStat::default()
            },
            memory_events: MemoryEvents {
                oom_kill: oom,
                ..MemoryEvents::default()
            },
            cpu_pressure: Some(Pressure {
                some: PsiLine {
                    total_usec: psi_total,
                    ..PsiLine::default()
                },
                full: None,
            }),
            ..RawSample::default()
        }
    }

    #[test]
    fn rate_and_counters() {
        let d = delta(
            &sample(1_000_000, 10, 1, 0, 5),
            &sample(1_250_000, 20, 4, 1, 105),
            1_000_000,
            64_000,
        );
        assert_eq!(d.millicores, Some(250));
        assert_eq!(d.usage_usec, 250_000);
        assert_eq!(
            d.throttling,
            ThrottlingDelta {
                nr_periods: 10,
                nr_throttled: 3,
                throttled_usec: 0
            }
        );
        assert_eq!(d.oom_kills, 1);
        assert_eq!(
            d.cpu_pressure,
            PressureDelta {
                some_usec: 100,
                full_usec: 0
            }
        );
        assert!(!d.reset);
    }

    #[test]
    fn counter_going_backwards_is_a_reset_not_a_huge_rate() {
        let d = delta(
            &sample(9_000_000, 50, 5, 2, 100),
            &sample(10_000, 1, 0, 0, 0),
            1_000_000,
            64_000,
        );
        assert!(d.reset);
        assert_eq!(d.millicores, None);
        assert_eq!((d.usage_usec, d.oom_kills), (0, 0));
    }

    #[test]
    fn impossible_rate_and_zero_gap_are_dropped() {
        let d = delta(
            &sample(0, 0, 0, 0, 0),
            &sample(100_000_000, 0, 0, 0, 0),
            1_000_000,
            64_000,
        );
        assert_eq!(d.millicores, None);
        let d = delta(&sample(0, 0, 0, 0, 0), &sample(5, 0, 0, 0, 0), 0, 64_000);
        assert_eq!(d.millicores, None);
    }
}
