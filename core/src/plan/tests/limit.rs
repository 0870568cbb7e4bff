//! A recommended memory limit (Tailor's split memory): it sets Burstable limits on its own, takes the OOM bump,
//! and fires the planner when the limit in force is below it; Guaranteed pods and RequestsOnly ignore it.

use super::fixtures::*;
use crate::plan::units::{at, mem};
use crate::plan::*;

fn rec_with_limit(cpu_m: i64, mem_mi: i64, limit_mi: i64) -> ContainerRecommendation {
    ContainerRecommendation {
        memory_limit: Some(mem(limit_mi * MI)),
        ..rec("app", cpu_m, mem_mi)
    }
}

#[test]
fn a_recommended_limit_replaces_the_ratio_for_burstable_memory() {
    let mut w = World::new();
    // 512Mi/1024Mi today; the request goes to 300Mi and the limit to the recommended 1536Mi, not 600Mi by ratio.
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec_with_limit(1000, 300, 1536)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(mem_req_mi(&ch.after), Some(300));
    assert_eq!(mem_lim_mi(&ch.after), Some(1536));
    assert_eq!(cpu_lim(&ch.after), Some(2000), "CPU keeps its ratio");
}

#[test]
fn a_limit_below_its_recommendation_fires_at_once() {
    let mut w = World::new();
    // The request is in bounds (512Mi, target 512Mi) but the limit (1024Mi) is below the recommended 2048Mi.
    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec_with_limit(1000, 512, 2048)],
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
    assert_eq!(mem_lim_mi(&only_change(&d).after), Some(2048));
}

#[test]
fn the_oom_bump_goes_to_the_limit_when_it_is_recommended() {
    let mut w = World::new();
    let mut c = burstable();
    c.last_termination = Some(Termination {
        reason: TerminationReason::OomKilled,
        finished_at: Some(at(NOW - 1000)),
    });
    c.restart_count = 1;
    let mut p = pod(vec![c]);
    p.start_time = Some(at(NOW - 5000));
    let d = w.plan(
        &p,
        &[rec_with_limit(1000, 512, 1024)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(mem_req_mi(&ch.after), Some(512), "the request stays");
    assert_eq!(
        ch.after.limits.get(Resource::Memory),
        Some(1024 * MI * 12 / 10),
        "the limit takes the bump"
    );
}

#[test]
fn guaranteed_pods_and_requests_only_ignore_a_recommended_limit() {
    let mut w = World::new();
    let d = w.plan(
        &pod(vec![guaranteed()]),
        &[rec_with_limit(1000, 800, 1536)],
        &policy(UpdateMode::InPlace),
    );
    let ch = only_change(&d);
    assert_eq!(mem_req_mi(&ch.after), Some(800));
    assert_eq!(mem_lim_mi(&ch.after), Some(800), "QoS kept");

    let d = w.plan(
        &pod(vec![burstable()]),
        &[rec_with_limit(1000, 300, 1536)],
        &policy_with(UpdateMode::InPlace, ControlledValues::RequestsOnly),
    );
    assert_eq!(mem_lim_mi(&only_change(&d).after), Some(1024));
}
