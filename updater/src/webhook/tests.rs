//! The webhook without an API server: a decision table of pods at creation against VPAs (each patch is applied
//! to the pod JSON and the result read back), whole reviews through the handler, and property tests that no
//! body — malformed, truncated or hostile — makes it refuse a pod or panic.

use std::time::Duration;

use k8s_openapi::api::core::v1::{LimitRange, Pod, ResourceQuota};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionReview;
use proptest::prelude::*;
use serde_json::{Value, json};
use tailor_core::plan::PlannerConfig;
use tailor_core::time::Timestamp;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

use super::lookup::ClusterView;
use super::metrics::WebhookMetrics;
use super::mutate::{ADMISSION_ANNOTATION, Namespace, Outcome, Unchanged, mutate};
use super::server::{WebhookState, review};

/// When the reviewed pods are created.
pub(super) const NOW_MS: i64 = 1_780_000_000_000;

pub(super) fn container(name: &str, resources: Value) -> Value {
    json!({"name": name, "image": "x", "resources": resources})
}

/// A pod as the API server sends it for CREATE: generateName only, no status.
pub(super) fn pod_json(containers: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": "web-abc-", "namespace": "ns",
            "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "rs", "controller": true}]
        },
        "spec": {"containers": containers}
    })
}

pub(super) fn burstable() -> Value {
    json!({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}})
}

pub(super) fn vpa_json(mode: &str, policies: Value, recs: Value) -> Value {
    json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "ns", "uid": "vpa-uid", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "updatePolicy": {"updateMode": mode},
            "resourcePolicy": {"containerPolicies": policies}
        },
        "status": {"recommendation": {"containerRecommendations": recs}}
    })
}

pub(super) fn rec(name: &str, cpu: &str, memory: &str) -> Value {
    json!({"containerName": name, "target": {"cpu": cpu, "memory": memory},
           "lowerBound": {"cpu": cpu, "memory": memory}, "upperBound": {"cpu": cpu, "memory": memory}})
}

pub(super) fn vpa(mode: &str, policies: Value, recs: Value) -> VerticalPodAutoscaler {
    serde_json::from_value(vpa_json(mode, policies, recs)).expect("vpa")
}

pub(super) fn run(pod: &Value, vpa: &VerticalPodAutoscaler, ns: &Namespace) -> Outcome {
    let pod: Pod = serde_json::from_value(pod.clone()).expect("pod");
    mutate(
        &pod,
        "ns/Deployment/web".to_owned(),
        vpa,
        ns,
        &PlannerConfig::default(),
        Timestamp::from_unix_millis(NOW_MS),
    )
}

/// The pod after the webhook's patch, or the reason it is unchanged.
pub(super) fn admitted(
    pod: &Value,
    vpa: &VerticalPodAutoscaler,
    ns: &Namespace,
) -> Result<Value, &'static str> {
    match run(pod, vpa, ns) {
        Outcome::Mutated(m) => {
            let mut doc = pod.clone();
            json_patch::patch(&mut doc, &m.patch.0).expect("the patch applies to the pod");
            // And the result is still a pod.
            let _: Pod = serde_json::from_value(doc.clone()).expect("patched pod parses");
            Ok(doc)
        }
        Outcome::Unchanged(why) => Err(why.as_str()),
    }
}

pub(super) fn res(doc: &Value, list: &str, i: usize) -> Value {
    doc["spec"][list][i]["resources"].clone()
}

pub(super) fn none() -> Namespace {
    Namespace::default()
}

#[test]
fn burstable_requests_follow_the_target_and_limits_keep_their_ratio() {
    let pod = pod_json(vec![container("app", burstable())]);
    let v = vpa("InPlace", json!([]), json!([rec("app", "250m", "128Mi")]));
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    let note = doc["metadata"]["annotations"][ADMISSION_ANNOTATION]
        .as_str()
        .expect("annotation");
    assert!(
        note.starts_with("vpa web: app: cpu 500m/1 -> 250m/500m"),
        "{note}"
    );
}

#[test]
fn every_mode_but_off_applies_at_creation() {
    let pod = pod_json(vec![container("app", burstable())]);
    for mode in [
        "Initial",
        "Recreate",
        "Auto",
        "InPlace",
        "InPlaceOrRecreate",
    ] {
        let v = vpa(mode, json!([]), json!([rec("app", "250m", "128Mi")]));
        assert!(admitted(&pod, &v, &none()).is_ok(), "{mode}");
    }
    let v = vpa("Off", json!([]), json!([rec("app", "250m", "128Mi")]));
    assert_eq!(admitted(&pod, &v, &none()), Err("mode_off"));
    let v = vpa("Sideways", json!([]), json!([rec("app", "250m", "128Mi")]));
    assert_eq!(admitted(&pod, &v, &none()), Err("unknown_mode"));
}

#[test]
fn requests_only_keeps_limits_and_caps_the_request_at_the_limit() {
    let pod = pod_json(vec![container("app", burstable())]);
    let policy = json!([{"containerName": "*", "controlledValues": "RequestsOnly"}]);
    let v = vpa(
        "Initial",
        policy.clone(),
        json!([rec("app", "250m", "128Mi")]),
    );
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}})
    );
    // The request never exceeds the limit. (2 cpu against a 1 cpu limit; memory equal to the limit would make
    // every value request == limit, so it stays below.)
    let v = vpa("Initial", policy, json!([rec("app", "2", "300Mi")]));
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "1", "memory": "300Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}})
    );
}

#[test]
fn guaranteed_moves_request_and_limit_together_and_stays_guaranteed() {
    let g = json!({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}});
    let pod = pod_json(vec![container("app", g)]);
    let v = vpa("InPlace", json!([]), json!([rec("app", "250m", "128Mi")]));
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}})
    );
    // RequestsOnly cannot keep request == limit: left alone rather than demoted to Burstable.
    let policy = json!([{"containerName": "app", "controlledValues": "RequestsOnly"}]);
    let v = vpa("InPlace", policy, json!([rec("app", "250m", "128Mi")]));
    assert_eq!(admitted(&pod, &v, &none()), Err("qos_would_change"));
}

#[test]
fn burstable_never_becomes_guaranteed() {
    // Request-only pod whose limits equal the target: setting requests to the target would make it Guaranteed.
    let r = json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}});
    let pod = pod_json(vec![container("app", r)]);
    let policy = json!([{"containerName": "app", "controlledValues": "RequestsOnly"}]);
    let v = vpa("InPlace", policy, json!([rec("app", "250m", "128Mi")]));
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    let out: Pod = serde_json::from_value(doc).expect("pod");
    let c = &out.spec.expect("spec").containers[0];
    let r = c.resources.as_ref().expect("resources");
    let (req, lim) = (
        r.requests.as_ref().expect("requests"),
        r.limits.as_ref().expect("limits"),
    );
    assert!(
        req["cpu"] != lim["cpu"] || req["memory"] != lim["memory"],
        "{req:?} {lim:?}"
    );
}

#[test]
fn best_effort_pods_and_pods_without_recommendation_are_left_alone() {
    let pod = pod_json(vec![container("app", json!({}))]);
    let v = vpa("InPlace", json!([]), json!([rec("app", "250m", "128Mi")]));
    assert_eq!(admitted(&pod, &v, &none()), Err("best_effort"));
    let pod = pod_json(vec![container("app", burstable())]);
    let v: VerticalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    }))
    .expect("vpa");
    assert_eq!(admitted(&pod, &v, &none()), Err("no_recommendation"));
    // Already at the recommended size.
    let v = vpa("InPlace", json!([]), json!([rec("app", "500m", "256Mi")]));
    assert_eq!(admitted(&pod, &v, &none()), Err("in_sync"));
}

#[test]
fn container_mode_off_and_controlled_resources_are_honoured() {
    let pod = pod_json(vec![
        container("app", burstable()),
        container("sidecar", burstable()),
    ]);
    let policy = json!([
        {"containerName": "sidecar", "mode": "Off"},
        {"containerName": "app", "controlledResources": ["cpu"]}
    ]);
    let recs = json!([rec("app", "250m", "128Mi"), rec("sidecar", "100m", "64Mi")]);
    let doc = admitted(&pod, &vpa("InPlace", policy, recs), &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}})
    );
    assert_eq!(res(&doc, "containers", 1), burstable());
}

#[test]
fn min_and_max_allowed_clamp_the_target() {
    let pod = pod_json(vec![container("app", burstable())]);
    let policy = json!([{"containerName": "*", "maxAllowed": {"cpu": "200m"}, "minAllowed": {"memory": "300Mi"}}]);
    let v = vpa("Initial", policy, json!([rec("app", "250m", "128Mi")]));
    let doc = admitted(&pod, &v, &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "200m", "memory": "300Mi"}, "limits": {"cpu": "400m", "memory": "600Mi"}})
    );
}

#[test]
fn limit_range_max_clamps_requests_and_limits() {
    let lr: LimitRange = serde_json::from_value(json!({
        "metadata": {"name": "lr", "namespace": "ns"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "700m", "memory": "1Gi"}}]}
    }))
    .expect("limitrange");
    let ns = Namespace {
        limit_range: crate::convert::cluster::limit_range([&lr]),
        quota: None,
    };
    let pod = pod_json(vec![container("app", burstable())]);
    let v = vpa("InPlace", json!([]), json!([rec("app", "600m", "128Mi")]));
    let doc = admitted(&pod, &v, &ns).expect("mutated");
    // 1 cpu limit × 600/500 = 1200m, clamped to the 700m maximum.
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "600m", "memory": "128Mi"}, "limits": {"cpu": "700m", "memory": "256Mi"}})
    );
}

#[test]
fn an_increase_is_cut_to_the_namespace_quota() {
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "q", "namespace": "ns"},
        "spec": {"hard": {"requests.cpu": "1"}},
        "status": {"hard": {"requests.cpu": "1"}, "used": {"requests.cpu": "700m"}}
    }))
    .expect("quota");
    let ns = Namespace {
        limit_range: None,
        quota: crate::convert::cluster::quota_room([&quota]),
    };
    let r = json!({"requests": {"cpu": "100m", "memory": "64Mi"}});
    let pod = pod_json(vec![container("app", r)]);
    let v = vpa("InPlace", json!([]), json!([rec("app", "500m", "64Mi")]));
    let doc = admitted(&pod, &v, &ns).expect("mutated");
    // 300m free: the new pod may ask for all of it, not more (the quota would refuse the pod).
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "300m", "memory": "64Mi"}})
    );
}

#[test]
fn other_resources_native_sidecars_and_existing_annotations_survive() {
    let mut pod = pod_json(vec![container(
        "app",
        json!({"requests": {"cpu": "500m", "ephemeral-storage": "1Gi"}}),
    )]);
    pod["metadata"]["annotations"] = json!({"keep": "me"});
    pod["spec"]["initContainers"] = json!([
        {"name": "init", "image": "x", "resources": {"requests": {"cpu": "1"}}},
        {"name": "proxy", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}}
    ]);
    let recs = json!([
        rec("app", "250m", "128Mi"),
        rec("init", "10m", "8Mi"),
        rec("proxy", "50m", "32Mi")
    ]);
    let doc = admitted(&pod, &vpa("InPlace", json!([]), recs), &none()).expect("mutated");
    assert_eq!(
        res(&doc, "containers", 0),
        json!({"requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "1Gi"}})
    );
    assert_eq!(
        res(&doc, "initContainers", 0),
        json!({"requests": {"cpu": "1"}}),
        "regular init containers are never sized"
    );
    assert_eq!(
        res(&doc, "initContainers", 1),
        json!({"requests": {"cpu": "50m", "memory": "32Mi"}})
    );
    assert_eq!(doc["metadata"]["annotations"]["keep"], "me");
    assert!(doc["metadata"]["annotations"][ADMISSION_ANNOTATION].is_string());
}

#[test]
fn pods_owned_by_another_writer_or_with_pod_level_resources_are_left_alone() {
    let v = vpa("InPlace", json!([]), json!([rec("app", "250m", "128Mi")]));
    let mut pod = pod_json(vec![container("app", burstable())]);
    pod["metadata"]["labels"]["autoscaling.x-k8s.io/startup-cpu-boost"] = json!("boost");
    assert_eq!(admitted(&pod, &v, &none()), Err("other_writer"));
    let mut pod = pod_json(vec![container("app", burstable())]);
    pod["spec"]["resources"] = json!({"requests": {"cpu": "1"}});
    assert_eq!(admitted(&pod, &v, &none()), Err("pod_level_resources"));
}

// === whole reviews through the handler ===

fn replica_set() -> kube::core::PartialObjectMeta<k8s_openapi::api::apps::v1::ReplicaSet> {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-abc", "namespace": "ns",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d", "controller": true}]}
    }))
    .expect("replicaset metadata")
}

fn state(vpas: Vec<VerticalPodAutoscaler>) -> WebhookState {
    state_with(vpas, &mut prometheus_client::registry::Registry::default())
}

fn state_with(
    vpas: Vec<VerticalPodAutoscaler>,
    registry: &mut prometheus_client::registry::Registry,
) -> WebhookState {
    WebhookState {
        cluster: ClusterView::from_objects(vpas, vec![], vec![], vec![replica_set()]),
        config: PlannerConfig::default(),
        owner_wait: Duration::from_millis(50),
        metrics: WebhookMetrics::register(registry),
        dry_run: false,
    }
}

fn review_json(uid: &str, pod: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "ns", "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod
        }
    }))
    .expect("json")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn answer(state: &WebhookState, body: &[u8]) -> Value {
    let out: AdmissionReview<DynamicObject> = block_on(review(state, body));
    serde_json::to_value(out).expect("serializes")
}

#[test]
fn a_review_for_a_covered_pod_comes_back_allowed_with_a_json_patch() {
    let s = state(vec![vpa(
        "Initial",
        json!([]),
        json!([rec("app", "250m", "128Mi")]),
    )]);
    let body = review_json("u-1", pod_json(vec![container("app", burstable())]));
    let out = answer(&s, &body);
    let r = &out["response"];
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(r["uid"], "u-1");
    assert_eq!(r["allowed"], true);
    assert_eq!(r["patchType"], "JSONPatch");
    // kube's type sends the patch bytes as a JSON array of numbers, which the API server's decoder takes for
    // `[]byte` as well as base64 (the end-to-end test shows it applied).
    let bytes: Vec<u8> = serde_json::from_value(r["patch"].clone()).expect("patch bytes");
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("a JSON patch");
    let mut pod = pod_json(vec![container("app", burstable())]);
    json_patch::patch(&mut pod, &patch.0).expect("applies");
    assert_eq!(
        pod["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "250m"
    );
}

#[test]
fn a_dry_run_decides_and_counts_but_patches_nothing() {
    let mut registry = prometheus_client::registry::Registry::default();
    let mut s = state_with(
        vec![vpa(
            "Initial",
            json!([]),
            json!([rec("app", "250m", "128Mi")]),
        )],
        &mut registry,
    );
    s.dry_run = true;
    let out = answer(
        &s,
        &review_json("u-5", pod_json(vec![container("app", burstable())])),
    );
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"].get("patch").is_none());
    s.dry_run = false;
    let _ = answer(&s, &b"{"[..]);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    for line in [
        r#"tailor_updater_webhook_reviews_total{outcome="would_mutate",reason="recommendation"} 1"#,
        r#"tailor_updater_webhook_reviews_total{outcome="error",reason="unreadable"} 1"#,
        "tailor_updater_webhook_review_duration_seconds_count 2",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[test]
fn a_pod_without_vpa_or_with_an_unknown_owner_is_allowed_unchanged() {
    let s = state(vec![]);
    let out = answer(
        &s,
        &review_json("u-2", pod_json(vec![container("app", burstable())])),
    );
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"].get("patch").is_none());
    let s = state(vec![vpa(
        "Initial",
        json!([]),
        json!([rec("app", "250m", "128Mi")]),
    )]);
    let mut pod = pod_json(vec![container("app", burstable())]);
    pod["metadata"]["ownerReferences"][0]["name"] = json!("not-yet-watched");
    let started = std::time::Instant::now();
    let out = answer(&s, &review_json("u-3", pod));
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"].get("patch").is_none());
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "waited for the owner watch"
    );
}

#[test]
fn garbage_is_allowed_and_a_readable_uid_is_echoed() {
    let s = state(vec![]);
    let out = answer(&s, b"{\"request\": {\"uid\": \"u-9\", \"kind\": 7}}");
    assert_eq!(out["response"]["uid"], "u-9");
    assert_eq!(out["response"]["allowed"], true);
    let out = answer(&s, b"\xff\x00 not json");
    assert_eq!(out["response"]["allowed"], true);
    // A pod UPDATE (the webhook is registered for CREATE only) is answered, untouched.
    let mut body: Value =
        serde_json::from_slice(&review_json("u-4", pod_json(vec![]))).expect("json");
    body["request"]["operation"] = json!("UPDATE");
    let out = answer(&s, &serde_json::to_vec(&body).expect("json"));
    assert_eq!(out["response"]["uid"], "u-4");
    assert_eq!(out["response"]["allowed"], true);
    assert!(out["response"].get("patch").is_none());
}

/// Arbitrary JSON of bounded depth.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9./:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_allowed(out: &Value) -> Result<(), TestCaseError> {
    prop_assert_eq!(&out["response"]["allowed"], &json!(true), "{}", out);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_allowed(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let s = state(vec![]);
        assert_allowed(&answer(&s, &body))?;
    }

    #[test]
    fn a_valid_review_with_any_field_replaced_is_allowed(
        path in prop::sample::select(vec![
            "/request", "/request/kind", "/request/operation", "/request/object",
            "/request/object/spec", "/request/object/spec/containers", "/request/object/spec/containers/0",
            "/request/object/spec/containers/0/resources", "/request/object/spec/containers/0/resources/requests",
            "/request/object/spec/containers/0/resources/requests/cpu", "/request/object/metadata",
            "/request/object/metadata/ownerReferences", "/request/object/metadata/annotations",
            "/request/namespace", "/request/uid",
        ]),
        value in any_json(),
        cut in 0usize..2048,
    ) {
        let s = state(vec![vpa("InPlace", json!([]), json!([rec("app", "250m", "128Mi")]))]);
        let mut body: Value = serde_json::from_slice(&review_json("u", pod_json(vec![container("app", burstable())])))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some(slot) = body.pointer_mut(path) {
            *slot = value;
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_allowed(&answer(&s, &bytes))?;
        // Truncated anywhere: still allowed.
        assert_allowed(&answer(&s, &bytes[..cut.min(bytes.len())]))?;
    }

    #[test]
    fn any_recommendation_and_requests_give_a_patch_that_applies_or_nothing(
        cpu_req in 0i64..5000, cpu_lim_extra in prop::option::of(0i64..5000),
        mem_req in 1i64..4096, mem_lim_extra in prop::option::of(0i64..4096),
        cpu_t in 0i64..10_000, mem_t in 1i64..8192,
        values in prop::sample::select(vec!["RequestsAndLimits", "RequestsOnly"]),
        boost in prop::option::of(1u32..5),
    ) {
        let mut r = json!({"requests": {"cpu": format!("{cpu_req}m"), "memory": format!("{mem_req}Mi")}});
        if let Some(x) = cpu_lim_extra { r["limits"]["cpu"] = json!(format!("{}m", cpu_req + x)); }
        if let Some(x) = mem_lim_extra { r["limits"]["memory"] = json!(format!("{}Mi", mem_req + x)); }
        let pod = pod_json(vec![container("app", r)]);
        let policy = json!([{"containerName": "*", "controlledValues": values}]);
        let mut v = vpa_json("InPlace", policy, json!([rec("app", &format!("{cpu_t}m"), &format!("{mem_t}Mi"))]));
        if let Some(f) = boost {
            v["spec"]["startupBoost"] = json!({"cpu": {"type": "Factor", "factor": f, "durationSeconds": 10}});
        }
        let v: VerticalPodAutoscaler = serde_json::from_value(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let before: Pod = serde_json::from_value(pod.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Ok(doc) = admitted(&pod, &v, &none()) {
            let after: Pod = serde_json::from_value(doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let reqs = |p: &Pod| {
                let c = &p.spec.as_ref().map(|s| s.containers.clone()).unwrap_or_default()[0];
                let r = c.resources.clone().unwrap_or_default();
                (crate::convert::quantity::values(r.requests.as_ref()), crate::convert::quantity::values(r.limits.as_ref()))
            };
            let qos = |p: &Pod| {
                let (req, lim) = reqs(p);
                tailor_core::plan::compute_qos([&tailor_core::plan::Requirements { requests: req, limits: lim }])
            };
            prop_assert_eq!(qos(&before), qos(&after));
            let (req, lim) = reqs(&after);
            for r in tailor_core::plan::Resource::ALL {
                if let (Some(q), Some(l)) = (req.get(r), lim.get(r)) {
                    prop_assert!(q <= l, "request {} above limit {}", q, l);
                }
            }
        }
    }
}

#[test]
fn unknown_reason_labels_are_bounded() {
    for u in [
        Unchanged::NoVpa,
        Unchanged::UnknownOwner,
        Unchanged::UnknownMode,
    ] {
        assert!(!u.as_str().is_empty());
    }
}
