//! The resize-state annotation: round trip, strict parsing of outside input, and a restarted updater that
//! reads it back instead of resizing again.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use tailor_core::plan::memory::{ChangedAt, HeldAttempt};
use tailor_core::plan::{
    ContainerChange, Decision, OomFloor, PlannerConfig, PodMemory, RateLimits, Requirements,
    ResizeKind, ResizeRecord, ResourceValues, WaitReason,
};
use tailor_core::time::Timestamp;

use super::fixtures::{node, pod_json, vpa};
use crate::convert::state::{STATE_ANNOTATION, format_state, parse_state};
use crate::pass::{Snapshot, UpdaterState, plan};

struct Owners;

impl tailor_k8s::owner::OwnerLookup for Owners {
    fn owner_references(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>> {
        Some(vec![serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d", "controller": true})).expect("owner")])
    }
}

const NOW: i64 = 1_767_225_600_000 + 24 * 3_600_000;

fn req(v: [Option<i64>; 4]) -> Requirements {
    Requirements {
        requests: ResourceValues::new(v[0], v[1]),
        limits: ResourceValues::new(v[2], v[3]),
    }
}

fn change(name: &str, before: [Option<i64>; 4], after: [Option<i64>; 4]) -> ContainerChange {
    ContainerChange {
        name: name.to_owned(),
        before: req(before),
        after: req(after),
    }
}

fn full_memory() -> PodMemory {
    let ch = change(
        "app",
        [Some(500), Some(256 << 20), Some(1000), None],
        [Some(250), Some(256 << 20), Some(500), None],
    );
    PodMemory {
        last_resize: Some(ResizeRecord {
            at: Timestamp::from_unix_millis(NOW - 1000),
            generation: Some(4),
            kind: ResizeKind::Revert,
            changes: vec![ch.clone()],
        }),
        infeasible: Some(vec![ch.clone()]),
        backoff_until: Some(Timestamp::from_unix_millis(NOW + 5)),
        deferred: Some(HeldAttempt {
            changes: vec![ch],
            until: Timestamp::from_unix_millis(NOW + 60_000),
        }),
        oom_handled_at: Some(Timestamp::from_unix_millis(NOW - 7)),
        oom_floors: vec![OomFloor {
            container: "app".to_owned(),
            memory_bytes: 300 << 20,
            until: Timestamp::from_unix_millis(NOW + 3_600_000),
        }],
        changed_at: ChangedAt {
            cpu: Some(Timestamp::from_unix_millis(NOW - 1000)),
            memory: Some(Timestamp::from_unix_millis(NOW - 90_000)),
        },
    }
}

#[test]
fn state_round_trips() {
    let m = full_memory();
    assert_eq!(parse_state(&format_state(&m)).expect("parse"), m);
    let empty = PodMemory::default();
    assert_eq!(format_state(&empty), r#"{"v":1}"#);
    assert_eq!(parse_state(r#"{"v":1}"#).expect("parse"), empty);
}

#[test]
fn malformed_states_are_typed_errors() {
    for bad in [
        "",
        "null",
        "{}",
        r#"{"v":2}"#,
        r#"{"v":1,"last":{"at":1,"kind":"explode","changes":[]}}"#,
        r#"{"v":1,"infeasible":[{"name":"a","before":[-1,null,null,null],"after":[1,null,null,null]}]}"#,
        r#"{"v":1,"oom_floors":[{"container":"a","bytes":-5,"until":1}]}"#,
        r#"{"v":1,"backoff_until":"soon"}"#,
    ] {
        assert!(parse_state(bad).is_err(), "{bad:?} parsed");
    }
    assert!(parse_state(&" ".repeat(70_000)).is_err());
}

fn arb_values() -> impl Strategy<Value = [Option<i64>; 4]> {
    prop::array::uniform4(prop::option::of(0i64..1 << 40))
}

fn arb_memory() -> impl Strategy<Value = PodMemory> {
    (
        prop::option::of((
            any::<i64>(),
            prop::option::of(any::<i64>()),
            arb_values(),
            arb_values(),
        )),
        prop::option::of(any::<i64>()),
        prop::option::of((any::<i64>(), arb_values(), arb_values())),
        prop::option::of(any::<i64>()),
        "[a-z][a-z0-9-]{0,20}",
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
        ),
    )
        .prop_map(
            |(last, backoff, deferred, oom, name, (cpu_at, mem_at))| PodMemory {
                last_resize: last.map(|(at, generation, b, a)| ResizeRecord {
                    at: Timestamp::from_unix_millis(at),
                    generation,
                    kind: ResizeKind::Boost,
                    changes: vec![change(&name, b, a)],
                }),
                infeasible: None,
                backoff_until: backoff.map(Timestamp::from_unix_millis),
                deferred: deferred.map(|(until, b, a)| HeldAttempt {
                    changes: vec![change(&name, b, a)],
                    until: Timestamp::from_unix_millis(until),
                }),
                oom_handled_at: oom.map(Timestamp::from_unix_millis),
                oom_floors: Vec::new(),
                changed_at: ChangedAt {
                    cpu: cpu_at.map(Timestamp::from_unix_millis),
                    memory: mem_at.map(Timestamp::from_unix_millis),
                },
            },
        )
}

proptest! {
    #[test]
    fn any_memory_round_trips(m in arb_memory()) {
        prop_assert_eq!(parse_state(&format_state(&m)).expect("parse"), m);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,300}") {
        let _ = parse_state(&s);
    }

    #[test]
    fn arbitrary_json_never_panics(s in r#"\{"v":1(,"[a-z_]{1,14}":(-?[0-9]{1,20}|"[a-z]{0,5}"|\[\]|null|\{\}))*\}"#) {
        let _ = parse_state(&s);
    }
}

fn with_state(value: &str) -> k8s_openapi::api::core::v1::Pod {
    let mut j = pod_json("a", "500m", "1");
    j["metadata"]["annotations"] = json!({ STATE_ANNOTATION: value });
    serde_json::from_value(j).expect("pod")
}

fn fresh_state() -> UpdaterState {
    UpdaterState {
        config: PlannerConfig::default(),
        rate: RateLimits::unlimited(),
        memory: HashMap::new(),
        evictions_enabled: false,
    }
}

#[test]
fn a_restarted_updater_reads_the_state_back_and_does_not_resize_again() {
    // The pod is outside the recommendation (500m vs 250m), so a planner that remembers nothing resizes it.
    let attempt = change(
        "app",
        [Some(500), Some(256 << 20), Some(1000), Some(512 << 20)],
        [Some(250), Some(256 << 20), Some(500), Some(512 << 20)],
    );
    let held = PodMemory {
        deferred: Some(HeldAttempt {
            changes: vec![attempt],
            until: Timestamp::from_unix_millis(NOW + 600_000),
        }),
        ..PodMemory::default()
    };
    let snapshot = |p| Snapshot {
        pods: vec![Arc::new(p)],
        vpas: vec![Arc::new(vpa("InPlace", "250m"))],
        nodes: vec![Arc::new(node("4", "8Gi"))],
        ..Snapshot::default()
    };
    let now = Timestamp::from_unix_millis(NOW);
    // Without the annotation: a resize (this is what a restart used to cause).
    let planned = plan(
        &snapshot(serde_json::from_value(pod_json("a", "500m", "1")).expect("pod")),
        &Owners,
        &mut fresh_state(),
        now,
    );
    assert!(
        matches!(planned[0].decision, Decision::Resize { .. }),
        "{:?}",
        planned[0].decision
    );
    // The state written before the restart: backing off after a failed write.
    let recent = PodMemory {
        backoff_until: Some(Timestamp::from_unix_millis(NOW + 300_000)),
        ..PodMemory::default()
    };
    let mut state = fresh_state();
    let planned = plan(
        &snapshot(with_state(&format_state(&recent))),
        &Owners,
        &mut state,
        now,
    );
    assert_eq!(
        planned[0].decision,
        Decision::Wait {
            until: Timestamp::from_unix_millis(NOW + 300_000),
            reason: WaitReason::BackingOff
        }
    );
    assert_eq!(state.memory.get("uid-a"), Some(&recent));
    // The in-memory copy wins over the annotation once the updater has one.
    let mut state = fresh_state();
    state.memory.insert("uid-a".to_owned(), held.clone());
    let planned = plan(
        &snapshot(with_state(&format_state(&recent))),
        &Owners,
        &mut state,
        now,
    );
    assert_ne!(
        planned[0].decision,
        Decision::Wait {
            until: Timestamp::from_unix_millis(NOW + 300_000),
            reason: WaitReason::BackingOff
        }
    );
    assert_eq!(state.memory.get("uid-a"), Some(&held));
    // A malformed annotation is ignored, never fatal.
    let planned = plan(
        &snapshot(with_state("{not json")),
        &Owners,
        &mut fresh_state(),
        now,
    );
    assert!(matches!(planned[0].decision, Decision::Resize { .. }));
}
