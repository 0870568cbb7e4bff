//! Properties over random pods, recommendations and clusters: whatever the planner decides keeps the QoS
//! class, keeps requests ≤ limits and never drops a request or limit.

use proptest::prelude::*;

use super::fixtures::*;
use crate::plan::annotation::{
    format_boost_record, parse_boost_policy, parse_boost_record, parse_cpu,
};
use crate::plan::units::{at, cpu, mem};
use crate::plan::*;

fn arb_container(i: usize) -> impl Strategy<Value = ContainerView> {
    (
        prop::option::of(1i64..8000),
        prop::option::of(1i64..8192),
        prop::option::of(0i64..8000),
        prop::option::of(0i64..8192),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1i64..8192),
        any::<bool>(),
    )
        .prop_map(
            move |(rc, rm, lc_extra, lm_extra, restart_cpu, restart_mem, ws, oom)| {
                let lim_c = lc_extra.map(|e| rc.unwrap_or(1) + e);
                let lim_m = lm_extra.map(|e| rm.unwrap_or(1) + e);
                let mut c = container(
                    &format!("c{i}"),
                    reqs((rc.or(lim_c), rm.or(lim_m)), (lim_c, lim_m)),
                );
                c.resize_policy.cpu = if restart_cpu {
                    RestartPolicy::RestartContainer
                } else {
                    RestartPolicy::NotRequired
                };
                c.resize_policy.memory = if restart_mem {
                    RestartPolicy::RestartContainer
                } else {
                    RestartPolicy::NotRequired
                };
                c.working_set = ws.map(|w| mem(w * MI));
                if oom {
                    c.last_termination = Some(Termination {
                        reason: TerminationReason::OomKilled,
                        finished_at: Some(at(NOW - 1000)),
                    });
                }
                c
            },
        )
}

fn arb_guaranteed(i: usize) -> impl Strategy<Value = ContainerView> {
    (1i64..8000, 1i64..8192).prop_map(move |(c, m)| {
        container(
            &format!("c{i}"),
            reqs((Some(c), Some(m)), (Some(c), Some(m))),
        )
    })
}

fn arb_pod() -> impl Strategy<Value = PodView> {
    prop_oneof![
        (arb_container(0), arb_container(1)).prop_map(|(a, b)| pod(vec![a, b])),
        arb_container(0).prop_map(|a| pod(vec![a])),
        (arb_guaranteed(0), arb_guaranteed(1)).prop_map(|(a, b)| pod(vec![a, b])),
    ]
}

fn arb_recs() -> impl Strategy<Value = Vec<ContainerRecommendation>> {
    prop::collection::vec((0i64..10_000, 1i64..10_000), 2).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (c, m))| rec(&format!("c{i}"), c, m))
            .collect()
    })
}

fn arb_mode() -> impl Strategy<Value = UpdateMode> {
    prop_oneof![
        Just(UpdateMode::InPlace),
        Just(UpdateMode::InPlaceOrRecreate),
        Just(UpdateMode::Recreate)
    ]
}

fn arb_values() -> impl Strategy<Value = ControlledValues> {
    prop_oneof![
        Just(ControlledValues::RequestsAndLimits),
        Just(ControlledValues::RequestsOnly)
    ]
}

fn check(pod: &PodView, d: &Decision) -> Result<(), TestCaseError> {
    let Some(plan) = d.plan() else { return Ok(()) };
    let afters: Vec<Requirements> = pod
        .containers
        .iter()
        .map(|c| {
            plan.containers
                .iter()
                .find(|ch| ch.name == c.name)
                .map_or(c.spec, |ch| ch.after)
        })
        .collect();
    prop_assert_eq!(compute_qos(afters.iter()), pod.qos, "QoS changed: {:?}", d);
    for ch in &plan.containers {
        prop_assert_eq!(
            ch.before,
            pod.container(&ch.name).map(|c| c.spec).unwrap_or_default()
        );
        for r in Resource::ALL {
            if let (Some(q), Some(l)) = (ch.after.requests.get(r), ch.after.limits.get(r)) {
                prop_assert!(q <= l, "request above limit: {:?}", ch);
            }
            prop_assert!(ch.before.requests.get(r).is_none() || ch.after.requests.get(r).is_some());
            prop_assert!(ch.before.limits.get(r).is_none() || ch.after.limits.get(r).is_some());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn qos_and_ordering_hold_for_any_input(
        pod in arb_pod(),
        recs in arb_recs(),
        mode in arb_mode(),
        values in arb_values(),
        free_cpu in 0i64..20_000,
        free_mem in 0i64..20_000,
        ratio in prop::option::of(1000i64..4000),
    ) {
        let mut w = World::new().with_node(node(100_000, 100_000, 100_000 - free_cpu, 100_000 - free_mem));
        w.limit_ranges.insert("ns".to_owned(), LimitRange { max_ratio_cpu: ratio, ..LimitRange::default() });
        let d = w.plan(&pod, &recs, &policy_with(mode, values));
        check(&pod, &d)?;
    }

    #[test]
    fn boosts_keep_qos_too(pod in arb_pod(), recs in arb_recs(), factor in 1u32..5, ready in any::<bool>()) {
        let mut p = pod;
        p.ready = ready;
        p.start_time = Some(at(NOW - 1000));
        for c in &mut p.containers { c.ready = false; }
        let mut pol = policy(UpdateMode::InPlace);
        pol.boost = Some(BoostPolicy { amount: BoostAmount::Factor(factor), duration_ms: 0, max_duration_ms: None });
        let d = World::new().plan(&p, &recs, &pol);
        check(&p, &d)?;
    }

    #[test]
    fn cpu_quantities_round_trip(m in 0i64..10_000_000) {
        prop_assert_eq!(parse_cpu(&format!("{m}m")), Ok(cpu(m)));
        prop_assert_eq!(parse_cpu(&format!("{}.{:03}", m / 1000, m % 1000)), Ok(cpu(m)));
    }

    #[test]
    fn annotations_never_panic(s in ".{0,64}") {
        let _ = parse_boost_policy(&s);
        let _ = parse_boost_record(&s);
        let _ = parse_cpu(&s);
    }

    #[test]
    fn records_round_trip(
        active in any::<bool>(),
        since in 0i64..i64::MAX / 2,
        containers in prop::collection::vec(("[a-z][a-z0-9-]{0,20}", 0u32..100, prop::option::of(0i64..100_000), prop::option::of(0i64..100_000)), 0..4),
    ) {
        let record = BoostRecord {
            active,
            since: at(since),
            containers: containers.into_iter().map(|(name, restart_count, q, l)| BoostedContainer {
                name, restart_count, original_request: q.map(cpu), original_limit: l.map(cpu),
            }).collect(),
        };
        prop_assert_eq!(parse_boost_record(&format_boost_record(&record)), Ok(record));
    }

    #[test]
    fn token_bucket_never_exceeds_its_rate(burst in 1u32..5, interval in 1i64..10_000, steps in prop::collection::vec(0i64..5_000, 1..50)) {
        let mut b = TokenBucket::new(burst, interval, at(0));
        let mut now = 0;
        let mut taken = 0i64;
        for s in steps {
            now += s;
            while b.ready_at(at(now)).is_none() {
                b.take(at(now));
                taken += 1;
            }
        }
        prop_assert!(taken <= i64::from(burst) + now / interval);
    }
}
