//! Time as a plain value. The core never reads a clock: every caller passes `now` in, so tests replay months of
//! history in microseconds and the same code serves live runs and trace replays.

use std::fmt;
use std::time::Duration;

/// Milliseconds since the Unix epoch (UTC). Negative values are before 1970 and still valid.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Self = Self(0);

    pub const fn from_unix_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn from_unix_secs(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }

    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Later by `d`, saturating at the end of representable time.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(d)))
    }

    /// Earlier by `d`, saturating.
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(duration_millis(d)))
    }

    /// `self − earlier`, or zero when `earlier` is not earlier.
    pub fn since(self, earlier: Self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// Signed distance in (fractional) units of `unit`; what decay exponents and confidence are computed from.
    pub fn units_since(self, earlier: Self, unit: Duration) -> f64 {
        let unit_ms = duration_millis(unit).max(1) as f64;
        (self.0 as f64 - earlier.0 as f64) / unit_ms
    }

    /// Rounded to the nearest multiple of `step` since the epoch, halves rounding up (as Go's `time.Round`).
    pub fn round_to(self, step: Duration) -> Self {
        let step = duration_millis(step);
        if step <= 0 {
            return self;
        }
        let rem = self.0.rem_euclid(step);
        let down = self.0 - rem;
        Self(if rem * 2 >= step {
            down.saturating_add(step)
        } else {
            down
        })
    }

    /// Truncated down to a multiple of `step` since the epoch.
    pub fn truncate_to(self, step: Duration) -> Self {
        let step = duration_millis(step);
        if step <= 0 {
            return self;
        }
        Self(self.0 - self.0.rem_euclid(step))
    }
}

pub(crate) fn duration_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_rounds_like_go() {
        let day = Duration::from_secs(86_400);
        let t = Timestamp::from_unix_secs(86_400 * 10 + 43_200);
        assert_eq!(t.round_to(day), Timestamp::from_unix_secs(86_400 * 11));
        assert_eq!(t.truncate_to(day), Timestamp::from_unix_secs(86_400 * 10));
        assert_eq!(
            Timestamp::from_unix_millis(-1)
                .truncate_to(day)
                .unix_millis(),
            -86_400_000
        );
        assert_eq!(
            Timestamp::from_unix_millis(i64::MAX)
                .saturating_add(day)
                .unix_millis(),
            i64::MAX
        );
        assert_eq!(Timestamp::EPOCH.since(t), Duration::ZERO);
        assert_eq!(t.units_since(t.saturating_sub(day), day), 1.0);
    }
}
