//! Follow-through on resizes already sent.

use super::fixtures::*;
use crate::plan::units::at;
use crate::plan::*;

/// A pod whose spec was resized by us to cpu 2000m/4000m (generation 2) while 1000m/2000m still runs.
fn pending_pod() -> (PodView, PodMemory) {
    let mut p = pod(vec![burstable()]);
    let before = p.containers[0].spec;
    let mut after = before;
    after.requests.set(Resource::Cpu, Some(2000));
    after.limits.set(Resource::Cpu, Some(4000));
    p.containers[0].spec = after;
    p.generation = 2;
    p.observed_generation = Some(2);
    let memory = PodMemory {
        last_resize: Some(ResizeRecord {
            at: at(NOW - 60_000),
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
    (p, memory)
}

fn pending(reason: PendingReason, since: i64) -> Option<ResizePending> {
    Some(ResizePending {
        reason,
        message: "Node didn't have enough capacity".to_owned(),
        since: at(since),
    })
}

const RECS: fn() -> [ContainerRecommendation; 1] = || [rec("app", 2000, 512)];

#[test]
fn waits_for_the_kubelet_to_observe_the_generation() {
    let (mut p, memory) = pending_pod();
    p.observed_generation = Some(1);
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Wait {
                reason: WaitReason::AwaitingKubelet,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn done_when_observed_without_conditions_and_actual_matches() {
    let (mut p, memory) = pending_pod();
    p.containers[0].actual = Some(p.containers[0].spec);
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
    // Actual still the old values: keep waiting.
    let (p, memory) = pending_pod();
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Wait {
                reason: WaitReason::ResizeInProgress,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn deferred_waits_a_bounded_time() {
    let (mut p, memory) = pending_pod();
    p.pending = pending(PendingReason::Deferred, NOW - 60_000);
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW + 4 * 60_000),
            reason: WaitReason::ResizeDeferred
        }
    );
}

#[test]
fn deferred_timeout_shrinks_to_what_fits_or_reverts_in_place() {
    let (mut p, memory) = pending_pod();
    p.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    // The node holds the pending 2000m (committed 4000 of 4000 with our reservation), real room for +500m.
    let mut w = World::new().with_node(node(4000, 8192, 4500, 1024));
    let d = w.plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    let Decision::Resize {
        plan,
        trigger: Trigger::DeferredShrink,
    } = &d
    else {
        panic!("{d:?}")
    };
    assert_eq!(cpu_req(&plan.containers[0].after), Some(1500));
    // No room at all: revert to what runs.
    let mut w = World::new().with_node(node(4000, 8192, 5000, 1024));
    let d = w.plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    let Decision::Revert {
        plan,
        reason: FailureReason::DeferredTimeout,
        infeasible_attempt: Some(_),
    } = &d
    else {
        panic!("{d:?}")
    };
    assert_eq!(
        (
            cpu_req(&plan.containers[0].after),
            cpu_lim(&plan.containers[0].after)
        ),
        (Some(1000), Some(2000))
    );
}

#[test]
fn deferred_timeout_evicts_in_in_place_or_recreate() {
    let (mut p, memory) = pending_pod();
    p.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    let d = World::new().plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlaceOrRecreate),
        &memory,
        NOW,
    );
    assert_eq!(
        d,
        Decision::Evict(EvictReason::Failed(FailureReason::DeferredTimeout))
    );
}

#[test]
fn infeasible_reverts_and_is_not_retried_until_the_recommendation_drops() {
    let (mut p, mut memory) = pending_pod();
    p.pending = pending(PendingReason::Infeasible, NOW - 1000);
    let cfg = PlannerConfig::default();
    let mut w = World::new();
    let d = w.plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    let Decision::Revert {
        reason: FailureReason::Infeasible,
        infeasible_attempt: Some(_),
        ..
    } = &d
    else {
        panic!("{d:?}")
    };
    memory.record_applied(&d, &p, Some(3), &cfg, at(NOW));
    // After the revert: spec back to 1000m, kubelet done.
    let mut reverted = pod(vec![burstable()]);
    reverted.generation = 3;
    reverted.observed_generation = Some(3);
    let later = NOW + 2 * 3_600_000;
    let d = w.plan_at(
        &reverted,
        &RECS(),
        &policy(UpdateMode::InPlace),
        &memory,
        later,
    );
    assert_eq!(d, Decision::Skip(SkipReason::InfeasibleCached));
    let d = w.plan_at(
        &reverted,
        &[rec("app", 1800, 512)],
        &policy(UpdateMode::InPlace),
        &memory,
        later,
    );
    assert!(matches!(d, Decision::Resize { .. }), "{d:?}");
}

#[test]
fn infeasible_evicts_in_in_place_or_recreate_when_the_budget_allows() {
    let (mut p, memory) = pending_pod();
    p.pending = pending(PendingReason::Infeasible, NOW - 1000);
    let mut w = World::new();
    let d = w.plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlaceOrRecreate),
        &memory,
        NOW,
    );
    assert_eq!(
        d,
        Decision::Evict(EvictReason::Failed(FailureReason::Infeasible))
    );
    w.budgets
        .get_mut("ns/Deployment/w")
        .expect("budget")
        .restarting = 1;
    let d = w.plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlaceOrRecreate),
        &memory,
        NOW,
    );
    assert!(
        matches!(
            d,
            Decision::Revert {
                reason: FailureReason::Infeasible,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn in_progress_error_backs_off_then_reverts() {
    let (mut p, memory) = pending_pod();
    p.in_progress = Some(ResizeInProgress {
        error: true,
        message: "runtime error".to_owned(),
        since: at(NOW - 1000),
    });
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Wait {
                reason: WaitReason::BackingOff,
                ..
            }
        ),
        "{d:?}"
    );
    let d = World::new().plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlace),
        &memory,
        NOW + 10 * 60_000,
    );
    assert!(
        matches!(
            d,
            Decision::Revert {
                reason: FailureReason::ActuationError,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn memory_in_use_error_reverts_and_backs_off() {
    let (mut p, memory) = pending_pod();
    p.in_progress = Some(ResizeInProgress {
        error: true,
        message: "attempting to set pod memory limit (100Mi) below current usage (200Mi)"
            .to_owned(),
        since: at(NOW - 1000),
    });
    let cfg = PlannerConfig::default();
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Revert {
                reason: FailureReason::MemoryInUse,
                ..
            }
        ),
        "{d:?}"
    );
    let mut memory = memory;
    memory.record_applied(&d, &p, Some(3), &cfg, at(NOW));
    assert_eq!(memory.backoff_until, Some(at(NOW + cfg.error_backoff_ms)));
}

#[test]
fn in_progress_is_bounded() {
    let (mut p, memory) = pending_pod();
    p.in_progress = Some(ResizeInProgress {
        error: false,
        message: String::new(),
        since: at(NOW - 1000),
    });
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Wait {
                reason: WaitReason::ResizeInProgress,
                ..
            }
        ),
        "{d:?}"
    );
    let d = World::new().plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlaceOrRecreate),
        &memory,
        NOW + 2 * 3_600_000,
    );
    assert_eq!(
        d,
        Decision::Evict(EvictReason::Failed(FailureReason::InProgressTimeout))
    );
}

#[test]
fn a_resize_someone_else_made_is_never_touched() {
    let (mut p, _) = pending_pod();
    p.pending = pending(PendingReason::Infeasible, NOW - 1000);
    let d = World::new().plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlace),
        &PodMemory::default(),
        NOW,
    );
    assert_eq!(d, Decision::Skip(SkipReason::ForeignResizePending));
}

#[test]
fn backoff_is_honoured() {
    let memory = PodMemory {
        backoff_until: Some(at(NOW + 1000)),
        ..PodMemory::default()
    };
    let d = World::new().plan_at(
        &pod(vec![burstable()]),
        &[rec("app", 500, 512)],
        &policy(UpdateMode::InPlace),
        &memory,
        NOW,
    );
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW + 1000),
            reason: WaitReason::BackingOff
        }
    );
}

#[test]
fn runtime_rounding_of_the_reported_values_counts_as_done() {
    let (mut p, memory) = pending_pod();
    let mut actual = p.containers[0].spec;
    actual.limits.set(Resource::Cpu, Some(4050));
    actual.limits.set(
        Resource::Memory,
        actual.limits.get(Resource::Memory).map(|m| m + 4096),
    );
    p.containers[0].actual = Some(actual);
    let d = World::new().plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
}

#[test]
fn a_reverted_deferred_resize_is_held_back_then_retried() {
    let (mut p, mut memory) = pending_pod();
    p.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    let cfg = PlannerConfig::default();
    // The API server's figures show room (so nothing smaller fits better): revert and remember.
    let mut w = World::new().with_node(node(4000, 8192, 5000, 1024));
    let d = w.plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    let Decision::Revert {
        reason: FailureReason::DeferredTimeout,
        infeasible_attempt: Some(_),
        ..
    } = &d
    else {
        panic!("{d:?}")
    };
    memory.record_applied(&d, &p, Some(3), &cfg, at(NOW));
    let mut reverted = pod(vec![burstable()]);
    reverted.generation = 3;
    reverted.observed_generation = Some(3);
    let mut w = World::new();
    let soon = NOW + 60_000;
    let held_until = at(NOW + cfg.deferred_backoff_ms);
    let d = w.plan_at(
        &reverted,
        &RECS(),
        &policy(UpdateMode::InPlace),
        &memory,
        soon,
    );
    assert_eq!(
        d,
        Decision::Wait {
            until: held_until,
            reason: WaitReason::BackingOff
        }
    );
    // A smaller increase than the one that was Deferred may go.
    let d = w.plan_at(
        &reverted,
        &[rec("app", 1500, 512)],
        &policy(UpdateMode::InPlace),
        &memory,
        soon,
    );
    assert!(matches!(d, Decision::Resize { .. }), "{d:?}");
    // After the back-off, the full increase is tried again.
    let d = w.plan_at(
        &reverted,
        &RECS(),
        &policy(UpdateMode::InPlace),
        &memory,
        NOW + cfg.deferred_backoff_ms,
    );
    assert!(matches!(d, Decision::Resize { .. }), "{d:?}");
    // An OOM kill is never held back.
    let mut oom = reverted.clone();
    oom.containers[0].restart_count = 1;
    oom.containers[0].last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(soon - 1000)),
    });
    let d = w.plan_at(&oom, &RECS(), &policy(UpdateMode::InPlace), &memory, soon);
    assert!(
        matches!(
            d,
            Decision::Resize {
                trigger: Trigger::OomKill,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn a_node_capacity_rejection_is_cached_like_infeasible() {
    let mut memory = PodMemory::default();
    let p = pod(vec![burstable()]);
    let mut w = World::new();
    let d = w.plan_at(&p, &RECS(), &policy(UpdateMode::InPlace), &memory, NOW);
    let plan = d.plan().expect("a resize").clone();
    memory.record_node_capacity_rejection(&plan.containers);
    let d = w.plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlace),
        &memory,
        NOW + 3_600_000,
    );
    assert_eq!(d, Decision::Skip(SkipReason::InfeasibleCached));
    let d = w.plan_at(
        &p,
        &[rec("app", 1600, 512)],
        &policy(UpdateMode::InPlace),
        &memory,
        NOW + 3_600_000,
    );
    assert!(matches!(d, Decision::Resize { .. }), "{d:?}");
}

#[test]
fn a_pending_condition_left_after_our_revert_is_stale_and_never_resized_or_evicted_on() {
    // The revert landed (spec back to what runs) but the kubelet has not cleared Deferred yet.
    let (_, mut memory) = pending_pod();
    if let Some(r) = memory.last_resize.as_mut() {
        r.kind = ResizeKind::Revert;
        r.generation = Some(3);
        for ch in &mut r.changes {
            std::mem::swap(&mut ch.before, &mut ch.after);
        }
    }
    let mut p = pod(vec![burstable()]);
    p.generation = 3;
    p.observed_generation = Some(3);
    p.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    for mode in [UpdateMode::InPlace, UpdateMode::InPlaceOrRecreate] {
        let d = World::new().plan_at(&p, &RECS(), &policy(mode), &memory, NOW);
        assert!(
            !matches!(d, Decision::Evict(_) | Decision::Revert { .. }),
            "{mode:?}: {d:?}"
        );
    }
}

#[test]
fn a_deferred_shrink_never_asks_for_more_than_the_pending_resize() {
    let (mut p, memory) = pending_pod();
    p.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    // The recommendation grew past the pending 2000m meanwhile; the node has room for +500m only.
    let mut w = World::new().with_node(node(4000, 8192, 4500, 1024));
    let d = w.plan_at(
        &p,
        &[rec("app", 3000, 512)],
        &policy(UpdateMode::InPlace),
        &memory,
        NOW,
    );
    let plan = d.plan().expect("a plan");
    let after = cpu_req(&plan.containers[0].after).expect("cpu");
    assert!(after <= 2000, "{d:?}");
}

#[test]
fn a_failed_resize_is_put_back_at_once_when_the_eviction_would_have_to_wait_for_a_token() {
    let (mut p, memory) = pending_pod();
    p.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    let mut w = World::new().with_node(node(4000, 8192, 5000, 1024));
    // The workload's only token was just used.
    w.rate = RateLimits::new(TokenBucket::unlimited(), 1, 60_000);
    w.rate.take("ns/Deployment/w", true, at(NOW));
    let d = w.plan_at(
        &p,
        &RECS(),
        &policy(UpdateMode::InPlaceOrRecreate),
        &memory,
        NOW,
    );
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

#[test]
fn a_failure_eviction_holds_back_the_next_one_of_the_same_workload() {
    // Two pods of one workload, each with a Deferred resize of ours past its bound, on a node with no room.
    let mut world = World::new();
    let (mut first, memory) = pending_pod();
    first.pending = pending(PendingReason::Deferred, NOW - 6 * 60_000);
    let mut replacement = first.clone();
    replacement.name = "w-replacement".to_owned();
    let recreate = policy(UpdateMode::InPlaceOrRecreate);
    assert_eq!(
        world.plan_at(&first, &RECS(), &recreate, &memory, NOW),
        Decision::Evict(EvictReason::Failed(FailureReason::DeferredTimeout))
    );
    // The replacement hits the same refusal ten minutes later: shrunk or reverted in place, not evicted.
    let later = NOW + 10 * 60_000;
    let d = world.plan_at(&replacement, &RECS(), &recreate, &memory, later);
    assert!(
        !matches!(d, Decision::Evict(_)),
        "evicted again inside the hold: {d:?}"
    );
    assert!(
        matches!(d, Decision::Resize { .. } | Decision::Revert { .. }),
        "{d:?}"
    );
    // Another workload is not held back.
    let mut other = first.clone();
    other.workload = "ns/Deployment/other".to_owned();
    world
        .budgets
        .insert(other.workload.clone(), world.budgets["ns/Deployment/w"]);
    assert_eq!(
        world.plan_at(&other, &RECS(), &recreate, &memory, later),
        Decision::Evict(EvictReason::Failed(FailureReason::DeferredTimeout))
    );
    // Once the hold has passed, a failed resize may evict again.
    let after = NOW + world.cfg.failure_eviction_hold_ms + 1;
    assert_eq!(
        world.plan_at(&replacement, &RECS(), &recreate, &memory, after),
        Decision::Evict(EvictReason::Failed(FailureReason::DeferredTimeout))
    );
}
