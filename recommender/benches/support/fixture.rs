#![allow(dead_code)] // shared by the benchmark and the memory probe; each uses part of it
//! A synthetic cluster for the scale benchmark and the memory probe: `workloads` Deployments with
//! `containers` containers each, one pod per workload, and 30 minutes of 10 s reports per container spread
//! over a dozen CPU and memory levels (a realistic few dozen histogram buckets each).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v1::CrossVersionObjectReference;
use tailor_core::model::{ContainerKey, WorkloadKey, WorkloadKind};
use tailor_core::report::{
    ContainerRef, ContainerReport, CpuSummary, MemorySummary, cpu_bucket_for_millicores,
};
use tailor_core::time::Timestamp;
use tailor_k8s::crd::vpa::{RecommenderSelector, VerticalPodAutoscaler, VerticalPodAutoscalerSpec};
use tailor_recommender::model::{Model, ModelOptions};
use tailor_recommender::pods::{ContainerResources, PodIndex, PodInfo};

pub const T0: i64 = 1_800_000_000_000;

pub fn workload(i: usize) -> WorkloadKey {
    WorkloadKey::new(
        format!("ns-{}", i % 200),
        WorkloadKind::Deployment,
        format!("app-{i}"),
    )
}

pub fn summary(i: usize, c: usize, start_ms: i64, step: usize) -> ContainerReport {
    let level = ((i * 7 + c * 13 + step * 5) % 12) as u64;
    let millicores = 50 + level * 40;
    ContainerReport {
        container: ContainerRef {
            namespace: format!("ns-{}", i % 200),
            pod: format!("app-{i}-0"),
            pod_uid: format!("uid-{i}"),
            container: format!("c{c}"),
            container_id: format!("id-{i}-{c}"),
        },
        interval_start_ms: start_ms,
        interval_end_ms: start_ms + 10_000,
        samples: 10,
        startup: false,
        started_ms: None,
        cpu: CpuSummary {
            usage_usec: millicores * 10_000,
            max_millicores: millicores + 40,
            histogram: BTreeMap::from([
                (cpu_bucket_for_millicores(millicores), 7),
                (cpu_bucket_for_millicores(millicores + 40), 3),
            ]),
            ..CpuSummary::default()
        },
        memory: MemorySummary {
            working_set_peak_bytes: (64 + level * 16) << 20,
            working_set_last_bytes: (60 + level * 16) << 20,
            current_peak_bytes: (80 + level * 16) << 20,
            ..MemorySummary::default()
        },
    }
}

/// Pods spread over `nodes` nodes (`node-0`, `node-1`, ...).
pub fn pods(workloads: usize, containers: usize, nodes: usize) -> PodIndex {
    let mut index = PodIndex::default();
    for i in 0..workloads {
        let info = PodInfo {
            namespace: format!("ns-{}", i % 200),
            name: format!("app-{i}-0"),
            node: Some(format!("node-{}", i % nodes.max(1))),
            owners: vec![],
            workload: Some(workload(i)),
            containers: (0..containers)
                .map(|c| ContainerResources {
                    name: format!("c{c}"),
                    ..ContainerResources::default()
                })
                .collect(),
            finished: false,
        };
        index.insert(format!("uid-{i}"), info);
    }
    index
}

pub fn model(workloads: usize, containers: usize, steps: usize) -> Model {
    let mut model = Model::new(ModelOptions::default());
    for step in 0..steps {
        let start = T0 + (step as i64) * 10_000;
        let now = Timestamp::from_unix_millis(start + 10_000);
        for i in 0..workloads {
            for c in 0..containers {
                let key = ContainerKey::new(workload(i), format!("c{c}"));
                model.apply_container(key, &summary(i, c, start, step), now);
            }
        }
    }
    model
}

pub fn vpas(workloads: usize) -> Vec<VerticalPodAutoscaler> {
    (0..workloads)
        .map(|i| {
            let w = workload(i);
            let mut v = VerticalPodAutoscaler::new(
                &w.name,
                VerticalPodAutoscalerSpec {
                    target_ref: CrossVersionObjectReference {
                        api_version: Some("apps/v1".into()),
                        kind: "Deployment".into(),
                        name: w.name.clone(),
                    },
                    recommenders: vec![RecommenderSelector {
                        name: "tailor".into(),
                    }],
                    ..VerticalPodAutoscalerSpec::default()
                },
            );
            v.metadata.namespace = Some(w.namespace.clone());
            v
        })
        .collect()
}
