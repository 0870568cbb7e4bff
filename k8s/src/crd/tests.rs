use serde_json::json;

use super::vpa::*;
use super::*;

/// A VPA using every field the upstream v1 CRD defines, as a user would write it.
fn full_upstream_vpa() -> serde_json::Value {
    json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "generation": 3},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "updatePolicy": {
                "updateMode": "InPlaceOrRecreate",
                "minReplicas": 2,
                "evictionRequirements": [
                    {"resources": ["cpu", "memory"], "changeRequirement": "TargetHigherThanRequests"}
                ],
                "evictAfterOOMSeconds": 600
            },
            "resourcePolicy": {"containerPolicies": [
                {"containerName": "*", "mode": "Off"},
                {"containerName": "app", "mode": "Auto",
                 "minAllowed": {"cpu": "50m", "memory": "64Mi"},
                 "maxAllowed": {"cpu": 2, "memory": "4Gi"},
                 "controlledResources": ["cpu"],
                 "controlledValues": "RequestsOnly",
                 "oomBumpUpRatio": "1.5", "oomMinBumpUp": "200Mi",
                 "startupBoost": {"cpu": {"type": "Quantity", "quantity": "2", "durationSeconds": 30}}}
            ]},
            "recommenders": [{"name": "tailor"}],
            "startupBoost": {"cpu": {"type": "Factor", "factor": 3}}
        },
        "status": {
            "observedGeneration": 3,
            "recommendation": {"containerRecommendations": [{
                "containerName": "app",
                "target": {"cpu": "250m", "memory": "262144k"},
                "lowerBound": {"cpu": "100m", "memory": "200Mi"},
                "upperBound": {"cpu": "1", "memory": "1Gi"},
                "uncappedTarget": {"cpu": "250m", "memory": "262144k"}
            }]},
            "conditions": [{"type": "RecommendationProvided", "status": "True",
                            "lastTransitionTime": "2026-11-23T03:00:00Z", "reason": "", "message": ""}]
        }
    })
}

#[test]
fn reads_every_upstream_field() {
    let vpa: VerticalPodAutoscaler = serde_json::from_value(full_upstream_vpa()).expect("parses");
    assert_eq!(vpa.spec.target_ref.kind, "Deployment");
    assert_eq!(vpa.update_mode(), UpdateMode::InPlaceOrRecreate);
    let policy = vpa.container_policy("app").expect("app policy");
    assert!(!policy.is_off());
    assert!(policy.controls("cpu") && !policy.controls("memory"));
    assert_eq!(policy.values(), ControlledValues::RequestsOnly);
    assert!(vpa.container_policy("sidecar").expect("wildcard").is_off());
    let boost = vpa
        .spec
        .startup_boost
        .as_ref()
        .and_then(|b| b.cpu.as_ref())
        .expect("boost");
    assert_eq!(
        (boost.type_, boost.factor),
        (StartupBoostType::Factor, Some(3))
    );
    let status = vpa.status.as_ref().expect("status");
    assert_eq!(status.observed_generation, Some(3));
    assert!(
        status
            .condition(condition::RECOMMENDATION_PROVIDED)
            .is_some()
    );
    let rec = &status
        .recommendation
        .as_ref()
        .expect("rec")
        .container_recommendations[0];
    assert_eq!(rec.target["cpu"].0, "250m");
}

#[test]
fn round_trips_without_losing_fields() {
    let original = full_upstream_vpa();
    let vpa: VerticalPodAutoscaler = serde_json::from_value(original.clone()).expect("parses");
    let back = serde_json::to_value(&vpa).expect("serializes");
    // Quantities keep their text; a number (`"cpu": 2`) is the one form that comes back as a string.
    let mut expected = original;
    expected["spec"]["resourcePolicy"]["containerPolicies"][1]["maxAllowed"]["cpu"] = json!("2");
    assert_eq!(back, expected);
}

#[test]
fn tolerates_values_from_a_newer_upstream() {
    let mut value = full_upstream_vpa();
    value["spec"]["updatePolicy"]["updateMode"] = json!("SomethingNew");
    value["spec"]["resourcePolicy"]["containerPolicies"][1]["controlledValues"] = json!("Whatever");
    value["spec"]["startupBoost"]["cpu"]["type"] = json!("Percent");
    value["spec"]["someNewField"] = json!({"x": 1});
    let vpa: VerticalPodAutoscaler = serde_json::from_value(value).expect("parses");
    assert_eq!(vpa.update_mode(), UpdateMode::Unknown);
    assert_eq!(
        vpa.container_policy("app").map(|p| p.values()),
        Some(ControlledValues::Unknown)
    );
}

#[test]
fn minimal_vpa_defaults() {
    let vpa: VerticalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "a", "namespace": "b"},
        "spec": {"targetRef": {"kind": "StatefulSet", "name": "db"}}
    }))
    .expect("parses");
    assert_eq!(vpa.update_mode(), UpdateMode::Recreate);
    assert!(vpa.container_policy("x").is_none());
    assert!(vpa.status.is_none());
    assert!(vpa.is_served_by("tailor", true));
    assert!(!vpa.is_served_by("tailor", false));
}

#[test]
fn throttled_containers_come_only_from_a_true_cpu_throttled_condition() {
    let with = |status: &str| -> VerticalPodAutoscaler {
        serde_json::from_value(json!({
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "a", "namespace": "b"},
            "spec": {"targetRef": {"kind": "StatefulSet", "name": "db"}},
            "status": {"conditions": [{"type": "CPUThrottled", "status": status, "message":
                "throttled in 10% or more of CFS periods over recent hours: app 40%"}]}
        }))
        .expect("parses")
    };
    let named = with("True").throttled_containers();
    assert_eq!(named.len(), 1);
    assert_eq!((named[0].container.as_str(), named[0].percent), ("app", 40));
    assert!(with("False").throttled_containers().is_empty());
    assert!(with("Unknown").throttled_containers().is_empty());
}

#[test]
fn recommender_selection() {
    let mut vpa: VerticalPodAutoscaler =
        serde_json::from_value(full_upstream_vpa()).expect("parses");
    assert!(vpa.is_served_by("tailor", false));
    assert!(!vpa.is_served_by("default", true));
    vpa.spec.recommenders = vec![RecommenderSelector {
        name: "default".into(),
    }];
    assert!(!vpa.is_served_by("tailor", true));
}

#[test]
fn reads_an_upstream_checkpoint() {
    let cp: VerticalPodAutoscalerCheckpoint = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscalerCheckpoint",
        "metadata": {"name": "web-app", "namespace": "shop"},
        "spec": {"vpaObjectName": "web", "containerName": "app"},
        "status": {
            "lastUpdateTime": "2026-11-22T10:00:00Z", "version": "v3",
            "cpuHistogram": {"referenceTimestamp": "2026-11-22T00:00:00Z",
                             "bucketWeights": {"3": 10000, "10": 512, "bad": 7}, "totalWeight": 12.5},
            "memoryHistogram": {"referenceTimestamp": null, "totalWeight": 0},
            "firstSampleStart": "2026-11-15T10:00:00Z", "lastSampleStart": "2026-11-22T09:59:00Z",
            "totalSamplesCount": 10080
        }
    }))
    .expect("parses");
    let status = cp.status.expect("status");
    assert_eq!(
        status.version.as_deref(),
        Some(checkpoint::SUPPORTED_CHECKPOINT_VERSION)
    );
    let (buckets, skipped) = status.cpu_histogram.expect("cpu").buckets();
    assert_eq!(
        buckets.into_iter().collect::<Vec<_>>(),
        vec![(3, 10000), (10, 512)]
    );
    assert_eq!(skipped, 1);
    assert!(
        status
            .memory_histogram
            .expect("mem")
            .bucket_weights
            .is_empty()
    );
}

#[test]
fn manifests_parse_back_to_the_crd_objects() {
    for manifest in manifests().expect("render") {
        let parsed: serde_json::Value = serde_yaml::from_str(&manifest.yaml).expect("valid YAML");
        assert_eq!(
            parsed["kind"], "CustomResourceDefinition",
            "{}",
            manifest.file_name
        );
        assert_eq!(parsed["spec"]["group"], "autoscaling.k8s.io");
        let version = &parsed["spec"]["versions"][0];
        assert_eq!(version["name"], "v1");
        assert!(version["schema"]["openAPIV3Schema"]["properties"]["spec"].is_object());
    }
}

#[test]
fn vpa_manifest_matches_upstream_shape() {
    let yaml = &manifests().expect("render")[0].yaml;
    let crd: serde_json::Value = serde_yaml::from_str(yaml).expect("yaml");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let modes = &spec["properties"]["updatePolicy"]["properties"]["updateMode"]["enum"];
    assert_eq!(
        modes,
        &json!([
            "Off",
            "Initial",
            "Recreate",
            "InPlaceOrRecreate",
            "InPlace",
            "Auto"
        ])
    );
    assert_eq!(spec["required"], json!(["targetRef"]));
    assert!(
        !yaml.contains("nullable"),
        "upstream's VPA schema has no nullable fields"
    );
    assert!(
        yaml.contains("- \"Off\""),
        "Off must be quoted for YAML 1.1 readers"
    );
    let status = &crd["spec"]["versions"][0]["subresources"]["status"];
    assert!(status.is_object(), "status subresource enabled");
}
