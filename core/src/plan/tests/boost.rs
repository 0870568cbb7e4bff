//! Startup CPU boost: start, hold, unboost, re-boost after restarts, withdraw when Deferred.

use super::fixtures::*;
use crate::plan::annotation::*;
use crate::plan::units::{at, cpu};
use crate::plan::*;

fn boost_policy(mode: UpdateMode) -> WorkloadPolicy {
    let mut p = policy(mode);
    p.boost = Some(BoostPolicy {
        amount: BoostAmount::Factor(2),
        duration_ms: 30_000,
        max_duration_ms: None,
    });
    p
}

/// A pod that started 5 s ago and is not Ready yet.
fn starting(c: ContainerView) -> PodView {
    let mut p = pod(vec![ContainerView { ready: false, ..c }]);
    p.ready = false;
    p.ready_since = None;
    p.start_time = Some(at(NOW - 5000));
    p
}

#[test]
fn boosts_limit_and_request_when_the_node_has_room() {
    let mut w = World::new();
    let d = w.plan(
        &starting(burstable()),
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    let Decision::Boost { plan, record } = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        (
            cpu_req(&plan.containers[0].after),
            cpu_lim(&plan.containers[0].after)
        ),
        (Some(2000), Some(4000))
    );
    assert!(record.active);
    assert_eq!(record.containers[0].original_request, Some(cpu(1000)));
}

#[test]
fn without_room_only_the_limit_is_boosted_and_guaranteed_pods_are_skipped() {
    let mut w = World::new().with_node(node(4000, 8192, 4000, 1024));
    let d = w.plan(
        &starting(burstable()),
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    let Decision::Boost { plan, .. } = &d else {
        panic!("{d:?}")
    };
    assert!(plan.partial);
    assert_eq!(
        (
            cpu_req(&plan.containers[0].after),
            cpu_lim(&plan.containers[0].after)
        ),
        (Some(1000), Some(4000))
    );
    let d = w.plan(
        &starting(guaranteed()),
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::NoHeadroom));
}

#[test]
fn restart_container_cpu_policy_is_never_boosted() {
    let mut c = burstable();
    c.resize_policy.cpu = RestartPolicy::RestartContainer;
    let mut p = starting(c);
    p.phase = PodPhase::Pending;
    let d = World::new().plan(
        &p,
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::NotRunning));
}

fn boosted_pod() -> PodView {
    let mut c = burstable();
    c.spec.requests.cpu = Some(cpu(2000));
    c.spec.limits.cpu = Some(cpu(4000));
    c.actual = Some(c.spec);
    let mut p = starting(c);
    p.boost = Some(BoostRecord {
        active: true,
        since: at(NOW - 5000),
        containers: vec![BoostedContainer {
            name: "app".to_owned(),
            restart_count: 0,
            original_request: Some(cpu(1000)),
            original_limit: Some(cpu(2000)),
        }],
    });
    p
}

#[test]
fn an_active_boost_holds_cpu_changes() {
    let d = World::new().plan(
        &boosted_pod(),
        &[rec("app", 300, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW - 5000 + 10 * 60_000),
            reason: WaitReason::BoostActive
        }
    );
}

#[test]
fn unboosts_to_the_current_recommendation_after_ready_plus_duration() {
    let mut p = boosted_pod();
    p.ready = true;
    p.containers[0].ready = true;
    p.ready_since = Some(at(NOW - 31_000));
    let d = World::new().plan(
        &p,
        &[rec("app", 600, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    let Decision::Unboost {
        plan,
        record,
        reason: UnboostReason::Ready,
    } = &d
    else {
        panic!("{d:?}")
    };
    assert_eq!(
        (
            cpu_req(&plan.containers[0].after),
            cpu_lim(&plan.containers[0].after)
        ),
        (Some(600), Some(1200))
    );
    assert!(!record.active);
    // Ready, but not for long enough yet.
    p.ready_since = Some(at(NOW - 10_000));
    let d = World::new().plan(
        &p,
        &[rec("app", 600, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW + 20_000),
            reason: WaitReason::BoostActive
        }
    );
}

#[test]
fn unboosts_to_the_original_values_in_initial_mode_and_after_the_hard_maximum() {
    let d = World::new().plan_at(
        &boosted_pod(),
        &[rec("app", 600, 512)],
        &boost_policy(UpdateMode::Initial),
        &PodMemory::default(),
        NOW + 11 * 60_000,
    );
    let Decision::Unboost {
        plan,
        reason: UnboostReason::MaxDuration,
        ..
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
fn the_hard_maximum_of_a_boost_given_at_creation_runs_from_the_container_start() {
    // Boosted at admission 8 minutes ago; the image pull took 7 of them.
    let mut p = boosted_pod();
    p.boost.as_mut().expect("record").since = at(NOW - 8 * 60_000);
    p.containers[0].started_at = Some(at(NOW - 60_000));
    let pol = boost_policy(UpdateMode::InPlace);
    let recs = [rec("app", 600, 512)];
    let mut w = World::new();
    let d = w.plan_at(&p, &recs, &pol, &PodMemory::default(), NOW + 3 * 60_000);
    assert_eq!(
        d,
        Decision::Wait {
            until: at(NOW + 9 * 60_000),
            reason: WaitReason::BoostActive
        }
    );
    let d = w.plan_at(&p, &recs, &pol, &PodMemory::default(), NOW + 9 * 60_000);
    assert!(
        matches!(
            d,
            Decision::Unboost {
                reason: UnboostReason::MaxDuration,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn a_deferred_boost_is_withdrawn_at_once() {
    let mut p = boosted_pod();
    p.containers[0].actual = Some(burstable().spec);
    p.pending = Some(ResizePending {
        reason: PendingReason::Deferred,
        message: String::new(),
        since: at(NOW - 100),
    });
    let d = World::new().plan(
        &p,
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    let Decision::Unboost {
        plan,
        reason: UnboostReason::Withdrawn,
        ..
    } = &d
    else {
        panic!("{d:?}")
    };
    assert_eq!(cpu_req(&plan.containers[0].after), Some(1000));
}

#[test]
fn a_restarted_container_is_boosted_again() {
    let mut p = pod(vec![burstable()]);
    p.containers[0].restart_count = 1;
    p.containers[0].ready = false;
    p.ready = false;
    p.boost = Some(BoostRecord {
        active: false,
        since: at(0),
        containers: vec![BoostedContainer {
            name: "app".to_owned(),
            restart_count: 0,
            original_request: Some(cpu(1000)),
            original_limit: Some(cpu(2000)),
        }],
    });
    let d = World::new().plan(
        &p,
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    let Decision::Boost { record, .. } = &d else {
        panic!("{d:?}")
    };
    assert_eq!(record.containers[0].restart_count, 1);
    // Without a restart an old, unready pod is not boosted.
    p.containers[0].restart_count = 0;
    let d = World::new().plan(
        &p,
        &[rec("app", 1000, 512)],
        &boost_policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
}

#[test]
fn oom_during_a_boost_changes_memory_only() {
    let mut p = boosted_pod();
    p.containers[0].last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(NOW - 1000)),
    });
    let d = World::new().plan(
        &p,
        &[rec("app", 300, 2048)],
        &boost_policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(2000));
    assert_eq!(mem_req_mi(&ch.after), Some(2048));
}

#[test]
fn policy_annotation_parses() {
    assert_eq!(
        parse_boost_policy("factor=2,duration=30s"),
        Ok(BoostPolicy {
            amount: BoostAmount::Factor(2),
            duration_ms: 30_000,
            max_duration_ms: None
        })
    );
    assert_eq!(
        parse_boost_policy("quantity=1.5, duration=1m, max=5m"),
        Ok(BoostPolicy {
            amount: BoostAmount::Quantity(cpu(1500)),
            duration_ms: 60_000,
            max_duration_ms: Some(300_000)
        })
    );
    assert_eq!(
        parse_boost_policy("factor=2,quantity=1"),
        Err(AnnotationError::Amount)
    );
    assert_eq!(
        parse_boost_policy("factor=0"),
        Err(AnnotationError::Number("0".to_owned()))
    );
    assert!(matches!(
        parse_boost_policy("factor=2,speed=9"),
        Err(AnnotationError::UnknownKey(_))
    ));
    assert!(matches!(
        parse_boost_policy("quantity=-1"),
        Err(AnnotationError::Cpu(_))
    ));
    assert!(matches!(
        parse_boost_policy("factor=2,duration=3d"),
        Err(AnnotationError::Duration(_))
    ));
}

#[test]
fn record_annotation_round_trips_and_rejects_garbage() {
    let r = boosted_pod().boost.expect("record");
    let text = format_boost_record(&r);
    assert_eq!(
        text,
        format!("v1;active=1;since={};c=app:0:1000m:2000m", NOW - 5000)
    );
    assert_eq!(parse_boost_record(&text), Ok(r));
    assert!(parse_boost_record("v2;active=1;since=0").is_err());
    assert!(parse_boost_record("v1;active=1").is_err());
    assert!(parse_boost_record("v1;active=1;since=0;c=app:x:1m:-").is_err());
    assert_eq!(
        parse_boost_record("v1;active=0;since=7;c=a:1:-:-").map(|r| r.containers.len()),
        Ok(1)
    );
}
