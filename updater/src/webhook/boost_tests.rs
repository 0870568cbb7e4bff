//! The startup boost given at creation: CPU limits only, within the LimitRange and the CPU-limit quota, recorded
//! in the boost-state annotation the updater unboosts from.

use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
use serde_json::{Value, json};
use tailor_core::plan::annotation::BOOST_RECORD_ANNOTATION;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

use super::mutate::Namespace;
use super::tests::*;

/// A VPA whose workload is boosted ×3 for 30 s after Ready.
fn boosted_vpa(recs: Value) -> VerticalPodAutoscaler {
    let mut v = vpa_json("InPlace", json!([]), recs);
    v["spec"]["startupBoost"] =
        json!({"cpu": {"type": "Factor", "factor": 3, "durationSeconds": 30}});
    serde_json::from_value(v).expect("vpa")
}

fn record(doc: &Value) -> Option<&str> {
    doc["metadata"]["annotations"][BOOST_RECORD_ANNOTATION].as_str()
}

#[test]
fn a_boosted_workload_starts_with_a_raised_cpu_limit_and_a_record() {
    let pod = pod_json(vec![container("app", burstable())]);
    let v = boosted_vpa(json!([rec("app", "250m", "128Mi")]));
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    // Sized to 250m/500m first, then the limit ×3; the request (what the scheduler reserves) is not raised.
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "1500m", "memory": "256Mi"}})
    );
    assert_eq!(
        record(&doc),
        Some(format!("v1;active=1;since={NOW_MS};c=app:0:250m:500m").as_str())
    );
}

#[test]
fn a_workload_without_a_recommendation_yet_is_still_boosted() {
    let pod = pod_json(vec![container("app", burstable())]);
    let doc = admitted(&pod, &boosted_vpa(json!([])), &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "3", "memory": "512Mi"}})
    );
    assert_eq!(
        record(&doc),
        Some(format!("v1;active=1;since={NOW_MS};c=app:0:500m:1000m").as_str())
    );
}

#[test]
fn guaranteed_pods_unlimited_cpu_and_restart_policies_are_left_to_the_in_place_boost() {
    let v = boosted_vpa(json!([]));
    let guaranteed = json!({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}});
    let no_cpu_limit =
        json!({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}});
    let mut restarts = container("app", burstable());
    restarts["resizePolicy"] =
        json!([{"resourceName": "cpu", "restartPolicy": "RestartContainer"}]);
    for pod in [
        pod_json(vec![container("app", guaranteed)]),
        pod_json(vec![container("app", no_cpu_limit)]),
        pod_json(vec![restarts]),
    ] {
        assert_eq!(admitted(&pod, &v, &none()), Err("no_recommendation"));
    }
}

#[test]
fn the_boosted_limit_stays_inside_the_limit_range() {
    let lr: LimitRange = serde_json::from_value(json!({
        "metadata": {"name": "lr", "namespace": "ns"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "maxLimitRequestRatio": {"cpu": "5"}}]}
    }))
    .expect("limitrange");
    let ns = Namespace {
        limit_range: crate::convert::cluster::limit_range([&lr]),
        quota: None,
    };
    let pod = pod_json(vec![container("app", burstable())]);
    let doc = admitted(&pod, &boosted_vpa(json!([])), &ns).expect("mutated");
    // 1 × 3 = 3, cut to the 2-core maximum.
    assert_eq!(res(&doc, "containers", 0)["limits"]["cpu"], json!("2"));
    // With 250m requested, the 1:5 ratio allows 1250m.
    let small = json!({"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}});
    let pod = pod_json(vec![container("app", small)]);
    let doc = admitted(&pod, &boosted_vpa(json!([])), &ns).expect("mutated");
    assert_eq!(res(&doc, "containers", 0)["limits"]["cpu"], json!("1250m"));
}

#[test]
fn the_boost_fits_the_cpu_limit_quota_or_is_not_given() {
    let quota = |used: &str| -> Namespace {
        let q: ResourceQuota = serde_json::from_value(json!({
            "metadata": {"name": "q", "namespace": "ns"},
            "spec": {"hard": {"limits.cpu": "4"}},
            "status": {"hard": {"limits.cpu": "4"}, "used": {"limits.cpu": used}}
        }))
        .expect("quota");
        Namespace {
            limit_range: None,
            quota: crate::convert::cluster::quota_room([&q]),
        }
    };
    let pod = pod_json(vec![container("app", burstable())]);
    // 2.5 cores free: the 1-core limit may rise to 2.5, not to 3.
    let doc = admitted(&pod, &boosted_vpa(json!([])), &quota("1500m")).expect("mutated");
    assert_eq!(res(&doc, "containers", 0)["limits"]["cpu"], json!("2500m"));
    // Exactly the pod's own limit free: no boost, and the pod goes through as written.
    assert_eq!(
        admitted(&pod, &boosted_vpa(json!([])), &quota("3")),
        Err("no_recommendation")
    );
}
