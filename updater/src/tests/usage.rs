//! Working sets from the metrics API: parsing `PodMetrics`, freshness, and a memory limit lowered only above
//! a fresh working set.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use tailor_core::plan::{Decision, PlannerConfig, RateLimits, Resource};
use tailor_core::time::Timestamp;

use super::fixtures::{node, pod_json};
use crate::pass::{Snapshot, UpdaterState, plan};
use crate::usage::{PodUsage, UsageMap, key, parse_pod_metrics};

const MI: i64 = 1024 * 1024;
const NOW: i64 = 1_767_225_600_000 + 24 * 3_600_000;

#[test]
fn pod_metrics_give_working_sets_per_container() {
    let (k, u) = parse_pod_metrics(json!({
        "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": "a", "namespace": "ns"},
        "timestamp": "2026-01-02T00:00:00Z", "window": "15s",
        "containers": [
            {"name": "app", "usage": {"cpu": "12m", "memory": "100Mi"}},
            {"name": "odd", "usage": {"cpu": "1m", "memory": "-5Mi"}},
            {"name": "nomem", "usage": {"cpu": "1m"}}
        ]
    }))
    .expect("parse");
    assert_eq!(k, "ns/a");
    assert_eq!(u.at, Timestamp::from_unix_millis(NOW));
    assert_eq!(u.containers, HashMap::from([("app".to_owned(), 100 * MI)]));
    assert!(parse_pod_metrics(json!({"metadata": {"name": "a"}})).is_err());
}

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

/// The memory limit the planner sets for pod `a` (256Mi request, 512Mi limit) when the VPA wants 128Mi.
fn planned_limit(usage: UsageMap) -> Option<i64> {
    let vpa = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "ns", "uid": "v", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "updatePolicy": {"updateMode": "InPlace"}},
        "status": {"recommendation": {"containerRecommendations": [{
            "containerName": "app", "target": {"cpu": "500m", "memory": "128Mi"},
            "lowerBound": {"cpu": "500m", "memory": "100Mi"}, "upperBound": {"cpu": "500m", "memory": "150Mi"}
        }]}}
    }))
    .expect("vpa");
    let snapshot = Snapshot {
        pods: vec![Arc::new(pod_in_place())],
        vpas: vec![Arc::new(vpa)],
        nodes: vec![Arc::new(node("4", "8Gi"))],
        working_sets: Arc::new(usage),
        ..Snapshot::default()
    };
    let mut state = UpdaterState {
        config: PlannerConfig::default(),
        rate: RateLimits::unlimited(),
        memory: HashMap::new(),
        evictions_enabled: false,
    };
    let planned = plan(
        &snapshot,
        &Owners,
        &mut state,
        Timestamp::from_unix_millis(NOW),
    );
    let Decision::Resize { plan, .. } = &planned[0].decision else {
        panic!("{:?}", planned[0].decision)
    };
    plan.containers[0].after.limits.get(Resource::Memory)
}

/// Pod `a` with a memory change that does not restart the container.
fn pod_in_place() -> k8s_openapi::api::core::v1::Pod {
    let mut j = pod_json("a", "500m", "1");
    j["spec"]["containers"][0]["resizePolicy"][1]["restartPolicy"] = json!("NotRequired");
    serde_json::from_value(j).expect("pod")
}

fn usage(age_ms: i64, bytes: i64) -> UsageMap {
    UsageMap::from([(
        key("ns", "a"),
        PodUsage {
            at: Timestamp::from_unix_millis(NOW - age_ms),
            containers: HashMap::from([("app".to_owned(), bytes)]),
        },
    )])
}

#[test]
fn memory_limits_drop_only_above_a_fresh_working_set() {
    // No figure: the 512Mi limit stays.
    assert_eq!(planned_limit(UsageMap::new()), Some(512 * MI));
    // Fresh, small working set: down with the request (256Mi limit for a 128Mi request, ratio kept).
    assert_eq!(planned_limit(usage(20_000, 50 * MI)), Some(256 * MI));
    // Fresh, larger working set: no lower than working set + max(10 %, 32Mi).
    assert_eq!(
        planned_limit(usage(20_000, 300 * MI)),
        Some(300 * MI + 32 * MI)
    );
    // Stale (older than three minutes): as if unknown.
    assert_eq!(planned_limit(usage(10 * 60_000, 50 * MI)), Some(512 * MI));
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9:.-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_owned()),
                    Just("name".to_owned()),
                    Just("namespace".to_owned()),
                    Just("timestamp".to_owned()),
                    Just("containers".to_owned()),
                    Just("usage".to_owned()),
                    Just("memory".to_owned()),
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn arbitrary_pod_metrics_never_panic(v in arb_json()) {
        let _ = parse_pod_metrics(v);
    }
}
