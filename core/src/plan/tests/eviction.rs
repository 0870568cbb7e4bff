//! The recreate paths: `evictionRequirements` gate every eviction (never an in-place resize), and
//! `evictAfterOOMSeconds` decides which OOM kills evict in `Recreate` mode.

use super::fixtures::*;
use crate::plan::units::at;
use crate::plan::*;

fn requirement(resources: ResourceMask, change: ChangeRequirement) -> EvictionPolicy {
    EvictionPolicy {
        requirements: vec![EvictionRequirement { resources, change }],
        evict_after_oom_ms: None,
    }
}

fn plan_with(rules: Option<EvictionPolicy>, mode: UpdateMode, target_cpu: i64) -> Decision {
    let mut w = World::new();
    let mut pass = w.pass(NOW);
    if let Some(r) = rules {
        pass.eviction.insert("ns/Deployment/w".to_owned(), r);
    }
    let p = pod(vec![burstable()]);
    pass.plan(&PodInput {
        pod: &p,
        recommendation: Some(&[rec("app", target_cpu, 512)]),
        policy: &policy(mode),
        memory: &PodMemory::default(),
    })
}

#[test]
fn requirements_gate_recreate_evictions_by_direction() {
    let up_only = || {
        requirement(
            ResourceMask::CPU,
            ChangeRequirement::TargetHigherThanRequests,
        )
    };
    // Scale-down under "only when the target is higher": no eviction.
    assert_eq!(
        plan_with(Some(up_only()), UpdateMode::Recreate, 400),
        Decision::Skip(SkipReason::EvictionRequirementsUnmet)
    );
    // Scale-up: allowed.
    assert_eq!(
        plan_with(Some(up_only()), UpdateMode::Recreate, 3000),
        Decision::Evict(EvictReason::Recreate)
    );
    let down_only = requirement(
        ResourceMask::CPU,
        ChangeRequirement::TargetLowerThanRequests,
    );
    assert_eq!(
        plan_with(Some(down_only), UpdateMode::Recreate, 400),
        Decision::Evict(EvictReason::Recreate)
    );
    // No rule: the usual eviction.
    assert_eq!(
        plan_with(None, UpdateMode::Recreate, 400),
        Decision::Evict(EvictReason::Recreate)
    );
}

#[test]
fn all_requirements_must_hold_and_any_listed_resource_meets_one() {
    let both = EvictionPolicy {
        requirements: vec![
            EvictionRequirement {
                resources: ResourceMask::ALL,
                change: ChangeRequirement::TargetHigherThanRequests,
            },
            EvictionRequirement {
                resources: ResourceMask::MEMORY,
                change: ChangeRequirement::TargetLowerThanRequests,
            },
        ],
        evict_after_oom_ms: None,
    };
    let mut p = pod(vec![burstable()]);
    // CPU up (first holds through cpu), memory down (second holds).
    assert!(both.admits(&p, Some(&[rec("app", 3000, 256)])));
    // Memory not down: the second fails.
    assert!(!both.admits(&p, Some(&[rec("app", 3000, 512)])));
    // No recommendation: nothing to compare, no eviction.
    assert!(!both.admits(&p, None));
    // A container without a memory request meets any memory requirement.
    p.containers[0].spec.requests.memory = None;
    assert!(both.admits(&p, Some(&[rec("app", 3000, 512)])));
}

#[test]
fn requirements_never_hold_back_in_place_resizes() {
    let up_only = requirement(
        ResourceMask::CPU,
        ChangeRequirement::TargetHigherThanRequests,
    );
    let d = plan_with(Some(up_only), UpdateMode::InPlaceOrRecreate, 400);
    assert!(matches!(d, Decision::Resize { .. }), "{d:?}");
}

#[test]
fn failed_resize_falls_back_instead_of_evicting_when_requirements_fail() {
    // A Deferred resize of ours timed out in InPlaceOrRecreate: normally an eviction.
    let mut p = pod(vec![burstable()]);
    let before = p.containers[0].spec;
    let mut after = before;
    after.requests.cpu = Some(crate::plan::units::cpu(2000));
    p.containers[0].spec = after;
    p.generation = 2;
    p.pending = Some(ResizePending {
        reason: PendingReason::Deferred,
        message: String::new(),
        since: at(NOW - 6 * 60_000),
    });
    let memory = PodMemory {
        last_resize: Some(ResizeRecord {
            at: at(NOW - 6 * 60_000),
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
    let mut w = World::new().with_node(node(4000, 8192, 5000, 1024));
    let mut pass = w.pass(NOW);
    pass.eviction.insert(
        "ns/Deployment/w".to_owned(),
        requirement(
            ResourceMask::CPU,
            ChangeRequirement::TargetLowerThanRequests,
        ),
    );
    let d = pass.plan(&PodInput {
        pod: &p,
        recommendation: Some(&[rec("app", 2000, 512)]),
        policy: &policy(UpdateMode::InPlaceOrRecreate),
        memory: &memory,
    });
    assert!(
        matches!(
            d,
            Decision::Revert {
                reason: FailureReason::DeferredTimeout,
                ..
            }
        ),
        "{d:?}"
    );
}

/// A Recreate-mode pod whose container was OOM-killed a minute ago after running `run_ms`.
fn oom_plan(run_ms: Option<i64>, evict_after_oom_ms: Option<i64>) -> Decision {
    let mut c = burstable();
    c.restart_count = 1;
    c.last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(NOW - 60_000)),
    });
    let p = pod(vec![c]);
    let mut w = World::new();
    let mut pass = w.pass(NOW);
    pass.eviction.insert(
        "ns/Deployment/w".to_owned(),
        EvictionPolicy {
            requirements: Vec::new(),
            evict_after_oom_ms,
        },
    );
    if let Some(run) = run_ms {
        pass.last_run_ms
            .insert(PassState::run_key("ns", "p", "app"), run);
    }
    // In sync apart from the OOM kill.
    pass.plan(&PodInput {
        pod: &p,
        recommendation: Some(&[rec("app", 1000, 512)]),
        policy: &policy(UpdateMode::Recreate),
        memory: &PodMemory::default(),
    })
}

#[test]
fn evict_after_oom_seconds_decides_which_oom_kills_evict_in_recreate() {
    // Killed 30 s after start, threshold 60 s: a quick OOM, evicted.
    assert_eq!(
        oom_plan(Some(30_000), Some(60_000)),
        Decision::Evict(EvictReason::Recreate)
    );
    // Killed after 2 min of running: not quick, and otherwise in sync.
    assert_eq!(
        oom_plan(Some(120_000), Some(60_000)),
        Decision::Skip(SkipReason::InSync)
    );
    // Without the field the planner's OOM window (10 min) is the threshold.
    assert_eq!(
        oom_plan(Some(120_000), None),
        Decision::Evict(EvictReason::Recreate)
    );
    assert_eq!(
        oom_plan(Some(20 * 60_000), None),
        Decision::Skip(SkipReason::InSync)
    );
    // Run length unknown: counted as quick.
    assert_eq!(
        oom_plan(None, Some(60_000)),
        Decision::Evict(EvictReason::Recreate)
    );
}
