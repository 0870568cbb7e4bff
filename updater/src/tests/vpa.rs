use serde_json::json;
use tailor_core::plan::{BoostAmount, ControlledValues, Resource, UpdateMode};
use tailor_core::quantity::MilliCpu;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

use super::fixtures::vpa;
use crate::convert::vpa::{policy, recommendations};

#[test]
fn modes_policies_and_recommendations_convert() {
    let v = vpa("InPlaceOrRecreate", "300m");
    let p = policy(&v).expect("policy");
    assert_eq!(p.mode, UpdateMode::InPlaceOrRecreate);
    let recs = recommendations(&v).expect("recs");
    assert_eq!(recs[0].target.get(Resource::Cpu), Some(300));
    assert_eq!(
        policy(&vpa("Auto", "1")).map(|p| p.mode),
        Ok(UpdateMode::Recreate)
    );
    assert!(policy(&vpa("Sometimes", "1")).is_err());
}

#[test]
fn container_policies_and_boosts_convert() {
    let mut j = serde_json::to_value(vpa("InPlace", "1")).expect("json");
    j["spec"]["resourcePolicy"] = json!({"containerPolicies": [
        {"containerName": "app", "controlledResources": ["memory"], "controlledValues": "RequestsOnly"},
        {"containerName": "side", "mode": "Off"}
    ]});
    j["spec"]["startupBoost"] =
        json!({"cpu": {"type": "Factor", "factor": 3, "durationSeconds": 20}});
    let v: VerticalPodAutoscaler = serde_json::from_value(j.clone()).expect("vpa");
    let p = policy(&v).expect("policy");
    let (off, mask, values) = p.for_container("app");
    assert!(!off && !mask.cpu && mask.memory);
    assert_eq!(values, ControlledValues::RequestsOnly);
    assert!(p.for_container("side").0);
    let boost = p.boost.expect("boost");
    assert_eq!(
        (boost.amount, boost.duration_ms),
        (BoostAmount::Factor(3), 20_000)
    );
    j["metadata"]["annotations"] =
        json!({"tailor.dev/startup-cpu-boost": "quantity=500m,duration=1m"});
    let v: VerticalPodAutoscaler = serde_json::from_value(j).expect("vpa");
    let boost = policy(&v).expect("policy").boost.expect("boost");
    assert_eq!(boost.amount, BoostAmount::Quantity(MilliCpu(500)));
}

#[test]
fn memory_limits_come_from_the_annotation_and_a_bad_one_is_ignored_whole() {
    use tailor_core::estimate::MEMORY_LIMITS_ANNOTATION;
    use tailor_core::quantity::Bytes;

    let mut v = vpa("InPlace", "300m");
    let recs = recommendations(&v).expect("recs");
    assert_eq!(recs[0].memory_limit, None, "no annotation: keep the ratio");

    v.metadata.annotations = Some(
        [(
            MEMORY_LIMITS_ANNOTATION.to_owned(),
            "app=1Gi,other=2Gi".to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let recs = recommendations(&v).expect("recs");
    assert_eq!(recs[0].memory_limit, Some(Bytes(1 << 30)));

    v.metadata.annotations = Some(
        [(
            MEMORY_LIMITS_ANNOTATION.to_owned(),
            "app=1Gi,Bad=2Gi".to_owned(),
        )]
        .into_iter()
        .collect(),
    );
    let recs = recommendations(&v).expect("recs");
    assert_eq!(recs[0].memory_limit, None);
}
