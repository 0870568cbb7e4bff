//! `tailor report` at cluster scale: 2 000 Deployments (one VPA each) × 10 replicas × 2 containers = 20 000 pods
//! and 4 000 report rows, half of the workloads with a checkpoint. Timed:
//! - `pod_facts` (baseline): only reading every pod's requests, limits and OOM state, the least any report does;
//! - `assemble`: the whole report (owner resolution, matching, savings, flags, checkpoint decoding, totals);
//! - `table`, `json`, `csv`: rendering the assembled report.
//!
//! Run: `cargo bench -p tailor-cli --bench report`; compare `assemble` with `pod_facts` from the same run.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;
use tailor_cli::assemble::{Options, OwnerIndex, Snapshot, assemble};
use tailor_cli::pod_facts::pod_facts;
use tailor_cli::render::{OutputFormat, render};
use tailor_core::model::{AggregateConfig, AggregateState, WorkloadKey, WorkloadKind};
use tailor_core::time::Timestamp;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_recommender::checkpoint::{FORMAT_VERSION, StoredContainer, configmap_name};

const WORKLOADS: usize = 2_000;
const REPLICAS: usize = 10;
const NOW_MS: i64 = 1_795_413_600_000;

fn owner(kind: &str, name: &str) -> serde_json::Value {
    json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": format!("uid-{name}"), "controller": true}])
}

fn pod(w: usize, r: usize) -> Pod {
    let oom = if r == 0 {
        json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-11-23T05:50:00Z"}})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "metadata": {"name": format!("w{w}-rs-{r}"), "namespace": format!("ns{}", w % 20),
                     "uid": format!("uid-{w}-{r}"), "ownerReferences": owner("ReplicaSet", &format!("w{w}-rs"))},
        "spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                          "limits": {"cpu": "1", "memory": "1Gi"}}},
            {"name": "proxy", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}
        ]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "image": "i", "imageID": "", "ready": true, "restartCount": 1, "lastState": oom,
             "resources": {"requests": {"cpu": "400m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}},
            {"name": "proxy", "image": "i", "imageID": "", "ready": true, "restartCount": 0}
        ]}
    }))
    .expect("pod")
}

fn vpa(w: usize) -> VerticalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": format!("w{w}"), "namespace": format!("ns{}", w % 20)},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("w{w}")},
                 "updatePolicy": {"updateMode": "InPlace"}},
        "status": {"recommendation": {"containerRecommendations": [
            {"containerName": "app", "target": {"cpu": "120m", "memory": "300Mi"},
             "lowerBound": {"cpu": "100m", "memory": "250Mi"}, "upperBound": {"cpu": "400m", "memory": "600Mi"}},
            {"containerName": "proxy", "target": {"cpu": "25m", "memory": "80Mi"}}]}}
    }))
    .expect("vpa")
}

fn checkpoint(w: usize) -> ConfigMap {
    let workload = WorkloadKey::new(
        format!("ns{}", w % 20),
        WorkloadKind::Deployment,
        format!("w{w}"),
    );
    let aggregate = AggregateState::new(
        &AggregateConfig::upstream(),
        Timestamp::from_unix_millis(NOW_MS),
    )
    .to_checkpoint();
    let data = ["app", "proxy"].map(|c| {
        let stored = StoredContainer {
            version: FORMAT_VERSION,
            workload: workload.clone(),
            container: c.into(),
            written_ms: NOW_MS,
            aggregate: aggregate.clone(),
        };
        (
            format!("{c}.json"),
            serde_json::to_string(&stored).expect("json"),
        )
    });
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(configmap_name(&workload));
    cm.data = Some(BTreeMap::from(data));
    cm
}

fn snapshot() -> Snapshot {
    let mut owners = OwnerIndex::default();
    for w in 0..WORKLOADS {
        owners.insert(
            "ReplicaSet",
            &format!("ns{}", w % 20),
            &format!("w{w}-rs"),
            serde_json::from_value(owner("Deployment", &format!("w{w}"))).expect("refs"),
        );
    }
    Snapshot {
        vpas: (0..WORKLOADS).map(vpa).collect(),
        pods: (0..WORKLOADS)
            .flat_map(|w| (0..REPLICAS).map(move |r| pod(w, r)))
            .collect(),
        owners,
        checkpoints: (0..WORKLOADS).step_by(2).map(checkpoint).collect(),
        warnings: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let snapshot = snapshot();
    let options = Options {
        now: Timestamp::from_unix_millis(NOW_MS),
        oom_window: Duration::from_secs(3600),
    };
    let report = assemble(&snapshot, options);
    assert_eq!(report.rows.len(), WORKLOADS * 2);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let mut group = c.benchmark_group("report_20k_pods");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements((WORKLOADS * REPLICAS) as u64));
    group.bench_function("pod_facts", |b| {
        b.iter(|| snapshot.pods.iter().filter_map(pod_facts).count());
    });
    group.bench_function("assemble", |b| b.iter(|| assemble(&snapshot, options)));
    for (name, format) in [
        ("table", OutputFormat::Table),
        ("json", OutputFormat::Json),
        ("csv", OutputFormat::Csv),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| render(&report, format).map(|s| s.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
