use proptest::prelude::*;
use tailor_core::report::{ContainerRef, UrgentKind};

use super::*;

fn oom(uid: &str, observed_ms: i64) -> Entry {
    Entry::Oom(UrgentEvent {
        container: ContainerRef {
            namespace: "shop".into(),
            pod: format!("pod-{uid}"),
            pod_uid: uid.into(),
            container: "app".into(),
            container_id: "c1".into(),
        },
        observed_ms,
        kind: UrgentKind::OomKill {
            count: 1,
            limit_bytes: None,
            peak_bytes: 0,
        },
    })
}

fn observed(p: &Parked) -> i64 {
    match &p.entry {
        Entry::Oom(e) => e.observed_ms,
        Entry::Summary(c) => c.interval_start_ms,
    }
}

fn limits(max_entries: usize, max_age_ms: i64) -> ParkingLimits {
    ParkingLimits {
        max_entries,
        max_age_ms,
    }
}

#[test]
fn entries_are_handed_out_once_in_arrival_order() {
    let mut p = ParkedEntries::default();
    p.park("node-a", oom("u1", 1), 0);
    p.park("node-a", oom("u2", 2), 0);
    p.park("node-a", oom("u1", 3), 0);
    assert_eq!(p.len(), 3);
    assert!(p.contains("u1"));
    let taken = p.take("u1", 0);
    assert_eq!(taken.iter().map(observed).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(taken[0].node, "node-a");
    assert!(p.take("u1", 0).is_empty(), "taken once");
    assert!(!p.contains("u1"));
    assert_eq!(p.pods().collect::<Vec<_>>(), ["u2"]);
    assert!(p.take("never-parked", 0).is_empty());
    assert_eq!(p.take_drops(), Drops::default(), "nothing dropped");
}

#[test]
fn the_cap_evicts_the_oldest_and_counts_it() {
    let mut p = ParkedEntries::new(limits(2, 600_000));
    p.park("n", oom("u1", 1), 0);
    p.park("n", oom("u2", 2), 1);
    p.park("n", oom("u1", 3), 2);
    assert_eq!(p.len(), 2);
    assert_eq!(
        p.take("u1", 2).iter().map(observed).collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(
        p.take("u2", 2).iter().map(observed).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(
        p.take_drops(),
        Drops {
            overflow: 1,
            ..Drops::default()
        }
    );
    assert_eq!(p.take_drops(), Drops::default(), "counts are taken once");

    let mut none = ParkedEntries::new(limits(0, 600_000));
    none.park("n", oom("u1", 1), 0);
    assert!(none.is_empty());
    assert_eq!(none.take_drops().overflow, 1);
}

#[test]
fn entries_expire_after_the_age_limit() {
    let mut p = ParkedEntries::new(limits(100, 1_000));
    p.park("n", oom("u1", 1), 0);
    p.park("n", oom("u2", 2), 500);
    p.expire(1_000);
    assert_eq!(p.len(), 2, "exactly the limit is still in time");
    // Taking expires first: u1's entry is past the limit at 1 001 and is not handed out.
    assert!(p.take("u1", 1_001).is_empty());
    assert!(!p.contains("u1"));
    assert_eq!(p.len(), 1);
    p.park("n", oom("u3", 3), 1_600);
    assert_eq!(p.pods().collect::<Vec<_>>(), ["u3"], "parking expires too");
    assert_eq!(p.take_drops().expired, 2);
    // A clock that steps back expires nothing.
    p.expire(0);
    assert_eq!(p.len(), 1);
}

#[test]
fn foreign_drops_are_counted_by_reason() {
    let mut p = ParkedEntries::default();
    p.count_foreign(2);
    let drops = p.take_drops();
    assert_eq!(
        DropReason::ALL.map(|r| (r.as_str(), drops.get(r))),
        [("expired", 0), ("overflow", 0), ("foreign", 2)]
    );
}

proptest! {
    /// Whatever the mix of parking, taking and time passing: the cap holds, and every parked entry is either
    /// handed out exactly once or counted as dropped exactly once.
    #[test]
    fn every_entry_is_taken_or_dropped_exactly_once(
        ops in proptest::collection::vec((0u8..3, 0usize..5, 0i64..400), 0..200),
        cap in 1usize..8,
    ) {
        let mut p = ParkedEntries::new(limits(cap, 1_000));
        let mut now = 0;
        let mut parked = 0u64;
        let mut taken = 0u64;
        let mut seen = std::collections::HashSet::new();
        for (n, (op, pod, step)) in ops.into_iter().enumerate() {
            now += step;
            let uid = format!("u{pod}");
            match op {
                0 | 1 => {
                    p.park("n", oom(&uid, n as i64), now);
                    parked += 1;
                }
                _ => {
                    for t in p.take(&uid, now) {
                        prop_assert!(now - t.parked_ms <= 1_000, "handed out in time");
                        prop_assert!(seen.insert(observed(&t)), "handed out once");
                        taken += 1;
                    }
                }
            }
            prop_assert!(p.len() <= cap);
        }
        let held = p.len() as u64;
        let drops = p.take_drops();
        prop_assert_eq!(parked, taken + held + drops.expired + drops.overflow);
    }
}
