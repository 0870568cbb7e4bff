//! The admission webhook per request: AdmissionReview JSON in, serialized response out, exactly as the handler
//! does it (parse, owner walk, VPA lookup among 2 000 VPAs, LimitRange and quota, sizing, JSON patch), against
//! a baseline in the same run that only parses the same review and serializes an "allowed" answer.
//!
//! `cargo bench -p tailor-updater --bench webhook` (or `make bench-webhook`). The ratio mutate/baseline is the
//! webhook's own cost over the unavoidable JSON round trip.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{LimitRange, Pod, ResourceQuota};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tailor_core::plan::PlannerConfig;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_updater::webhook::{ClusterView, WebhookMetrics, WebhookState, review_body};

const VPAS: usize = 2_000;

fn vpa(ns: &str, name: &str) -> VerticalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "updatePolicy": {"updateMode": "InPlaceOrRecreate"},
            "resourcePolicy": {"containerPolicies": [
                {"containerName": "*", "maxAllowed": {"cpu": "4", "memory": "8Gi"}},
                {"containerName": "istio-proxy", "mode": "Off"}
            ]}
        },
        "status": {"recommendation": {"containerRecommendations": [
            {"containerName": "app", "target": {"cpu": "250m", "memory": "300Mi"},
             "lowerBound": {"cpu": "200m", "memory": "250Mi"}, "upperBound": {"cpu": "400m", "memory": "500Mi"}},
            {"containerName": "istio-proxy", "target": {"cpu": "20m", "memory": "64Mi"},
             "lowerBound": {"cpu": "10m", "memory": "50Mi"}, "upperBound": {"cpu": "50m", "memory": "100Mi"}}
        ]}}
    }))
    .expect("vpa")
}

fn state() -> WebhookState {
    let vpas = (0..VPAS)
        .map(|i| vpa(&format!("team-{}", i % 50), &format!("svc-{i}")))
        .chain([vpa("shop", "web")])
        .collect();
    let lr: LimitRange = serde_json::from_value(json!({
        "metadata": {"name": "lr", "namespace": "shop"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "8", "memory": "16Gi"}, "maxLimitRequestRatio": {"cpu": "10"}}]}
    }))
    .expect("limitrange");
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "q", "namespace": "shop"},
        "status": {"hard": {"requests.cpu": "100", "requests.memory": "200Gi"}, "used": {"requests.cpu": "20", "requests.memory": "40Gi"}}
    }))
    .expect("quota");
    let rs = |name: &str, deployment: &str| {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "shop",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment, "uid": "d", "controller": true}]}
        }))
        .expect("replicaset")
    };
    let mut registry = Registry::default();
    WebhookState {
        cluster: ClusterView::from_objects(
            vpas,
            vec![lr],
            vec![quota],
            vec![rs("web-7d4b9c", "web"), rs("api-5f6a7b", "api")],
        ),
        config: PlannerConfig::default(),
        owner_wait: Duration::ZERO,
        metrics: WebhookMetrics::register(&mut registry),
        dry_run: false,
    }
}

/// A review of a typical Deployment pod at creation: an app container and a sidecar, env, probes, volumes.
fn body() -> Vec<u8> {
    let c = |name: &str, cpu: &str, mem: &str| {
        json!({
            "name": name, "image": format!("registry.example/{name}:1.2.3"),
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": (0..8).map(|i| json!({"name": format!("VAR_{i}"), "value": format!("value-{i}")})).collect::<Vec<Value>>(),
            "resources": {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": "2", "memory": "1Gi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
            "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"
        })
    };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop", "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "generateName": "web-7d4b9c-", "namespace": "shop",
                    "labels": {"app": "web", "pod-template-hash": "7d4b9c", "version": "v1"},
                    "annotations": {"prometheus.io/scrape": "true"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c", "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}]
                },
                "spec": {
                    "containers": [c("app", "1", "512Mi"), c("istio-proxy", "100m", "128Mi")],
                    "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                    "serviceAccountName": "web", "schedulerName": "default-scheduler"
                }
            },
            "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    }))
    .expect("json")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let state = state();
    let body = body();
    // The mutating path really mutates (and the baseline does not): check once before timing.
    let out = serde_json::to_value(rt.block_on(review_body(&state, &body))).expect("json");
    assert!(out["response"]["patch"].is_array(), "{out}");

    let mut group = c.benchmark_group("webhook");
    group.bench_function("baseline_parse_and_allow", |b| {
        b.iter(|| {
            let review: AdmissionReview<Pod> =
                serde_json::from_slice(black_box(&body)).expect("review");
            let request: AdmissionRequest<Pod> = review.try_into().expect("request");
            let answer = AdmissionResponse::from(&request).into_review();
            black_box(serde_json::to_vec(&answer).expect("json"))
        });
    });
    group.bench_function("review_mutate", |b| {
        b.iter(|| {
            let answer = rt.block_on(review_body(&state, black_box(&body)));
            black_box(serde_json::to_vec(&answer).expect("json"))
        });
    });
    // The same pod, of a Deployment without a VPA: the common case in a cluster.
    let other = String::from_utf8(body.clone())
        .expect("utf8")
        .replace("web-7d4b9c", "api-5f6a7b")
        .into_bytes();
    let out = serde_json::to_value(rt.block_on(review_body(&state, &other))).expect("json");
    assert!(out["response"].get("patch").is_none(), "{out}");
    group.bench_function("review_no_vpa", |b| {
        b.iter(|| {
            let answer = rt.block_on(review_body(&state, black_box(&other)));
            black_box(serde_json::to_vec(&answer).expect("json"))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
