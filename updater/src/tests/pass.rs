use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use tailor_core::plan::{Decision, PlannerConfig, RateLimits, Resource, SkipReason, Trigger};
use tailor_core::time::Timestamp;

use super::fixtures::{node, pod, pod_json, vpa};
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

fn state(evictions: bool) -> UpdaterState {
    UpdaterState {
        config: PlannerConfig::default(),
        rate: RateLimits::unlimited(),
        memory: HashMap::new(),
        evictions_enabled: evictions,
    }
}

const NOW: i64 = 1_767_225_600_000 + 24 * 3_600_000;

#[test]
fn a_pass_resizes_pods_outside_their_bounds_in_place() {
    let snapshot = Snapshot {
        pods: vec![
            Arc::new(pod("a", "500m", "1")),
            Arc::new(pod("b", "500m", "1")),
        ],
        vpas: vec![Arc::new(vpa("InPlace", "250m"))],
        nodes: vec![Arc::new(node("4", "8Gi"))],
        ..Snapshot::default()
    };
    let planned = plan(
        &snapshot,
        &Owners,
        &mut state(false),
        Timestamp::from_unix_millis(NOW),
    );
    assert_eq!(planned.len(), 2);
    for p in &planned {
        let Decision::Resize {
            plan,
            trigger: Trigger::OutsideBounds,
        } = &p.decision
        else {
            panic!("{:?}", p.decision)
        };
        assert_eq!(
            plan.containers[0].after.requests.get(Resource::Cpu),
            Some(250)
        );
        assert_eq!(
            plan.containers[0].after.limits.get(Resource::Cpu),
            Some(500)
        );
        assert_eq!(p.vpa.name.as_deref(), Some("web"));
    }
}

#[test]
fn without_evictions_recreate_modes_never_evict() {
    let snapshot = Snapshot {
        pods: vec![
            Arc::new(pod("a", "500m", "1")),
            Arc::new(pod("b", "500m", "1")),
        ],
        vpas: vec![Arc::new(vpa("Recreate", "250m"))],
        nodes: vec![Arc::new(node("4", "8Gi"))],
        ..Snapshot::default()
    };
    let planned = plan(
        &snapshot,
        &Owners,
        &mut state(false),
        Timestamp::from_unix_millis(NOW),
    );
    assert_eq!(planned[0].decision, Decision::Skip(SkipReason::ModeInitial));
    let planned = plan(
        &snapshot,
        &Owners,
        &mut state(true),
        Timestamp::from_unix_millis(NOW),
    );
    assert!(
        matches!(planned[0].decision, Decision::Evict(_)),
        "{:?}",
        planned[0].decision
    );
    // One pod at a time: the second waits for the first to come back.
    assert!(
        matches!(planned[1].decision, Decision::Wait { .. }),
        "{:?}",
        planned[1].decision
    );
}

#[test]
fn oom_killed_pods_are_planned_first() {
    let mut oom = pod_json("z-oom", "500m", "1");
    oom["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-01-01T23:59:59Z"}});
    let snapshot = Snapshot {
        pods: vec![
            Arc::new(pod("a", "500m", "1")),
            Arc::new(serde_json::from_value(oom).expect("pod")),
        ],
        vpas: vec![Arc::new(vpa("InPlace", "500m"))],
        nodes: vec![Arc::new(node("4", "8Gi"))],
        ..Snapshot::default()
    };
    let planned = plan(
        &snapshot,
        &Owners,
        &mut state(false),
        Timestamp::from_unix_millis(NOW),
    );
    assert_eq!(planned[0].view.name, "z-oom");
    assert!(
        matches!(
            planned[0].decision,
            Decision::Resize {
                trigger: Trigger::OomKill,
                ..
            }
        ),
        "{:?}",
        planned[0].decision
    );
}

#[test]
fn pods_without_a_vpa_are_not_planned_but_count_on_their_node() {
    let mut other = pod_json("other", "3500m", "4");
    other["metadata"]["ownerReferences"] = json!([]);
    let snapshot = Snapshot {
        pods: vec![
            Arc::new(pod("a", "250m", "1")),
            Arc::new(serde_json::from_value(other).expect("pod")),
        ],
        vpas: vec![Arc::new(vpa("InPlace", "1"))],
        nodes: vec![Arc::new(node("4", "8Gi"))],
        ..Snapshot::default()
    };
    let planned = plan(
        &snapshot,
        &Owners,
        &mut state(false),
        Timestamp::from_unix_millis(NOW),
    );
    assert_eq!(planned.len(), 1);
    // 250m + 3500m of 4000m: the pod may grow by 250m only.
    let Decision::Resize { plan, .. } = &planned[0].decision else {
        panic!("{:?}", planned[0].decision)
    };
    assert!(plan.partial);
    assert_eq!(
        plan.containers[0].after.requests.get(Resource::Cpu),
        Some(500)
    );
}
