//! Counting each OOM kill once. A node-agent tells of a kill twice: at once in an urgent event, and again as the
//! `oom_kills` count of the periodic summary whose interval holds the kill. The urgent event can be lost (the
//! agent's buffer overflowed while the recommender was away, or the report was refused), so the periodic count
//! is the backstop: a summary that counts more kills than urgent events arrived for the same container in its
//! interval brings in the difference. Kills are keyed by the runtime container (pod UID and container ID: a
//! restarted container has a new cgroup and a new counter).
//!
//! Bounded: a container keeps the records of its last hour (the longest interval a summary may cover) and at
//! most [`MAX_RECORDS`] of them; containers idle for an hour are forgotten once [`MAX_CONTAINERS`] are tracked.

use std::collections::{HashMap, VecDeque};

use tailor_core::report::limits::MAX_INTERVAL_MS;

/// Records kept per container.
pub const MAX_RECORDS: usize = 64;
/// Containers tracked before idle ones are dropped.
pub const MAX_CONTAINERS: usize = 100_000;

/// One runtime container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OomKey {
    /// Pod UID.
    pub pod_uid: String,
    /// Container name.
    pub container: String,
    /// Runtime container ID.
    pub container_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Kills announced by urgent events.
    Urgent,
    /// Kills only a periodic count showed; `count` is what a late urgent event for the same span may still
    /// claim as already counted.
    Recovered,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    from_ms: i64,
    to_ms: i64,
    count: u64,
    source: Source,
}

#[derive(Debug, Default)]
struct Kills {
    records: VecDeque<Record>,
    last_seen_ms: i64,
}

impl Kills {
    fn push(&mut self, record: Record) {
        let newest = self
            .records
            .iter()
            .map(|r| r.to_ms)
            .fold(record.to_ms, i64::max);
        self.records.retain(|r| newest - r.to_ms <= MAX_INTERVAL_MS);
        if self.records.len() >= MAX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }
}

/// Which OOM kills have been counted, per runtime container.
#[derive(Debug, Default)]
pub struct OomLedger {
    containers: HashMap<OomKey, Kills>,
}

impl OomLedger {
    fn entry(&mut self, key: &OomKey, now_ms: i64) -> &mut Kills {
        if self.containers.len() >= MAX_CONTAINERS && !self.containers.contains_key(key) {
            self.containers
                .retain(|_, k| now_ms - k.last_seen_ms < MAX_INTERVAL_MS);
        }
        let kills = self.containers.entry(key.clone()).or_default();
        kills.last_seen_ms = now_ms;
        kills
    }

    /// An urgent event announced `count` kills at `at_ms`. Returns how many of them are new: all of them, unless
    /// a periodic count that covered `at_ms` already brought them in.
    pub fn urgent(&mut self, key: &OomKey, at_ms: i64, count: u64, now_ms: i64) -> u64 {
        let kills = self.entry(key, now_ms);
        let mut left = count;
        for r in kills
            .records
            .iter_mut()
            .filter(|r| r.source == Source::Recovered && r.from_ms <= at_ms && at_ms <= r.to_ms)
        {
            let claimed = left.min(r.count);
            r.count -= claimed;
            left -= claimed;
        }
        if left > 0 {
            kills.push(Record {
                from_ms: at_ms,
                to_ms: at_ms,
                count: left,
                source: Source::Urgent,
            });
        }
        left
    }

    /// A periodic summary counted `count` kills over `[start_ms, end_ms]` (the end is its last sample, so it is
    /// included). Returns how many no urgent event announced; those are recorded as counted now.
    pub fn periodic(
        &mut self,
        key: &OomKey,
        start_ms: i64,
        end_ms: i64,
        count: u64,
        now_ms: i64,
    ) -> u64 {
        if count == 0 {
            return 0;
        }
        let kills = self.entry(key, now_ms);
        let announced: u64 = kills
            .records
            .iter()
            .filter(|r| r.source == Source::Urgent && start_ms <= r.from_ms && r.from_ms <= end_ms)
            .map(|r| r.count)
            .sum();
        let missing = count.saturating_sub(announced);
        if missing > 0 {
            kills.push(Record {
                from_ms: start_ms,
                to_ms: end_ms,
                count: missing,
                source: Source::Recovered,
            });
        }
        missing
    }

    /// Containers tracked.
    pub fn len(&self) -> usize {
        self.containers.len()
    }

    /// Whether no container is tracked.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(id: &str) -> OomKey {
        OomKey {
            pod_uid: "u1".into(),
            container: "app".into(),
            container_id: id.into(),
        }
    }

    #[test]
    fn an_announced_kill_is_not_counted_again_by_the_summary() {
        let mut l = OomLedger::default();
        assert_eq!(l.urgent(&key("c1"), 5_000, 1, 0), 1);
        assert_eq!(l.periodic(&key("c1"), 0, 10_000, 1, 0), 0);
    }

    #[test]
    fn a_lost_urgent_event_is_recovered_from_the_count_once() {
        let mut l = OomLedger::default();
        assert_eq!(l.periodic(&key("c1"), 0, 10_000, 1, 0), 1);
        // The urgent event turns up after all (a report ordering the agent does not produce, but it is cheap
        // to be safe): it is already counted.
        assert_eq!(l.urgent(&key("c1"), 9_000, 1, 0), 0);
        // A kill outside the recovered span is new.
        assert_eq!(l.urgent(&key("c1"), 15_000, 1, 0), 1);
    }

    #[test]
    fn only_the_difference_is_recovered_and_containers_are_apart() {
        let mut l = OomLedger::default();
        assert_eq!(l.urgent(&key("c1"), 2_000, 1, 0), 1);
        assert_eq!(l.periodic(&key("c1"), 0, 10_000, 3, 0), 2);
        assert_eq!(
            l.periodic(&key("c2"), 0, 10_000, 1, 0),
            1,
            "a restarted container has its own counter"
        );
        assert_eq!(
            l.periodic(&key("c1"), 10_001, 20_000, 0, 0),
            0,
            "no kills, nothing to do"
        );
    }

    #[test]
    fn urgent_events_at_the_interval_edges_count() {
        let mut l = OomLedger::default();
        l.urgent(&key("c1"), 0, 1, 0);
        l.urgent(&key("c1"), 10_000, 1, 0);
        assert_eq!(l.periodic(&key("c1"), 0, 10_000, 2, 0), 0);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut l = OomLedger::default();
        for i in 0..10_000i64 {
            l.urgent(&key("c1"), i * 1_000, 1, 0);
        }
        let kills = l.containers.get(&key("c1")).expect("tracked");
        assert!(kills.records.len() <= MAX_RECORDS);
    }

    proptest! {
        /// Whatever mix of delivered and lost urgent events, each kill is counted exactly once: the urgent
        /// events that arrive plus what the periodic counts bring in equal the kills that happened.
        #[test]
        fn every_kill_counted_exactly_once(
            kills in proptest::collection::vec((0i64..10, 1u64..3, any::<bool>()), 0..40),
        ) {
            let mut l = OomLedger::default();
            let mut counted = 0;
            let mut happened = 0;
            // Ten 10 s intervals; each kill happens at a second of its interval and its event may be lost.
            for interval in 0..10i64 {
                let start = interval * 10_000;
                let end = start + 9_999;
                let mut in_interval = 0;
                for (second, (at, count, delivered)) in kills.iter().enumerate() {
                    if *at != interval {
                        continue;
                    }
                    happened += count;
                    in_interval += count;
                    if *delivered {
                        counted += l.urgent(&key("c1"), start + (second as i64 % 10) * 1_000, *count, 0);
                    }
                }
                counted += l.periodic(&key("c1"), start, end, in_interval, 0);
            }
            prop_assert_eq!(counted, happened);
        }
    }
}
