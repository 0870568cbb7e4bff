//! The report as a pure function of what was read from the cluster (VPAs, pods, the owners between them,
//! Tailor's checkpoints) and `now`. No I/O here, so every rule is unit-tested on plain objects.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use tailor_core::estimate::MEMORY_LIMITS_ANNOTATION;
use tailor_core::model::{AggregateCheckpoint, ContainerKey, WorkloadKey, WorkloadKind};
use tailor_core::quantity::Bytes;
use tailor_core::time::Timestamp;
use tailor_k8s::crd::vpa::{
    RecommendedContainerResources, ResourceList, VerticalPodAutoscaler, condition,
};
use tailor_k8s::owner::{OwnerLookup, resolve_workload};
use tailor_k8s::quantity::{CPU, MEMORY, parse_resources};
use tailor_recommender::recommend::target_workload;

use crate::pod_facts::{ContainerFacts, PodFacts, is_recent, pod_facts};
use crate::report::{Flag, History, Report, Row};
use crate::savings::{Recommended, resource_row, totals};

/// Owner references of the ReplicaSets and Jobs in scope, keyed by (kind, namespace, name): what owner
/// resolution needs to walk pod → ReplicaSet → Deployment and pod → Job → CronJob.
#[derive(Debug, Clone, Default)]
pub struct OwnerIndex(HashMap<(String, String, String), Vec<OwnerReference>>);

impl OwnerIndex {
    /// Records the owner references of `kind` `namespace`/`name`.
    pub fn insert(&mut self, kind: &str, namespace: &str, name: &str, refs: Vec<OwnerReference>) {
        self.0.insert(
            (kind.to_owned(), namespace.to_owned(), name.to_owned()),
            refs,
        );
    }
}

impl OwnerLookup for OwnerIndex {
    fn owner_references(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Vec<OwnerReference>> {
        self.0
            .get(&(kind.to_owned(), namespace.to_owned(), name.to_owned()))
            .cloned()
    }
}

/// Everything the report is made from.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The VPAs in scope.
    pub vpas: Vec<VerticalPodAutoscaler>,
    /// The pods in scope.
    pub pods: Vec<Pod>,
    /// Intermediate owners.
    pub owners: OwnerIndex,
    /// Tailor's checkpoint ConfigMaps (may be empty when not readable).
    pub checkpoints: Vec<ConfigMap>,
    /// Problems met while reading.
    pub warnings: Vec<String>,
}

/// Settings of the assembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The time the report is for.
    pub now: Timestamp,
    /// How far back an OOM kill counts as recent.
    pub oom_window: Duration,
}

/// Builds the report.
pub fn assemble(snapshot: &Snapshot, options: Options) -> Report {
    let mut warnings = snapshot.warnings.clone();
    let checkpoints = decode_checkpoints(&snapshot.checkpoints, &mut warnings);
    let mut pods: BTreeMap<WorkloadKey, Vec<PodFacts>> = BTreeMap::new();
    for pod in &snapshot.pods {
        let Some(facts) = pod_facts(pod) else {
            continue;
        };
        if facts.info.finished || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match resolve_workload(
            &facts.info.namespace,
            &facts.info.name,
            &facts.info.owners,
            &snapshot.owners,
        ) {
            Ok(workload) => pods.entry(workload.key()).or_default().push(facts),
            Err(error) => warnings.push(format!("pod {}: {error}", facts.info.name)),
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for vpa in &snapshot.vpas {
        let limits = memory_limits(vpa, &mut warnings);
        rows.extend(vpa_rows(vpa, &pods, &checkpoints, &limits, options));
    }
    // Stable: containers keep their pod order within a VPA.
    rows.sort_by(|a, b| {
        (&a.namespace, &a.workload_kind, &a.workload_name, &a.vpa).cmp(&(
            &b.namespace,
            &b.workload_kind,
            &b.workload_name,
            &b.vpa,
        ))
    });
    let totals = totals(&rows);
    Report {
        generated_ms: options.now.unix_millis(),
        oom_window_seconds: options.oom_window.as_secs(),
        rows,
        totals,
        warnings,
    }
}

fn decode_checkpoints(
    configmaps: &[ConfigMap],
    warnings: &mut Vec<String>,
) -> HashMap<ContainerKey, AggregateCheckpoint> {
    let mut out = HashMap::new();
    for cm in configmaps {
        for entry in tailor_recommender::checkpoint::from_configmap(cm) {
            match entry {
                Ok((key, checkpoint)) => {
                    out.insert(key, checkpoint);
                }
                Err(error) => warnings.push(error.to_string()),
            }
        }
    }
    out
}

/// The memory limits Tailor's recommender published on `vpa`, per container. A malformed annotation is
/// ignored whole (as the updater does) and reported as a warning.
fn memory_limits(
    vpa: &VerticalPodAutoscaler,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Bytes> {
    let Some(parsed) = vpa.memory_limits() else {
        return BTreeMap::new();
    };
    parsed.unwrap_or_else(|error| {
        warnings.push(format!(
            "VPA {}/{}: annotation {MEMORY_LIMITS_ANNOTATION} ignored: {error}",
            vpa.metadata.namespace.as_deref().unwrap_or_default(),
            vpa.metadata.name.as_deref().unwrap_or_default(),
        ));
        BTreeMap::new()
    })
}

fn is_true(vpa: &VerticalPodAutoscaler, type_: &str) -> bool {
    vpa.status
        .as_ref()
        .and_then(|s| s.condition(type_))
        .is_some_and(|c| c.status == "True")
}

fn vpa_rows(
    vpa: &VerticalPodAutoscaler,
    pods: &BTreeMap<WorkloadKey, Vec<PodFacts>>,
    checkpoints: &HashMap<ContainerKey, AggregateCheckpoint>,
    memory_limits: &BTreeMap<String, Bytes>,
    options: Options,
) -> Vec<Row> {
    let namespace = vpa.metadata.namespace.clone().unwrap_or_default();
    let target = &vpa.spec.target_ref;
    // An unsupported VPA is still reported (with its reason), on the workload its targetRef names.
    let (workload, unsupported) = match target_workload(vpa) {
        Ok(w) => (w, None),
        Err(message) => (
            WorkloadKey::new(
                namespace.clone(),
                WorkloadKind::from(target.kind.as_str()),
                target.name.clone(),
            ),
            Some(message),
        ),
    };
    let unsupported = unsupported.or_else(|| {
        is_true(vpa, condition::CONFIG_UNSUPPORTED).then(|| {
            vpa.status
                .as_ref()
                .and_then(|s| s.condition(condition::CONFIG_UNSUPPORTED))
                .and_then(|c| c.message.clone())
                .unwrap_or_default()
        })
    });
    let replicas: &[PodFacts] = pods.get(&workload).map_or(&[], Vec::as_slice);
    let recommendations: &[RecommendedContainerResources] = vpa
        .status
        .as_ref()
        .and_then(|s| s.recommendation.as_ref())
        .map_or(&[], |r| r.container_recommendations.as_slice());

    let mut containers: Vec<String> = Vec::new();
    let names = replicas
        .iter()
        .flat_map(|p| p.containers.iter().map(|c| c.name.clone()))
        .chain(recommendations.iter().map(|r| r.container_name.clone()));
    for name in names {
        if !containers.contains(&name) {
            containers.push(name);
        }
    }
    if containers.is_empty() {
        // Nothing to show per container: one row says the VPA exists and why it has nothing.
        containers.push(String::new());
    }

    let low_confidence = is_true(vpa, condition::LOW_CONFIDENCE);
    let throttled = vpa.throttled_containers();
    containers
        .into_iter()
        .map(|container| {
            let rec = recommendations
                .iter()
                .find(|r| r.container_name == container);
            let facts: Vec<&ContainerFacts> = replicas
                .iter()
                .filter_map(|p| p.containers.iter().find(|c| c.name == container))
                .collect();
            let policy = vpa.container_policy(&container);
            let off = policy.is_some_and(|p| p.is_off());
            let controls = |resource: &str| !off && policy.is_none_or(|p| p.controls(resource));
            let cpu = resource_row(
                &facts.iter().map(|f| f.cpu).collect::<Vec<_>>(),
                recommended(rec, |l| parse_resources(l).cpu),
                controls(CPU),
            );
            let memory = resource_row(
                &facts.iter().map(|f| f.memory).collect::<Vec<_>>(),
                Recommended {
                    limit: memory_limits.get(&container).copied(),
                    ..recommended(rec, |l| parse_resources(l).memory)
                },
                controls(MEMORY),
            );
            let key = ContainerKey::new(workload.clone(), container.clone());
            let checkpoint = checkpoints.get(&key);

            let mut flags = Vec::new();
            if let Some(message) = &unsupported {
                flags.push(Flag::ConfigUnsupported {
                    message: message.clone(),
                });
            }
            if replicas.is_empty() {
                flags.push(Flag::NoPods);
            }
            if rec.is_none() && !off {
                flags.push(Flag::NoRecommendation);
            }
            if low_confidence {
                flags.push(Flag::LowConfidence);
            }
            let window_ms = i64::try_from(options.oom_window.as_millis()).unwrap_or(i64::MAX);
            let recent: Vec<Option<Timestamp>> = facts
                .iter()
                .filter_map(|f| f.last_oom)
                .filter(|at| is_recent(*at, options.now, window_ms))
                .collect();
            if !recent.is_empty() {
                flags.push(Flag::OomKilled {
                    pods: u32::try_from(recent.len()).unwrap_or(u32::MAX),
                    last_ms: recent.iter().flatten().max().map(|t| t.unix_millis()),
                });
            }
            if let Some(floor) = checkpoint
                .and_then(|c| c.oom_floor)
                .filter(|f| f.until > options.now)
            {
                flags.push(Flag::OomFloor {
                    memory_bytes: floor.memory.get(),
                    until_ms: floor.until.unix_millis(),
                });
            }
            let restarts: u32 = facts
                .iter()
                .map(|f| f.restarts)
                .fold(0, u32::saturating_add);
            if restarts > 0 {
                flags.push(Flag::Restarts { count: restarts });
            }
            if cpu.controlled && cpu.under_provisioned {
                flags.push(Flag::UnderProvisioned { resource: CPU });
            }
            if memory.controlled && memory.under_provisioned {
                flags.push(Flag::UnderProvisioned { resource: MEMORY });
            }
            if cpu.limit_below_target {
                flags.push(Flag::CpuLimitBelowTarget);
            }
            if let Some(t) = throttled.iter().find(|t| t.container == container) {
                flags.push(Flag::CpuThrottled { percent: t.percent });
            }
            if memory.limit_below_target {
                flags.push(if memory.recommended_limit.is_some() {
                    Flag::MemoryLimitBelowRecommendedLimit
                } else {
                    Flag::MemoryLimitBelowTarget
                });
            }
            Row {
                namespace: namespace.clone(),
                vpa: vpa.metadata.name.clone().unwrap_or_default(),
                workload_kind: workload.kind.to_string(),
                workload_name: workload.name.clone(),
                container,
                mode: if off {
                    "Off".to_owned()
                } else {
                    format!("{:?}", vpa.update_mode())
                },
                replicas: u32::try_from(replicas.len()).unwrap_or(u32::MAX),
                cpu,
                memory,
                flags,
                history: checkpoint.map(|c| History {
                    samples: c.total_samples,
                    first_sample_ms: c.first_sample_start.map(Timestamp::unix_millis),
                    last_sample_ms: c.last_sample_start.map(Timestamp::unix_millis),
                }),
            }
        })
        .collect()
}

/// Target and bounds of one resource (read by `read`) from a container recommendation.
fn recommended<T>(
    rec: Option<&RecommendedContainerResources>,
    read: impl Fn(&ResourceList) -> Option<T>,
) -> Recommended<T> {
    let Some(rec) = rec else {
        return Recommended::default();
    };
    Recommended {
        target: read(&rec.target),
        lower_bound: rec.lower_bound.as_ref().and_then(&read),
        upper_bound: rec.upper_bound.as_ref().and_then(&read),
        limit: None,
    }
}

#[cfg(test)]
mod tests;
