//! Token buckets for the per-workload and global resize rate limits, driven by the `now` passed in.

use std::collections::HashMap;

use super::units::{Timestamp, at, ms};

/// A token bucket: `burst` tokens, one more every `interval_ms`. An interval of 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    burst: i64,
    interval_ms: i64,
    /// Tokens in thousandths, so partial refills are not lost.
    milli_tokens: i64,
    last_ms: i64,
}

impl TokenBucket {
    pub fn new(burst: u32, interval_ms: i64, now: Timestamp) -> Self {
        let burst = i64::from(burst.max(1));
        Self {
            burst,
            interval_ms: interval_ms.max(0),
            milli_tokens: burst * 1000,
            last_ms: ms(now),
        }
    }

    pub fn unlimited() -> Self {
        Self {
            burst: 1,
            interval_ms: 0,
            milli_tokens: 1000,
            last_ms: 0,
        }
    }

    fn refill(&mut self, now: Timestamp) {
        let now = ms(now);
        if self.interval_ms == 0 || now <= self.last_ms {
            return;
        }
        let gained = i128::from(now - self.last_ms) * 1000 / i128::from(self.interval_ms);
        let cap = self.burst * 1000;
        self.milli_tokens =
            i64::try_from((i128::from(self.milli_tokens) + gained).min(i128::from(cap)))
                .unwrap_or(cap);
        self.last_ms = now;
    }

    /// `None` if a token is available now, else when the next one will be.
    pub fn ready_at(&mut self, now: Timestamp) -> Option<Timestamp> {
        if self.interval_ms == 0 {
            return None;
        }
        self.refill(now);
        if self.milli_tokens >= 1000 {
            return None;
        }
        let missing = 1000 - self.milli_tokens;
        let wait = (i128::from(missing) * i128::from(self.interval_ms) + 999) / 1000;
        Some(at(
            ms(now).saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
        ))
    }

    /// Takes a token (call after [`TokenBucket::ready_at`] said one is available).
    pub fn take(&mut self, now: Timestamp) {
        if self.interval_ms == 0 {
            return;
        }
        self.refill(now);
        self.milli_tokens = (self.milli_tokens - 1000).max(0);
    }
}

/// The global bucket plus one bucket per workload, created on first use; and, per workload, when a pod of it was
/// last evicted because a resize failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    global: TokenBucket,
    workload_burst: u32,
    workload_interval_ms: i64,
    workloads: HashMap<String, TokenBucket>,
    /// Kept across passes, unlike a pod's own memory: the replacement of an evicted pod is a new pod, and without
    /// this it would start the Deferred → timeout → evict cycle afresh on the node that could not fit it.
    failure_evictions: HashMap<String, Timestamp>,
}

impl RateLimits {
    pub fn new(global: TokenBucket, workload_burst: u32, workload_interval_ms: i64) -> Self {
        Self {
            global,
            workload_burst,
            workload_interval_ms,
            workloads: HashMap::new(),
            failure_evictions: HashMap::new(),
        }
    }

    pub fn unlimited() -> Self {
        Self::new(TokenBucket::unlimited(), 1, 0)
    }

    /// `Err(when)` if the global bucket (and, when `per_workload`, the workload's bucket) has no token now.
    pub fn check(
        &mut self,
        workload: &str,
        per_workload: bool,
        now: Timestamp,
    ) -> Result<(), Timestamp> {
        let mut until = self.global.ready_at(now);
        if per_workload {
            let w = self.bucket(workload, now).ready_at(now);
            until = match (until, w) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        until.map_or(Ok(()), Err)
    }

    pub fn take(&mut self, workload: &str, per_workload: bool, now: Timestamp) {
        self.global.take(now);
        if per_workload {
            self.bucket(workload, now).take(now);
        }
    }

    /// Drops workload buckets that are full again (they behave exactly like new ones), and failure evictions
    /// older than `hold_ms`.
    pub fn prune(&mut self, now: Timestamp, hold_ms: i64) {
        self.workloads.retain(|_, b| {
            b.refill(now);
            b.milli_tokens < b.burst * 1000
        });
        self.failure_evictions
            .retain(|_, t| ms(now) < ms(*t).saturating_add(hold_ms));
    }

    /// Until when evictions for failed resizes of `workload` are held back, if they are at `now`.
    pub fn failure_eviction_hold(
        &self,
        workload: &str,
        hold_ms: i64,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let until = ms(*self.failure_evictions.get(workload)?).saturating_add(hold_ms);
        (ms(now) < until).then(|| at(until))
    }

    /// Notes that a pod of `workload` is evicted at `now` because its resize failed.
    pub fn record_failure_eviction(&mut self, workload: &str, now: Timestamp) {
        self.failure_evictions.insert(workload.to_owned(), now);
    }

    fn bucket(&mut self, workload: &str, now: Timestamp) -> &mut TokenBucket {
        let (burst, interval) = (self.workload_burst, self.workload_interval_ms);
        self.workloads
            .entry(workload.to_owned())
            .or_insert_with(|| TokenBucket::new(burst, interval, now))
    }
}
