//! Throttling bursts over a sliding window of recent samples, not only within one sample.
//!
//! Two runs of consecutive recent samples are judged after every sample: the shortest one ending with the newest
//! sample that has at least `min_periods` CFS periods (a sudden burst, however short the sampling interval), and
//! the whole window (sustained throttling). Either is a burst when at least `percent` of its periods were
//! throttled. The newest sample alone is the first run whenever it has enough periods, so a burst inside one
//! long sample is still caught. The window catches what a per-sample rule misses: with a short sampling interval
//! each sample sees too few periods to judge, and a burst that straddles two samples is diluted in both. Running
//! totals keep the cost per sample independent of the window's length. Pure arithmetic on deltas; the clock is
//! the caller's.

use std::collections::VecDeque;

use tailor_core::report::ThrottlingDelta;

/// Most samples remembered per container (bounds memory when the interval is short and the window long).
pub const MAX_SAMPLES: usize = 64;

/// When throttling counts as a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstRule {
    pub min_periods: u64,
    /// Percentage of periods throttled (1..=100).
    pub percent: u64,
    /// Longest run of samples considered, in µs of monotonic time.
    pub window_usec: u64,
}

impl BurstRule {
    fn matches(&self, t: &ThrottlingDelta) -> bool {
        t.nr_periods >= self.min_periods.max(1)
            && t.nr_throttled.saturating_mul(100) >= t.nr_periods.saturating_mul(self.percent)
    }
}

/// A detected burst: the summed deltas of the qualifying run and the time it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub throttling: ThrottlingDelta,
    pub span_usec: u64,
}

/// Recent samples' throttling deltas of one container, oldest first, with their running totals.
#[derive(Debug, Clone, Default)]
pub struct BurstWindow {
    samples: VecDeque<(u64, ThrottlingDelta)>,
    total: ThrottlingDelta,
    span_usec: u64,
}

fn add(a: &mut ThrottlingDelta, b: &ThrottlingDelta) {
    a.nr_periods = a.nr_periods.saturating_add(b.nr_periods);
    a.nr_throttled = a.nr_throttled.saturating_add(b.nr_throttled);
    a.throttled_usec = a.throttled_usec.saturating_add(b.throttled_usec);
}

fn sub(a: &mut ThrottlingDelta, b: &ThrottlingDelta) {
    a.nr_periods = a.nr_periods.saturating_sub(b.nr_periods);
    a.nr_throttled = a.nr_throttled.saturating_sub(b.nr_throttled);
    a.throttled_usec = a.throttled_usec.saturating_sub(b.throttled_usec);
}

impl BurstWindow {
    /// Forgets every sample (counters reset: old deltas say nothing about the new cgroup).
    pub fn clear(&mut self) {
        self.samples.clear();
        self.total = ThrottlingDelta::default();
        self.span_usec = 0;
    }

    fn pop_oldest(&mut self) {
        if let Some((elapsed, t)) = self.samples.pop_front() {
            sub(&mut self.total, &t);
            self.span_usec = self.span_usec.saturating_sub(elapsed);
        }
    }

    /// Samples currently remembered.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds the newest sample (its throttling delta and the time it covers) and returns a burst if the shortest
    /// judgeable run ending with it, or else the whole window, qualifies. A reported burst clears the window, so
    /// the next one needs new evidence.
    pub fn push(
        &mut self,
        rule: &BurstRule,
        elapsed_usec: u64,
        throttling: ThrottlingDelta,
    ) -> Option<Burst> {
        if self.samples.len() >= MAX_SAMPLES {
            self.pop_oldest();
        }
        self.samples.push_back((elapsed_usec, throttling));
        add(&mut self.total, &throttling);
        self.span_usec = self.span_usec.saturating_add(elapsed_usec);
        // The newest sample always stays, however long it is.
        while self.samples.len() > 1 && self.span_usec > rule.window_usec {
            self.pop_oldest();
        }
        if self.total.nr_periods < rule.min_periods {
            // Too few periods in the whole window (the usual case: no CPU limit, or idle): nothing to judge.
            return None;
        }
        let mut recent = ThrottlingDelta::default();
        let mut span = 0u64;
        for (elapsed, t) in self.samples.iter().rev() {
            add(&mut recent, t);
            span = span.saturating_add(*elapsed);
            if recent.nr_periods >= rule.min_periods {
                break;
            }
        }
        let burst = if rule.matches(&recent) {
            Burst {
                throttling: recent,
                span_usec: span,
            }
        } else if rule.matches(&self.total) {
            Burst {
                throttling: self.total,
                span_usec: self.span_usec,
            }
        } else {
            return None;
        };
        self.clear();
        Some(burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000;

    fn t(periods: u64, throttled: u64) -> ThrottlingDelta {
        ThrottlingDelta {
            nr_periods: periods,
            nr_throttled: throttled,
            throttled_usec: throttled * 10_000,
        }
    }

    fn rule(window_s: u64) -> BurstRule {
        BurstRule {
            min_periods: 5,
            percent: 50,
            window_usec: window_s * SEC,
        }
    }

    #[test]
    fn one_sample_burst_is_still_caught() {
        let mut w = BurstWindow::default();
        let b = w.push(&rule(10), SEC, t(10, 6)).expect("burst");
        assert_eq!((b.throttling, b.span_usec), (t(10, 6), SEC));
        assert!(w.is_empty(), "a reported burst clears the window");
    }

    #[test]
    fn throttling_spread_over_short_samples_adds_up() {
        // 100 ms samples with 1 period each, all throttled: no single sample reaches 5 periods.
        let mut w = BurstWindow::default();
        for _ in 0..4 {
            assert_eq!(w.push(&rule(10), SEC / 10, t(1, 1)), None);
        }
        let b = w.push(&rule(10), SEC / 10, t(1, 1)).expect("burst");
        assert_eq!(b.throttling, t(5, 5));
        assert_eq!(b.span_usec, SEC / 2);
    }

    #[test]
    fn a_burst_straddling_two_samples() {
        // When the newest sample qualifies on its own, that is the run reported.
        let mut w = BurstWindow::default();
        assert_eq!(w.push(&rule(10), SEC, t(10, 4)), None);
        let b = w.push(&rule(10), SEC, t(10, 8)).expect("burst");
        assert_eq!(
            b.throttling,
            t(10, 8),
            "the shortest qualifying run is the newest sample alone"
        );
        // Neither sample has enough periods to judge; together they are 5 throttled of 6.
        let mut w = BurstWindow::default();
        assert_eq!(w.push(&rule(10), SEC, t(3, 3)), None);
        let b = w.push(&rule(10), SEC, t(3, 2)).expect("burst");
        assert_eq!((b.throttling, b.span_usec), (t(6, 5), 2 * SEC));
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut w = BurstWindow::default();
        assert_eq!(w.push(&rule(2), SEC, t(4, 4)), None);
        // Two quiet seconds push the throttled second out of a 2 s window.
        assert_eq!(w.push(&rule(2), SEC, t(10, 0)), None);
        assert_eq!(w.push(&rule(2), SEC, t(0, 0)), None);
        assert!(w.len() <= 2, "{}", w.len());
        assert_eq!(
            w.push(&rule(2), SEC, t(1, 1)),
            None,
            "4 throttled periods are 3 s old"
        );
    }

    #[test]
    fn dilution_within_the_window_is_not_a_burst() {
        let mut w = BurstWindow::default();
        for _ in 0..20 {
            assert_eq!(w.push(&rule(10), SEC, t(10, 4)), None);
        }
        assert!(w.len() <= 10);
    }

    #[test]
    fn sustained_throttling_over_the_whole_window() {
        // The newest run with enough periods is under the bar; the window as a whole is over it.
        let mut w = BurstWindow::default();
        assert_eq!(
            w.push(&rule(10), SEC, t(10, 9)),
            Some(Burst {
                throttling: t(10, 9),
                span_usec: SEC
            })
        );
        assert_eq!(
            w.push(&rule(10), SEC, t(10, 8)),
            Some(Burst {
                throttling: t(10, 8),
                span_usec: SEC
            })
        );
        let mut w = BurstWindow::default();
        let strict = BurstRule {
            percent: 60,
            ..rule(10)
        };
        assert_eq!(
            w.push(&strict, SEC, t(6, 6)),
            Some(Burst {
                throttling: t(6, 6),
                span_usec: SEC
            })
        );
        assert_eq!(
            w.push(&strict, SEC, t(4, 4)),
            None,
            "4 periods: too few alone, and the window was cleared"
        );
        let b = w.push(&strict, SEC, t(10, 5)).expect("burst");
        assert_eq!(
            (b.throttling, b.span_usec),
            (t(14, 9), 2 * SEC),
            "50 % recently, 64 % over the window"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut w = BurstWindow::default();
        for _ in 0..1_000 {
            w.push(&rule(3_600), 1_000, t(0, 0));
        }
        assert_eq!(w.len(), MAX_SAMPLES);
    }
}
