//! Each resource is triggered and cooled down on its own: CPU following its demand in place does not drag
//! memory (a restart under `RestartContainer`, an OOM risk when lowered) along, nor reset memory's cooldown.
//! CPU does ride along with a memory resize when changing it restarts nothing.

use super::fixtures::*;
use crate::plan::memory::ChangedAt;
use crate::plan::units::at;
use crate::plan::*;

const MIN: i64 = 60_000;

fn changed(cpu_at: Option<i64>, memory_at: Option<i64>) -> PodMemory {
    let last = [cpu_at, memory_at].into_iter().flatten().max();
    PodMemory {
        last_resize: last.map(|t| ResizeRecord {
            at: at(t),
            generation: None,
            kind: ResizeKind::Resize,
            changes: vec![],
        }),
        changed_at: ChangedAt {
            cpu: cpu_at.map(at),
            memory: memory_at.map(at),
        },
        ..PodMemory::default()
    }
}

#[test]
fn cpu_drift_leaves_memory_inside_its_thresholds_alone() {
    let mut w = World::new();
    // CPU 30 % up (past the 10 % threshold); memory 8 % up, inside it and inside the bounds.
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 1300, 553)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(1300), "{d:?}");
    assert_eq!(mem_req_mi(&ch.after), Some(512), "{d:?}");
    assert_eq!(mem_lim_mi(&ch.after), Some(1024), "{d:?}");
    assert!(!d.plan().is_some_and(|p| p.disruptive), "{d:?}");
}

#[test]
fn both_resources_past_their_thresholds_change_together() {
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 1300, 600)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(1300), "{d:?}");
    assert_eq!(mem_req_mi(&ch.after), Some(600), "{d:?}");
}

#[test]
fn a_cpu_resize_does_not_restart_the_memory_cooldown() {
    let mut w = World::new();
    let pol = policy(UpdateMode::InPlace);
    // Memory last changed 2 h ago, CPU 10 minutes ago; memory's target is 25 % down (inside the bounds).
    let mut down = rec("app", 1000, 384);
    down.upper = vals(Some(1200), Some(600));
    let memory = changed(Some(NOW - 10 * MIN), Some(NOW - 120 * MIN));
    let d = w.plan_at(&pod(vec![burstable()]), &[down.clone()], &pol, &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Resize {
                trigger: Trigger::DriftDown,
                ..
            }
        ),
        "{d:?}"
    );
    let ch = only_change(&d);
    assert_eq!(mem_req_mi(&ch.after), Some(384), "{d:?}");
    assert_eq!(cpu_req(&ch.after), Some(1000), "{d:?}");
    // Memory changed 10 minutes ago: its own cooldown holds it until 60 minutes after that.
    let memory = changed(Some(NOW - 120 * MIN), Some(NOW - 10 * MIN));
    let d = w.plan_at(&pod(vec![burstable()]), &[down], &pol, &memory, NOW);
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW + 50 * MIN),
            reason: WaitReason::Cooldown
        }
    );
}

#[test]
fn a_state_without_per_resource_times_cools_down_from_the_last_resize() {
    let mut w = World::new();
    let mut down = rec("app", 1000, 384);
    down.upper = vals(Some(1200), Some(600));
    let memory = PodMemory {
        last_resize: Some(ResizeRecord {
            at: at(NOW - 10 * MIN),
            generation: None,
            kind: ResizeKind::Resize,
            changes: vec![],
        }),
        ..PodMemory::default()
    };
    let d = w.plan_at(
        &pod(vec![burstable()]),
        &[down],
        &policy(UpdateMode::InPlace),
        &memory,
        NOW,
    );
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW + 50 * MIN),
            reason: WaitReason::Cooldown
        }
    );
}

#[test]
fn cpu_rides_along_with_a_memory_resize_only_when_that_restarts_nothing() {
    let mut w = World::new();
    let oom_pod = |cpu_policy: RestartPolicy| {
        let mut c = oom_killed(burstable(), NOW - 1000);
        c.resize_policy.cpu = cpu_policy;
        let mut p = pod(vec![c]);
        p.start_time = Some(at(NOW - 5000));
        p
    };
    // CPU's target is 5 % up, inside its threshold; the OOM kill resizes memory anyway.
    let recs = [rec("app", 1050, 512)];
    let pol = policy(UpdateMode::InPlace);
    let d = w.plan(&oom_pod(RestartPolicy::NotRequired), &recs, &pol);
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(1050), "{d:?}");
    assert!(mem_req_mi(&ch.after) > Some(512), "{d:?}");
    let d = w.plan(&oom_pod(RestartPolicy::RestartContainer), &recs, &pol);
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(1000), "{d:?}");
    assert!(mem_req_mi(&ch.after) > Some(512), "{d:?}");
}

#[test]
fn recording_a_resize_stamps_only_the_resources_it_changed() {
    let mut w = World::new();
    let p = pod(vec![burstable()]);
    let d = w.plan(&p, &[rec("app", 1300, 512)], &policy(UpdateMode::InPlace));
    let mut memory = PodMemory::default();
    memory.record_applied(&d, &p, Some(2), &w.cfg, at(NOW));
    assert_eq!(
        memory.changed_at,
        ChangedAt {
            cpu: Some(at(NOW)),
            memory: None
        }
    );
    // An older state (no per-resource times) keeps its last resize's time for the resource not changed now.
    let mut old = PodMemory {
        last_resize: Some(ResizeRecord {
            at: at(NOW - 5 * MIN),
            generation: None,
            kind: ResizeKind::Resize,
            changes: vec![],
        }),
        ..PodMemory::default()
    };
    old.record_applied(&d, &p, Some(2), &w.cfg, at(NOW));
    assert_eq!(
        old.changed_at,
        ChangedAt {
            cpu: Some(at(NOW)),
            memory: Some(at(NOW - 5 * MIN))
        }
    );
}
