//! Throttling as an up-signal. Usage under a CPU limit can never show demand beyond it: a container throttled in
//! most of its CFS periods looks like one that uses exactly its limit. When an interval was throttled in at least
//! `threshold` of its periods, Tailor adds a sample above the limit, scaled by how much of the interval was
//! starved, so the histogram learns that the limit (and the request under it) is too small.

use std::time::Duration;

use crate::quantity::MilliCpu;
use crate::time::Timestamp;

/// The extra CPU sample (in cores) for an interval throttled in `share` of its periods under `limit`, or `None`
/// below `threshold` (or for a share that is not a number).
pub fn throttling_demand(limit: MilliCpu, share: f64, threshold: f64) -> Option<f64> {
    if !share.is_finite() || share < threshold || limit.get() <= 0 {
        return None;
    }
    Some(limit.as_cores() * (1.0 + share.min(1.0)))
}

/// How much of a container's recent CPU time was throttled: CFS periods and throttled periods, each decayed
/// with a half-life, so the share follows the last hours and fades once a container stops running under a limit.
/// Operators see it as the VPA's `CPUThrottled` condition; it changes no recommendation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleTally {
    periods: f64,
    throttled: f64,
    /// The time `periods` and `throttled` are valued at.
    at: Option<Timestamp>,
    half_life: Duration,
}

/// Below this many decayed periods (10 s of CPU time at the default 100 ms period) a share says too little.
pub const MIN_THROTTLE_PERIODS: f64 = 100.0;

impl ThrottleTally {
    /// An empty tally decaying with `half_life`.
    pub fn new(half_life: Duration) -> Self {
        Self {
            periods: 0.0,
            throttled: 0.0,
            at: None,
            half_life,
        }
    }

    fn factor(&self, from: Timestamp, to: Timestamp) -> f64 {
        if self.half_life.is_zero() {
            return if to > from { 0.0 } else { 1.0 };
        }
        let halves = to.units_since(from, self.half_life);
        (-halves).exp2()
    }

    /// Counts an interval ending at `end` with `periods` CFS periods, `throttled` of them throttled. A late
    /// interval (before the last one) counts as already decayed.
    pub fn add(&mut self, periods: u64, throttled: u64, end: Timestamp) {
        let (periods, throttled) = (periods as f64, throttled.min(periods) as f64);
        match self.at {
            Some(at) if end < at => {
                let f = self.factor(end, at);
                self.periods += periods * f;
                self.throttled += throttled * f;
            }
            at => {
                let f = at.map_or(1.0, |at| self.factor(at, end));
                self.periods = self.periods * f + periods;
                self.throttled = self.throttled * f + throttled;
                self.at = Some(end);
            }
        }
    }

    /// The throttled share of the decayed periods at `now`, or `None` while fewer than
    /// [`MIN_THROTTLE_PERIODS`] remain (no limit, too little data, or data that has faded).
    pub fn share(&self, now: Timestamp) -> Option<f64> {
        let at = self.at?;
        let f = if now > at { self.factor(at, now) } else { 1.0 };
        if self.periods * f < MIN_THROTTLE_PERIODS {
            return None;
        }
        Some((self.throttled / self.periods).clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_700_000_000_000 + minutes * 60_000)
    }

    #[test]
    fn the_share_follows_recent_intervals_and_fades() {
        let mut t = ThrottleTally::new(HOUR);
        assert_eq!(t.share(at(0)), None);
        t.add(50, 50, at(0));
        assert_eq!(t.share(at(0)), None, "too few periods");
        t.add(550, 10, at(1));
        let first = t.share(at(1)).expect("enough periods");
        assert!((first - 60.0 / 600.0).abs() < 0.01, "{first}");
        // An hour of unthrottled running halves the weight of the throttled start.
        for m in 2..=61 {
            t.add(600, 0, at(m));
        }
        let later = t.share(at(61)).expect("share");
        assert!(later < 0.01, "{later}");
        // Nothing more arrives (the limit was removed): after ~9 half-lives the tally is silent.
        assert_eq!(t.share(at(61 + 9 * 60)), None);
    }

    #[test]
    fn late_intervals_count_decayed_and_throttled_is_capped_by_periods() {
        let mut a = ThrottleTally::new(HOUR);
        a.add(1000, 0, at(60));
        a.add(1000, 5000, at(0));
        let share = a.share(at(60)).expect("share");
        // The late interval weighs half: 500 throttled of 1500 periods.
        assert!((share - 1.0 / 3.0).abs() < 1e-9, "{share}");
    }

    #[test]
    fn only_heavy_throttling_adds_demand_above_the_limit() {
        assert_eq!(throttling_demand(MilliCpu(500), 0.05, 0.1), None);
        assert_eq!(throttling_demand(MilliCpu(500), 0.5, 0.1), Some(0.75));
        assert_eq!(
            throttling_demand(MilliCpu(500), 3.0, 0.1),
            Some(1.0),
            "share capped at 1"
        );
        assert_eq!(throttling_demand(MilliCpu(500), f64::NAN, 0.1), None);
        assert_eq!(throttling_demand(MilliCpu(0), 1.0, 0.1), None);
    }
}
