//! Report entries about pods the recommender cannot attribute yet, held until it can.
//!
//! A node-agent reports a container from its first sample, and the agent is answered 200 whether or not the
//! recommender could use every entry, so it never sends them again. The pod watch and the owner lookup
//! (ReplicaSet and Job metadata) race those reports: a new pod's first interval, and an OOM kill at start-up,
//! often arrive before the recommender knows the pod or its workload. Dropping them would lose the first
//! interval of every pod and, worse, an OOM kill for good; so they wait here, keyed by pod UID, and are
//! applied once the pod and its workload are known.
//!
//! Bounded, because a report may name a pod that never shows up (deleted at once, or made up by a faulty
//! agent): at most [`ParkingLimits::max_entries`] entries in all, the oldest evicted first, and none older
//! than [`ParkingLimits::max_age_ms`]. Pure: the time is passed in, and drops are counted here for whoever
//! holds the metrics to export.
//!
//! Checkpoints do not carry parked entries: they are minutes old at most, and a replica that restarts has a
//! peer (the warm standby receives every report) or loses at most those minutes of a new pod's history.

use std::collections::{BTreeMap, HashMap, VecDeque};

use tailor_core::report::{ContainerReport, UrgentEvent};

/// Entries held before the oldest are evicted. Reports are size-limited and a container is summarised once
/// per interval, so this is tens of megabytes at most while covering thousands of pods starting at once.
pub const MAX_ENTRIES: usize = 10_000;
/// How long an entry waits for its pod (ms): far longer than a pod watch or an owner lookup lags.
pub const MAX_AGE_MS: i64 = 600_000;

/// A report entry that names a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A periodic container summary (boxed: it is twice the size of an event).
    Summary(Box<ContainerReport>),
    /// An urgent OOM kill event.
    Oom(UrgentEvent),
}

impl Entry {
    /// The UID of the pod the entry is about.
    pub fn pod_uid(&self) -> &str {
        match self {
            Self::Summary(c) => &c.container.pod_uid,
            Self::Oom(e) => &e.container.pod_uid,
        }
    }
}

/// An entry with where and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// The node whose agent reported it: the pod must turn out to run there.
    pub node: String,
    /// When it was parked (unix ms).
    pub parked_ms: i64,
    /// The entry.
    pub entry: Entry,
}

/// Why parked entries were dropped unapplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Their pod did not become known in time.
    Expired,
    /// Evicted, oldest first, to stay within the entry cap.
    Overflow,
    /// Their pod turned out to run on another node than the reporting one (or in another namespace).
    Foreign,
}

impl DropReason {
    /// Every reason, for exporting each one.
    pub const ALL: [Self; 3] = [Self::Expired, Self::Overflow, Self::Foreign];

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Overflow => "overflow",
            Self::Foreign => "foreign",
        }
    }
}

/// Entries dropped since they were last taken, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    /// [`DropReason::Expired`].
    pub expired: u64,
    /// [`DropReason::Overflow`].
    pub overflow: u64,
    /// [`DropReason::Foreign`].
    pub foreign: u64,
}

impl Drops {
    /// The count for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Expired => self.expired,
            DropReason::Overflow => self.overflow,
            DropReason::Foreign => self.foreign,
        }
    }
}

/// The bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParkingLimits {
    /// Entries held in all.
    pub max_entries: usize,
    /// Age (ms) after which an entry is dropped.
    pub max_age_ms: i64,
}

impl Default for ParkingLimits {
    fn default() -> Self {
        Self {
            max_entries: MAX_ENTRIES,
            max_age_ms: MAX_AGE_MS,
        }
    }
}

/// Parked entries by pod UID, in arrival order.
#[derive(Debug, Default)]
pub struct ParkedEntries {
    limits: ParkingLimits,
    // Arrival numbers give one order for the whole structure: the oldest entry is the first one, for eviction
    // and expiry alike (the clock is not assumed to be monotonic; a step back only delays an expiry).
    next: u64,
    entries: BTreeMap<u64, Parked>,
    by_pod: HashMap<String, VecDeque<u64>>,
    drops: Drops,
}

impl ParkedEntries {
    /// Empty, with `limits`.
    pub fn new(limits: ParkingLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Holds `entry`, reported by `node`'s agent, from `now_ms`; expired entries go first, then the oldest
    /// ones if the cap is reached.
    pub fn park(&mut self, node: &str, entry: Entry, now_ms: i64) {
        self.expire(now_ms);
        if self.limits.max_entries == 0 {
            self.drops.overflow += 1;
            return;
        }
        while self.entries.len() >= self.limits.max_entries {
            if self.pop_oldest().is_none() {
                break;
            }
            self.drops.overflow += 1;
        }
        let id = self.next;
        self.next += 1;
        self.by_pod
            .entry(entry.pod_uid().to_owned())
            .or_default()
            .push_back(id);
        self.entries.insert(
            id,
            Parked {
                node: node.to_owned(),
                parked_ms: now_ms,
                entry,
            },
        );
    }

    /// Drops entries parked more than the age limit before `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        while self
            .entries
            .first_key_value()
            .is_some_and(|(_, p)| now_ms.saturating_sub(p.parked_ms) > self.limits.max_age_ms)
        {
            self.pop_oldest();
            self.drops.expired += 1;
        }
    }

    fn pop_oldest(&mut self) -> Option<Parked> {
        let (id, parked) = self.entries.pop_first()?;
        let uid = parked.entry.pod_uid();
        if let Some(ids) = self.by_pod.get_mut(uid) {
            // The globally oldest entry is its pod's oldest too.
            debug_assert_eq!(ids.front(), Some(&id));
            ids.pop_front();
            if ids.is_empty() {
                self.by_pod.remove(uid);
            }
        }
        Some(parked)
    }

    /// Removes and returns the entries of pod `uid` still within the age limit at `now_ms`, oldest first.
    /// Each entry is handed out once.
    pub fn take(&mut self, uid: &str, now_ms: i64) -> Vec<Parked> {
        self.expire(now_ms);
        self.by_pod
            .remove(uid)
            .into_iter()
            .flatten()
            .filter_map(|id| self.entries.remove(&id))
            .collect()
    }

    /// Whether entries of pod `uid` are held.
    pub fn contains(&self, uid: &str) -> bool {
        self.by_pod.contains_key(uid)
    }

    /// The pods with entries held.
    pub fn pods(&self) -> impl Iterator<Item = &str> {
        self.by_pod.keys().map(String::as_str)
    }

    /// Counts `n` entries that were taken but dropped because their pod runs elsewhere.
    pub fn count_foreign(&mut self, n: u64) {
        self.drops.foreign += n;
    }

    /// The drops counted since the last call, clearing them.
    pub fn take_drops(&mut self) -> Drops {
        std::mem::take(&mut self.drops)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
