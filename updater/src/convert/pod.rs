//! `Pod` → [`PodView`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodCondition};
use tailor_core::plan::annotation::{BOOST_RECORD_ANNOTATION, parse_boost_record};
use tailor_core::plan::{
    ContainerKind, ContainerView, PendingReason, PodPhase, PodView, QosClass, Requirements,
    ResizeInProgress, ResizePending, ResizePolicy, RestartPolicy, Termination, TerminationReason,
    compute_qos, detect_foreign_writer,
};

use super::quantity::values;
use super::timestamp;

/// Annotation the kubelet puts on mirror pods of static pods.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Builds the planner's view of a pod; `workload` is the key of its replica group.
pub fn pod_view(pod: &Pod, workload: String) -> PodView {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let statuses: BTreeMap<&str, &ContainerStatus> = status
        .into_iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        })
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut containers = Vec::new();
    if let Some(spec) = spec {
        for c in spec.init_containers.iter().flatten() {
            let kind = if c.restart_policy.as_deref() == Some("Always") {
                ContainerKind::Sidecar
            } else {
                ContainerKind::Init
            };
            containers.push(container_view(
                c,
                kind,
                statuses.get(c.name.as_str()).copied(),
            ));
        }
        for c in &spec.containers {
            containers.push(container_view(
                c,
                ContainerKind::App,
                statuses.get(c.name.as_str()).copied(),
            ));
        }
    }
    let qos = match status.and_then(|s| s.qos_class.as_deref()) {
        Some("Guaranteed") => QosClass::Guaranteed,
        Some("Burstable") => QosClass::Burstable,
        Some("BestEffort") => QosClass::BestEffort,
        _ => compute_qos(containers.iter().map(|c| &c.spec)),
    };
    let conditions: &[PodCondition] = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let condition = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == "True")
    };
    let since = |c: &PodCondition| {
        c.last_transition_time
            .as_ref()
            .map(timestamp)
            .unwrap_or_default()
    };
    let pending = condition("PodResizePending").map(|c| ResizePending {
        reason: match c.reason.as_deref() {
            Some("Deferred") => PendingReason::Deferred,
            Some("Infeasible") => PendingReason::Infeasible,
            _ => PendingReason::Other,
        },
        message: c.message.clone().unwrap_or_default(),
        since: since(c),
    });
    let in_progress = condition("PodResizeInProgress").map(|c| ResizeInProgress {
        error: c.reason.as_deref() == Some("Error"),
        message: c.message.clone().unwrap_or_default(),
        since: since(c),
    });
    let ready = condition("Ready");
    let labels = meta.labels.as_ref();
    let annotations = meta.annotations.as_ref();
    let label_keys = labels
        .into_iter()
        .flat_map(|l| l.keys().map(String::as_str));
    let annotation_keys = annotations
        .into_iter()
        .flat_map(|a| a.keys().map(String::as_str));
    let static_or_mirror = annotations.is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
        || meta
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "Node");
    let boost = annotations.and_then(|a| a.get(BOOST_RECORD_ANNOTATION)).and_then(|v| match parse_boost_record(v) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(pod = meta.name.as_deref().unwrap_or_default(), error = %e, "ignoring a malformed boost record");
            None
        }
    });
    PodView {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        workload,
        node: spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        phase: match status.and_then(|s| s.phase.as_deref()) {
            Some("Pending") => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            _ => PodPhase::Unknown,
        },
        deleting: meta.deletion_timestamp.is_some(),
        qos,
        containers,
        generation: meta.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation),
        pending,
        in_progress,
        static_or_mirror,
        windows: spec
            .and_then(|s| s.os.as_ref())
            .is_some_and(|os| os.name == "windows"),
        pod_level_resources: spec.and_then(|s| s.resources.as_ref()).is_some_and(|r| {
            r.requests.as_ref().is_some_and(|m| !m.is_empty())
                || r.limits.as_ref().is_some_and(|m| !m.is_empty())
        }),
        foreign_writer: detect_foreign_writer(label_keys, annotation_keys),
        ready: ready.is_some(),
        ready_since: ready.map(since),
        start_time: status.and_then(|s| s.start_time.as_ref()).map(timestamp),
        boost,
    }
}

fn container_view(
    c: &Container,
    kind: ContainerKind,
    status: Option<&ContainerStatus>,
) -> ContainerView {
    let spec = requirements(c.resources.as_ref());
    let mut policy = ResizePolicy::default();
    for p in c.resize_policy.iter().flatten() {
        let restart = if p.restart_policy == "RestartContainer" {
            RestartPolicy::RestartContainer
        } else {
            RestartPolicy::NotRequired
        };
        match p.resource_name.as_str() {
            "cpu" => policy.cpu = restart,
            "memory" => policy.memory = restart,
            _ => {}
        }
    }
    let running = status
        .and_then(|s| s.state.as_ref())
        .and_then(|s| s.running.as_ref());
    let terminated = status
        .and_then(|s| s.last_state.as_ref())
        .and_then(|s| s.terminated.as_ref());
    ContainerView {
        name: c.name.clone(),
        kind,
        spec,
        allocated: status
            .and_then(|s| s.allocated_resources.as_ref())
            .map(|a| values(Some(a))),
        actual: status
            .and_then(|s| s.resources.as_ref())
            .map(|r| requirements(Some(r))),
        resize_policy: policy,
        restart_count: status.map_or(0, |s| u32::try_from(s.restart_count).unwrap_or(0)),
        last_termination: terminated.map(|t| Termination {
            reason: if t.reason.as_deref() == Some("OOMKilled") {
                TerminationReason::OomKilled
            } else {
                TerminationReason::Other
            },
            finished_at: t.finished_at.as_ref().map(timestamp),
        }),
        running: running.is_some(),
        ready: status.is_some_and(|s| s.ready),
        started_at: running.and_then(|r| r.started_at.as_ref()).map(timestamp),
        working_set: None,
    }
}

fn requirements(r: Option<&k8s_openapi::api::core::v1::ResourceRequirements>) -> Requirements {
    Requirements {
        requests: values(r.and_then(|r| r.requests.as_ref())),
        limits: values(r.and_then(|r| r.limits.as_ref())),
    }
}
