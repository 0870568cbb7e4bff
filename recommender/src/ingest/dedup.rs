//! Idempotency by `(agent_id, sequence)`: a retried report is acknowledged without being applied twice.

use std::collections::{BTreeSet, HashMap};

/// How many recent sequence numbers are remembered per agent; anything older than the newest minus this is
/// treated as already seen (an agent never holds reports that long).
pub const WINDOW: u64 = 4096;
/// Agents silent this long (ms) are forgotten.
const IDLE_MS: i64 = 3_600_000;
/// Upper bound on agents tracked (far above any cluster's node count).
const MAX_AGENTS: usize = 100_000;

#[derive(Debug, Default)]
struct AgentSeqs {
    highest: u64,
    recent: BTreeSet<u64>,
    last_seen_ms: i64,
}

/// Remembers which reports each agent has had applied.
#[derive(Debug, Default)]
pub struct SequenceTracker {
    agents: HashMap<String, AgentSeqs>,
}

impl SequenceTracker {
    /// Whether `agent`'s report `sequence` was applied before.
    pub fn seen(&self, agent: &str, sequence: u64) -> bool {
        self.agents.get(agent).is_some_and(|a| {
            a.recent.contains(&sequence) || sequence.saturating_add(WINDOW) <= a.highest
        })
    }

    /// Records that `agent`'s report `sequence` was applied at `now_ms`.
    pub fn record(&mut self, agent: &str, sequence: u64, now_ms: i64) {
        if self.agents.len() >= MAX_AGENTS && !self.agents.contains_key(agent) {
            self.agents.retain(|_, a| now_ms - a.last_seen_ms < IDLE_MS);
        }
        let entry = self.agents.entry(agent.to_owned()).or_default();
        entry.highest = entry.highest.max(sequence);
        entry.last_seen_ms = now_ms;
        entry.recent.insert(sequence);
        let floor = entry.highest.saturating_sub(WINDOW);
        while entry.recent.first().is_some_and(|s| *s <= floor) {
            entry.recent.pop_first();
        }
    }

    /// Agents tracked.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Whether no agent is tracked.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn duplicates_and_out_of_order() {
        let mut t = SequenceTracker::default();
        assert!(!t.seen("a", 1));
        t.record("a", 1, 0);
        t.record("a", 3, 0);
        assert!(t.seen("a", 1) && t.seen("a", 3));
        assert!(!t.seen("a", 2), "a late report still counts once");
        assert!(!t.seen("b", 1), "agents are independent");
    }

    #[test]
    fn very_old_sequences_count_as_seen() {
        let mut t = SequenceTracker::default();
        t.record("a", WINDOW + 10, 0);
        assert!(t.seen("a", 5));
        assert!(!t.seen("a", WINDOW + 9));
    }

    proptest! {
        #[test]
        fn recorded_sequences_are_always_seen(seqs in proptest::collection::vec(1u64..10_000, 1..200)) {
            let mut t = SequenceTracker::default();
            for s in &seqs {
                t.record("a", *s, 0);
            }
            for s in &seqs {
                prop_assert!(t.seen("a", *s));
            }
        }
    }
}
