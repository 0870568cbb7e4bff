use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::json;
use tailor_core::plan::Resource;
use tailor_k8s::owner::OwnerLookup;

use super::fixtures::{node, pod};
use crate::convert::cluster::{budgets, limit_range, node_capacity, quota_room, workload_key};
use crate::convert::pod::pod_view;

struct Owners;

impl OwnerLookup for Owners {
    fn owner_references(
        &self,
        kind: &str,
        _: &str,
        name: &str,
    ) -> Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>> {
        (kind == "ReplicaSet" && name == "web-abc").then(|| {
            vec![serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d", "controller": true})).expect("owner")]
        })
    }
}

#[test]
fn pods_resolve_to_their_deployment() {
    assert_eq!(
        workload_key(&pod("p", "1", "2"), &Owners).as_deref(),
        Some("ns/Deployment/web")
    );
}

#[test]
fn node_capacity_sums_what_every_pod_holds() {
    let (a, b) = (pod("a", "500m", "1"), pod("b", "250m", "1"));
    let views = [pod_view(&a, "k".into()), pod_view(&b, "k".into())];
    let n = node("4", "8Gi");
    let caps = node_capacity([&n], [(&a, &views[0]), (&b, &views[1])]);
    let c = caps.get("n1").expect("node");
    assert_eq!((c.allocatable_cpu.0, c.committed_cpu.0), (4000, 750));
    assert_eq!(c.committed_memory.0, 512 * 1024 * 1024);
}

#[test]
fn limit_ranges_merge_to_the_tightest() {
    let lr = |max: &str, ratio: &str| -> LimitRange {
        serde_json::from_value(
            json!({"metadata": {"name": max, "namespace": "ns"}, "spec": {"limits": [
                {"type": "Container", "max": {"cpu": max}, "maxLimitRequestRatio": {"cpu": ratio}},
                {"type": "Pod", "max": {"cpu": "1m"}}
            ]}}),
        )
        .expect("limitrange")
    };
    let (a, b) = (lr("2", "4"), lr("3", "1.5"));
    let merged = limit_range([&a, &b]).expect("merged");
    assert_eq!(merged.max.get(Resource::Cpu), Some(2000));
    assert_eq!(merged.max_ratio_cpu, Some(1500));
}

#[test]
fn quota_room_is_hard_minus_used() {
    let q: ResourceQuota = serde_json::from_value(
        json!({"metadata": {"name": "q", "namespace": "ns"}, "status": {
            "hard": {"requests.cpu": "4", "limits.memory": "8Gi"},
            "used": {"requests.cpu": "1500m", "limits.memory": "2Gi"}
        }}),
    )
    .expect("quota");
    let room = quota_room([&q]).expect("room");
    assert_eq!(room.requests.get(Resource::Cpu), Some(2500));
    assert_eq!(
        room.limits.get(Resource::Memory),
        Some(6 * 1024 * 1024 * 1024)
    );
    assert_eq!(room.requests.get(Resource::Memory), None);
}

#[test]
fn budgets_count_live_and_restarting_pods_and_the_matching_pdb() {
    let (a, mut b) = (pod("a", "1", "2"), pod("b", "1", "2"));
    if let Some(s) = b.status.as_mut() {
        s.conditions = Some(vec![]);
    }
    let views = [pod_view(&a, "w".into()), pod_view(&b, "w".into())];
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "pdb", "namespace": "ns"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": 1, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 2}
    }))
    .expect("pdb");
    let other: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "other", "namespace": "ns"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 2}
    }))
    .expect("pdb");
    let out = budgets([(&a, &views[0]), (&b, &views[1])], &[&pdb, &other]);
    let w = out.get("w").expect("budget");
    assert_eq!(
        (w.live_replicas, w.restarting, w.pdb_disruptions_allowed),
        (2, 1, Some(1))
    );
    let _ = BTreeMap::<String, String>::new();
}
