//! Exponential backoff with jitter for report retries.

use std::time::Duration;

/// Doubles the delay per failure from `base` up to `max`; each delay is drawn uniformly from its upper half
/// so agents on many nodes do not retry in lockstep after a recommender restart.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    /// The delay before the next attempt; `unit` in `[0, 1)` is the jitter draw (passed in for tests).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.failures.min(20));
        let ceiling = exp.min(self.max);
        self.failures = self.failures.saturating_add(1);
        ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// Call after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.next_delay(1.0), Duration::from_millis(100));
        assert_eq!(b.next_delay(1.0), Duration::from_millis(200));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(200));
        for _ in 0..30 {
            assert!(b.next_delay(1.0) <= Duration::from_secs(1));
        }
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(50));
    }
}
