//! One test per sizing, eligibility, trigger, budget and rate rule.

use super::fixtures::*;
use crate::plan::units::{at, mem};
use crate::plan::*;

#[test]
fn in_sync_inside_bounds_without_drift() {
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 1050, 530)],
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
}

#[test]
fn outside_bounds_downsizes_cpu_in_place_with_proportional_limit() {
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 500, 512)],
        &policy(UpdateMode::InPlace),
    );
    assert!(
        matches!(
            d,
            Decision::Resize {
                trigger: Trigger::OutsideBounds,
                ..
            }
        ),
        "{d:?}"
    );
    let ch = only_change(&d);
    assert_eq!(
        (cpu_req(&ch.after), cpu_lim(&ch.after)),
        (Some(500), Some(1000))
    );
    assert_eq!(
        (mem_req_mi(&ch.after), mem_lim_mi(&ch.after)),
        (Some(512), Some(1024))
    );
    assert!(!d.plan().is_some_and(|p| p.disruptive));
}

#[test]
fn requests_only_keeps_limits() {
    let mut w = World::new();
    let p = policy_with(UpdateMode::InPlace, ControlledValues::RequestsOnly);
    let d = w.plan(&pod(vec![burstable()]), &[rec("app", 500, 512)], &p);
    let ch = only_change(&d);
    assert_eq!(
        (cpu_req(&ch.after), cpu_lim(&ch.after)),
        (Some(500), Some(2000))
    );
}

#[test]
fn requests_never_exceed_limits_under_requests_only() {
    let mut w = World::new();
    let p = policy_with(UpdateMode::InPlace, ControlledValues::RequestsOnly);
    let d = w.plan(&pod(vec![burstable()]), &[rec("app", 5000, 512)], &p);
    let ch = only_change(&d);
    assert_eq!(
        (cpu_req(&ch.after), cpu_lim(&ch.after)),
        (Some(2000), Some(2000))
    );
}

#[test]
fn guaranteed_moves_request_and_limit_together() {
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![guaranteed()]),
        &[rec("app", 400, 300)],
        &policy(UpdateMode::InPlace),
    );
    let mut c = guaranteed();
    c.working_set = Some(mem(100 * MI));
    let ch = only_change(&d);
    assert_eq!(
        (cpu_req(&ch.after), cpu_lim(&ch.after)),
        (Some(400), Some(400))
    );
    // No working set known: the memory limit (and so the Guaranteed request) stays.
    assert_eq!(
        (mem_req_mi(&ch.after), mem_lim_mi(&ch.after)),
        (Some(512), Some(512))
    );
    let d = w.plan(
        &pod(vec![c]),
        &[rec("app", 400, 300)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(
        (mem_req_mi(&ch.after), mem_lim_mi(&ch.after)),
        (Some(300), Some(300))
    );
    assert_eq!(compute_qos([&ch.after]), QosClass::Guaranteed);
}

#[test]
fn guaranteed_with_requests_only_is_never_made_burstable() {
    let mut w = World::new();
    let p = policy_with(UpdateMode::InPlace, ControlledValues::RequestsOnly);
    let d = w.plan(&pod(vec![guaranteed()]), &[rec("app", 400, 300)], &p);
    assert_eq!(d, Decision::Skip(SkipReason::QosWouldChange));
}

#[test]
fn burstable_never_becomes_guaranteed() {
    // Memory request == limit already; raising the CPU request to its limit would make the pod Guaranteed.
    let c = container("app", reqs((Some(100), Some(256)), (Some(200), Some(256))));
    let mut w = World::new();
    let p = policy_with(UpdateMode::InPlace, ControlledValues::RequestsOnly);
    let d = w.plan(&pod(vec![c]), &[rec("app", 400, 256)], &p);
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(199));
    assert_eq!(compute_qos([&ch.after]), QosClass::Burstable);
}

#[test]
fn best_effort_is_left_alone() {
    let c = container("app", Requirements::default());
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![c]),
        &[rec("app", 400, 256)],
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::BestEffort));
}

#[test]
fn a_missing_request_is_added_but_no_limit_is() {
    let c = container("app", reqs((None, Some(256)), (None, None)));
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![c]),
        &[rec("app", 300, 256)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!((cpu_req(&ch.after), cpu_lim(&ch.after)), (Some(300), None));
}

#[test]
fn limit_range_clamps_min_max_and_ratio() {
    let mut w = World::new();
    w.limit_ranges.insert(
        "ns".to_owned(),
        LimitRange {
            max: vals(Some(1500), None),
            max_ratio_cpu: Some(1500),
            ..LimitRange::default()
        },
    );
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 3000, 512)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    // Request and limit capped at 1500m; the ratio rule then holds (1500/1500).
    assert_eq!(
        (cpu_req(&ch.after), cpu_lim(&ch.after)),
        (Some(1500), Some(1500))
    );
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 600, 512)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    // 600m request with a 1200m limit would be 2:1; the ratio 1.5 raises the request to 800m.
    assert_eq!(
        (cpu_req(&ch.after), cpu_lim(&ch.after)),
        (Some(800), Some(1200))
    );
}

#[test]
fn cpu_floors_stop_chasing_unreachable_values() {
    let c = container("app", reqs((Some(1), Some(64)), (Some(5), Some(128))));
    let mut w = World::new();
    let mut r = rec("app", 2, 64);
    r.lower = vals(Some(1), Some(50));
    let d = w.plan(&pod(vec![c]), &[r], &policy(UpdateMode::InPlace));
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
}

#[test]
fn memory_limit_drops_only_above_working_set_plus_margin() {
    let mut c = burstable();
    c.working_set = Some(mem(700 * MI));
    let mut w = World::new();
    // Target 256Mi would put the limit at 512Mi, below the 700Mi working set: keep 770Mi (700 + 10 %).
    let d = w.plan(
        &pod(vec![c.clone()]),
        &[rec("app", 1000, 256)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(
        (mem_req_mi(&ch.after), mem_lim_mi(&ch.after)),
        (Some(256), Some(770))
    );
    c.working_set = Some(mem(100 * MI));
    let d = w.plan(
        &pod(vec![c]),
        &[rec("app", 1000, 256)],
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(mem_lim_mi(&only_change(&d).after), Some(512));
}

#[test]
fn increases_are_cut_to_node_headroom() {
    // 500m free on the node: a 1000m → 2000m increase becomes 1000m → 1500m.
    let mut w = World::new().with_node(node(4000, 8192, 3500, 1024));
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 2000, 512)],
        &policy(UpdateMode::InPlace),
    );
    let Decision::Resize { plan, .. } = &d else {
        panic!("{d:?}")
    };
    assert!(plan.partial);
    assert_eq!(cpu_req(&plan.containers[0].after), Some(1500));
}

#[test]
fn no_headroom_skips_in_place_and_evicts_in_recreate_mode() {
    let mut w = World::new().with_node(node(4000, 8192, 4000, 1024));
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 2000, 512)],
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::NoHeadroom));
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 2000, 512)],
        &policy(UpdateMode::InPlaceOrRecreate),
    );
    assert_eq!(d, Decision::Evict(EvictReason::NoHeadroom));
}

#[test]
fn quota_bounds_increases() {
    let mut w = World::new();
    w.quotas.insert(
        "ns".to_owned(),
        QuotaRoom {
            requests: vals(Some(0), None),
            limits: ResourceValues::default(),
        },
    );
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 2000, 512)],
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::QuotaExhausted));
}

#[test]
fn headroom_is_drawn_down_within_a_pass() {
    let mut w = World::new().with_node(node(4000, 8192, 2000, 1024));
    let pol = policy(UpdateMode::InPlace);
    let recs = [rec("app", 2000, 512)];
    let memory = PodMemory::default();
    let (a, b) = (pod(vec![burstable()]), pod(vec![burstable()]));
    let mut pass = w.pass(NOW);
    let first = pass.plan(&PodInput {
        pod: &a,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    let second = pass.plan(&PodInput {
        pod: &b,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    assert_eq!(cpu_req(&only_change(&first).after), Some(2000));
    assert_eq!(cpu_req(&only_change(&second).after), Some(2000));
    let third = pass.plan(&PodInput {
        pod: &a,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    assert_eq!(third, Decision::Skip(SkipReason::NoHeadroom));
}

#[test]
fn ineligible_pods_are_skipped_with_a_reason() {
    let mut w = World::new();
    let recs = [rec("app", 500, 512)];
    let pol = policy(UpdateMode::InPlace);
    type Mutation = fn(&mut PodView);
    let cases: Vec<(Mutation, SkipReason)> = vec![
        (|p| p.static_or_mirror = true, SkipReason::StaticOrMirror),
        (|p| p.windows = true, SkipReason::Windows),
        (
            |p| p.pod_level_resources = true,
            SkipReason::PodLevelResources,
        ),
        (
            |p| p.foreign_writer = Some(ForeignWriter::KubeStartupCpuBoost),
            SkipReason::OtherWriter,
        ),
        (|p| p.deleting = true, SkipReason::Terminating),
        (|p| p.phase = PodPhase::Succeeded, SkipReason::Terminating),
        (|p| p.node = None, SkipReason::Unscheduled),
        (
            |p| p.containers[0].actual = None,
            SkipReason::NoStatusResources,
        ),
        (|p| p.phase = PodPhase::Pending, SkipReason::NotRunning),
    ];
    for (mutate, reason) in cases {
        let mut p = pod(vec![burstable()]);
        mutate(&mut p);
        assert_eq!(w.plan(&p, &recs, &pol), Decision::Skip(reason));
    }
    assert_eq!(
        w.plan(&pod(vec![burstable()]), &recs, &policy(UpdateMode::Off)),
        Decision::Skip(SkipReason::ModeOff)
    );
    assert_eq!(
        w.plan(&pod(vec![burstable()]), &recs, &policy(UpdateMode::Initial)),
        Decision::Skip(SkipReason::ModeInitial)
    );
    let mut pass = w.pass(NOW);
    let p = pod(vec![burstable()]);
    let none = pass.plan(&PodInput {
        pod: &p,
        recommendation: None,
        policy: &pol,
        memory: &PodMemory::default(),
    });
    assert_eq!(none, Decision::Skip(SkipReason::NoRecommendation));
}

#[test]
fn other_writers_are_detected_from_labels_and_annotations() {
    assert_eq!(
        detect_foreign_writer(["app", KUBE_STARTUP_CPU_BOOST_LABEL], []),
        Some(ForeignWriter::KubeStartupCpuBoost)
    );
    assert_eq!(
        detect_foreign_writer([], ["vpaCpuStartupBoost/app"]),
        Some(ForeignWriter::VpaStartupBoost)
    );
    assert_eq!(
        detect_foreign_writer(["app"], ["tailor.dev/boost-state"]),
        None
    );
}

#[test]
fn sidecars_resize_and_init_containers_never_do() {
    let mut side = container("side", reqs((Some(100), Some(64)), (None, None)));
    side.kind = ContainerKind::Sidecar;
    let mut init = container("init", reqs((Some(100), Some(64)), (None, None)));
    init.kind = ContainerKind::Init;
    init.running = false;
    init.actual = None;
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![init, side, burstable()]),
        &[
            rec("side", 300, 64),
            rec("init", 300, 64),
            rec("app", 1000, 512),
        ],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!((ch.name.as_str(), cpu_req(&ch.after)), ("side", Some(300)));
}

#[test]
fn container_mode_off_and_uncontrolled_resources_are_untouched() {
    let mut w = World::new();
    let mut p = policy(UpdateMode::InPlace);
    p.containers.push(ContainerPolicy {
        name: "app".to_owned(),
        off: false,
        controlled: ResourceMask::MEMORY,
        controlled_values: ControlledValues::RequestsAndLimits,
    });
    let d = w.plan(&pod(vec![burstable()]), &[rec("app", 300, 300)], &p);
    let ch = only_change(&d);
    assert_eq!(cpu_req(&ch.after), Some(1000));
    assert_eq!(mem_req_mi(&ch.after), Some(300));
    p.containers[0].off = true;
    assert_eq!(
        w.plan(&pod(vec![burstable()]), &[rec("app", 300, 300)], &p),
        Decision::Skip(SkipReason::InSync)
    );
}

fn restart_on_memory() -> ContainerView {
    let mut c = burstable();
    c.resize_policy.memory = RestartPolicy::RestartContainer;
    c
}

#[test]
fn restart_container_change_is_disruptive_and_budgeted_one_pod_at_a_time() {
    let mut w = World::new();
    let pol = policy(UpdateMode::InPlace);
    let recs = [rec("app", 1000, 2048)];
    let memory = PodMemory::default();
    let (a, b) = (
        pod(vec![restart_on_memory()]),
        pod(vec![restart_on_memory()]),
    );
    let mut pass = w.pass(NOW);
    let first = pass.plan(&PodInput {
        pod: &a,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    let Decision::Resize { plan, .. } = &first else {
        panic!("{first:?}")
    };
    assert!(plan.disruptive);
    let second = pass.plan(&PodInput {
        pod: &b,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    assert!(
        matches!(
            second,
            Decision::Wait {
                reason: WaitReason::DisruptionBudget,
                ..
            }
        ),
        "{second:?}"
    );
}

#[test]
fn without_budget_the_cpu_part_goes_now_and_memory_later() {
    let mut w = World::new();
    w.budgets
        .get_mut("ns/Deployment/w")
        .expect("budget")
        .pdb_disruptions_allowed = Some(0);
    let d = w.plan(
        &pod(vec![restart_on_memory()]),
        &[rec("app", 500, 2048)],
        &policy(UpdateMode::InPlace),
    );
    let Decision::Split { now, later, .. } = &d else {
        panic!("{d:?}")
    };
    assert_eq!(*later, ResourceMask::MEMORY);
    assert!(!now.disruptive);
    assert_eq!(cpu_req(&now.containers[0].after), Some(500));
    assert_eq!(mem_req_mi(&now.containers[0].after), Some(512));
}

#[test]
fn restarts_respect_min_replicas_and_the_mode() {
    let mut w = World::new();
    w.budgets
        .get_mut("ns/Deployment/w")
        .expect("budget")
        .live_replicas = 1;
    let recs = [rec("app", 1000, 2048)];
    let d = w.plan(
        &pod(vec![restart_on_memory()]),
        &recs,
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::BelowMinReplicas));
    let mut w = World::new();
    w.cfg.inplace_allows_restart = false;
    let d = w.plan(
        &pod(vec![restart_on_memory()]),
        &recs,
        &policy(UpdateMode::InPlace),
    );
    assert_eq!(d, Decision::Skip(SkipReason::DisruptionNotAllowed));
}

#[test]
fn an_unready_pod_does_not_block_its_own_restart() {
    let mut w = World::new();
    w.budgets
        .get_mut("ns/Deployment/w")
        .expect("budget")
        .restarting = 1;
    w.budgets
        .get_mut("ns/Deployment/w")
        .expect("budget")
        .pdb_disruptions_allowed = Some(0);
    let mut p = pod(vec![restart_on_memory()]);
    p.ready = false;
    let d = w.plan(&p, &[rec("app", 1000, 2048)], &policy(UpdateMode::InPlace));
    assert!(matches!(d, Decision::Resize { .. }), "{d:?}");
}

#[test]
fn oom_kill_resizes_at_once_with_a_bump_even_during_cooldown() {
    let mut w = World::new();
    let mut p = pod(vec![oom_killed(burstable(), NOW - 1000)]);
    p.start_time = Some(at(NOW - 5000));
    // The recommendation has not caught up (512Mi): the bump takes memory to 1024Mi × 1.2 = 1228.8Mi.
    let d = w.plan(&p, &[rec("app", 1000, 512)], &policy(UpdateMode::InPlace));
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
    let ch = only_change(&d);
    let want = 1024 * MI * 12 / 10;
    assert_eq!(ch.after.requests.get(Resource::Memory), Some(want));
    assert_eq!(ch.after.limits.get(Resource::Memory), Some(want * 2));
}

#[test]
fn an_oom_kill_is_answered_once() {
    let mut w = World::new();
    let p = pod(vec![oom_killed(burstable(), NOW - 1000)]);
    let memory = PodMemory {
        oom_handled_at: Some(at(NOW - 1000)),
        ..PodMemory::default()
    };
    let d = w.plan_at(
        &p,
        &[rec("app", 1000, 512)],
        &policy(UpdateMode::InPlace),
        &memory,
        NOW,
    );
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
    // And an old OOM kill outside the window does not trigger either.
    let p = pod(vec![oom_killed(burstable(), NOW - 3_600_000)]);
    assert_eq!(
        w.plan(&p, &[rec("app", 1000, 512)], &policy(UpdateMode::InPlace)),
        Decision::Skip(SkipReason::InSync)
    );
}

#[test]
fn drift_up_is_fast_and_drift_down_slow() {
    let mut w = World::new();
    let pol = policy(UpdateMode::InPlace);
    // Target 15 % above the 1000m request, inside the bounds: drift up.
    let mut up = rec("app", 1150, 512);
    up.lower = vals(Some(900), Some(400));
    let resized_at = NOW - 10 * 60_000;
    let memory = PodMemory {
        last_resize: Some(ResizeRecord {
            at: at(resized_at),
            generation: None,
            kind: ResizeKind::Resize,
            changes: vec![],
        }),
        ..PodMemory::default()
    };
    let d = w.plan_at(&pod(vec![burstable()]), &[up], &pol, &memory, NOW);
    assert!(
        matches!(
            d,
            Decision::Resize {
                trigger: Trigger::DriftUp,
                ..
            }
        ),
        "{d:?}"
    );
    // Target 25 % below, inside the bounds: the 60-minute down cooldown has not passed.
    let mut down = rec("app", 750, 512);
    down.upper = vals(Some(1100), Some(600));
    let d = w.plan_at(
        &pod(vec![burstable()]),
        std::slice::from_ref(&down),
        &pol,
        &memory,
        NOW,
    );
    assert_eq!(
        d,
        Decision::Wait {
            until: at(resized_at + 60 * 60_000),
            reason: WaitReason::Cooldown
        }
    );
    let d = w.plan_at(
        &pod(vec![burstable()]),
        &[down],
        &pol,
        &memory,
        resized_at + 61 * 60_000,
    );
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
}

#[test]
fn small_drift_does_nothing() {
    let mut w = World::new();
    let mut r = rec("app", 1080, 540);
    r.lower = vals(Some(900), Some(400));
    assert_eq!(
        w.plan(&pod(vec![burstable()]), &[r], &policy(UpdateMode::InPlace)),
        Decision::Skip(SkipReason::InSync)
    );
}

#[test]
fn per_workload_rate_limit_waits_and_oom_bypasses_it() {
    let mut w = World::new();
    w.rate = RateLimits::new(TokenBucket::unlimited(), 1, 60_000);
    let pol = policy(UpdateMode::InPlace);
    let recs = [rec("app", 500, 512)];
    let memory = PodMemory::default();
    let a = pod(vec![burstable()]);
    let b = pod(vec![burstable()]);
    let c = pod(vec![oom_killed(burstable(), NOW - 1000)]);
    let mut pass = w.pass(NOW);
    let first = pass.plan(&PodInput {
        pod: &a,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    assert!(matches!(first, Decision::Resize { .. }));
    let second = pass.plan(&PodInput {
        pod: &b,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    assert_eq!(
        second,
        Decision::Wait {
            until: at(NOW + 60_000),
            reason: WaitReason::RateLimited
        }
    );
    let third = pass.plan(&PodInput {
        pod: &c,
        recommendation: Some(&recs),
        policy: &pol,
        memory: &memory,
    });
    assert!(
        matches!(
            third,
            Decision::Resize {
                trigger: Trigger::OomKill,
                ..
            }
        ),
        "{third:?}"
    );
}

#[test]
fn global_rate_limit_refills_over_time() {
    let mut bucket = TokenBucket::new(2, 1000, at(0));
    assert_eq!(bucket.ready_at(at(0)), None);
    bucket.take(at(0));
    bucket.take(at(0));
    assert_eq!(bucket.ready_at(at(0)), Some(at(1000)));
    assert_eq!(bucket.ready_at(at(500)), Some(at(1000)));
    assert_eq!(bucket.ready_at(at(1000)), None);
}

#[test]
fn recreate_mode_evicts_within_budget() {
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 500, 512)],
        &policy(UpdateMode::Recreate),
    );
    assert_eq!(d, Decision::Evict(EvictReason::Recreate));
    w.budgets
        .get_mut("ns/Deployment/w")
        .expect("budget")
        .restarting = 1;
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec("app", 500, 512)],
        &policy(UpdateMode::Recreate),
    );
    assert!(
        matches!(
            d,
            Decision::Wait {
                reason: WaitReason::DisruptionBudget,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn decision_labels_are_bounded_strings() {
    let d = Decision::Evict(EvictReason::Failed(FailureReason::DeferredTimeout));
    assert_eq!((d.kind(), d.reason()), ("evict", "deferred_timeout"));
    assert_eq!(
        Decision::Skip(SkipReason::NoHeadroom).reason(),
        "no_headroom"
    );
}

#[test]
fn an_oom_resize_is_a_floor_until_it_expires() {
    let mut w = World::new();
    let cfg = PlannerConfig::default();
    let pol = policy(UpdateMode::InPlace);
    let recs = [rec("app", 1000, 512)];
    let killed = pod(vec![oom_killed(burstable(), NOW - 1000)]);
    let mut memory = PodMemory::default();
    let d = w.plan_at(&killed, &recs, &pol, &memory, NOW);
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
    memory.record_applied(&d, &killed, Some(2), &cfg, at(NOW));
    // The pod now runs at the bumped size; the stale recommendation (512Mi, upper 614Mi) must not undo it.
    let mut bumped = killed.clone();
    bumped.containers[0].spec = only_change(&d).after;
    bumped.containers[0].actual = Some(only_change(&d).after);
    bumped.generation = 2;
    bumped.observed_generation = Some(2);
    let d = w.plan_at(&bumped, &recs, &pol, &memory, NOW + 60_000);
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
    // Once the floor expires, the recommendation applies again.
    let d = w.plan_at(
        &bumped,
        &recs,
        &pol,
        &memory,
        NOW + cfg.oom_floor_ms + 60_000,
    );
    assert!(
        matches!(
            d,
            Decision::Resize {
                trigger: Trigger::OutsideBounds,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn a_kill_right_after_an_oom_resize_does_not_bump_again() {
    let mut w = World::new();
    let cfg = PlannerConfig::default();
    let pol = policy(UpdateMode::InPlace);
    let recs = [rec("app", 1000, 512)];
    let killed = pod(vec![oom_killed(burstable(), NOW - 1000)]);
    let mut memory = PodMemory::default();
    let d = w.plan_at(&killed, &recs, &pol, &memory, NOW);
    memory.record_applied(&d, &killed, None, &cfg, at(NOW));
    // The container was restarted at the old size before the kubelet applied the resize, and was killed again.
    let mut again = killed.clone();
    again.containers[0].spec = only_change(&d).after;
    again.containers[0].actual = Some(only_change(&d).after);
    again.containers[0].last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(NOW + 2000)),
    });
    let d = w.plan_at(&again, &recs, &pol, &memory, NOW + 3000);
    assert_eq!(d, Decision::Skip(SkipReason::InSync));
    // A kill well after the resize took effect is a new one.
    again.containers[0].last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(NOW + 60_000)),
    });
    let d = w.plan_at(&again, &recs, &pol, &memory, NOW + 61_000);
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
fn trusting_the_kubelet_lowers_memory_limits_without_a_working_set() {
    let mut w = World::new();
    w.cfg.memory_limit_decrease_without_usage = true;
    let d = w.plan(
        &pod(vec![guaranteed()]),
        &[rec("app", 1000, 300)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(
        (mem_req_mi(&ch.after), mem_lim_mi(&ch.after)),
        (Some(300), Some(300))
    );
}
