//! `Off` does nothing at all (issue 7: "Off (nothing)"): no resize, no startup boost, no unboost, no
//! follow-through on a resize sent before the VPA was switched off, no eviction.

use super::fixtures::*;
use crate::plan::units::{at, cpu};
use crate::plan::*;

fn off_with_boost() -> WorkloadPolicy {
    let mut p = policy(UpdateMode::Off);
    p.boost = Some(BoostPolicy {
        amount: BoostAmount::Factor(2),
        duration_ms: 0,
        max_duration_ms: None,
    });
    p
}

#[test]
fn off_never_boosts_a_starting_pod() {
    let mut p = pod(vec![ContainerView {
        ready: false,
        ..burstable()
    }]);
    p.ready = false;
    p.ready_since = None;
    p.start_time = Some(at(NOW - 5000));
    // The same pod under InPlace is boosted: only the mode differs.
    let mut inplace = off_with_boost();
    inplace.mode = UpdateMode::InPlace;
    let d = World::new().plan(&p, &[rec("app", 1000, 512)], &inplace);
    assert!(matches!(d, Decision::Boost { .. }), "{d:?}");
    let d = World::new().plan(&p, &[rec("app", 1000, 512)], &off_with_boost());
    assert_eq!(d, Decision::Skip(SkipReason::ModeOff));
}

#[test]
fn off_never_unboosts_or_resizes() {
    let mut c = burstable();
    c.spec.requests.cpu = Some(cpu(2000));
    c.spec.limits.cpu = Some(cpu(4000));
    c.actual = Some(c.spec);
    let mut p = pod(vec![c]);
    p.boost = Some(BoostRecord {
        active: true,
        since: at(NOW - 3_600_000),
        containers: vec![BoostedContainer {
            name: "app".to_owned(),
            restart_count: 0,
            original_request: Some(cpu(1000)),
            original_limit: Some(cpu(2000)),
        }],
    });
    // Past the hard maximum and far outside the recommendation: still nothing.
    let d = World::new().plan(&p, &[rec("app", 100, 128)], &off_with_boost());
    assert_eq!(d, Decision::Skip(SkipReason::ModeOff));
}

#[test]
fn off_does_not_follow_through_on_earlier_resizes() {
    let mut p = pod(vec![burstable()]);
    let before = p.containers[0].spec;
    let mut after = before;
    after.requests.cpu = Some(cpu(2000));
    p.containers[0].spec = after;
    p.generation = 2;
    p.pending = Some(ResizePending {
        reason: PendingReason::Infeasible,
        message: String::new(),
        since: at(NOW - 600_000),
    });
    let memory = PodMemory {
        last_resize: Some(ResizeRecord {
            at: at(NOW - 600_000),
            generation: Some(2),
            kind: ResizeKind::Resize,
            changes: vec![ContainerChange {
                name: "app".to_owned(),
                before,
                after,
            }],
        }),
        ..PodMemory::default()
    };
    for mode in [UpdateMode::InPlace, UpdateMode::Off] {
        let d = World::new().plan_at(&p, &[rec("app", 2000, 512)], &policy(mode), &memory, NOW);
        let expected_off = mode == UpdateMode::Off;
        assert_eq!(
            d == Decision::Skip(SkipReason::ModeOff),
            expected_off,
            "{mode:?}: {d:?}"
        );
    }
}
