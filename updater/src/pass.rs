//! One pass from cluster snapshots to decisions: match pods to VPAs, build the planner's inputs, plan the most
//! urgent pods first. No API calls here, so component tests feed it plain objects.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    LimitRange as K8sLimitRange, Node, ObjectReference, Pod, ResourceQuota,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use tailor_core::plan::{
    ContainerRecommendation, Decision, EvictionPolicy, PassState, PlannerConfig, PodInput,
    PodMemory, PodView, RateLimits, TerminationReason, UpdateMode, WorkloadPolicy,
};
use tailor_core::time::Timestamp;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::owner::OwnerLookup;

use crate::convert::cluster::{
    budgets, limit_range, node_capacity, quota_room, target_key, workload_key,
};
use crate::convert::eviction::{eviction_policy, oom_runs};
use crate::convert::pod::pod_view;
use crate::convert::state::stored_memory;
use crate::convert::vpa::{policy, recommendations};

/// Everything a pass reads.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub pods: Vec<Arc<Pod>>,
    pub vpas: Vec<Arc<VerticalPodAutoscaler>>,
    pub nodes: Vec<Arc<Node>>,
    pub limit_ranges: Vec<Arc<K8sLimitRange>>,
    pub quotas: Vec<Arc<ResourceQuota>>,
    pub pdbs: Vec<Arc<PodDisruptionBudget>>,
    /// Container working sets from the metrics API, by `namespace/pod`.
    pub working_sets: Arc<crate::usage::UsageMap>,
}

/// What the updater keeps between passes.
#[derive(Debug)]
pub struct UpdaterState {
    pub config: PlannerConfig,
    pub rate: RateLimits,
    /// By pod UID. Seeded from the pod's `tailor.dev/resize-state` annotation when a pod is first seen (after
    /// a restart or a leader change); the controller writes it back after every change.
    pub memory: HashMap<String, PodMemory>,
    /// Without evictions, `Recreate` acts as `Initial` and `InPlaceOrRecreate` as `InPlace`.
    pub evictions_enabled: bool,
}

/// A VPA as the planner uses it.
#[derive(Debug)]
struct Autoscaler {
    reference: ObjectReference,
    policy: WorkloadPolicy,
    eviction: EvictionPolicy,
    recommendation: Option<Vec<ContainerRecommendation>>,
}

/// One planned pod.
#[derive(Debug, Clone)]
pub struct Planned {
    pub pod: Arc<Pod>,
    pub view: PodView,
    pub uid: String,
    pub vpa: ObjectReference,
    pub decision: Decision,
}

/// The VPA for each workload key; the earliest created wins when several name the same target.
fn autoscalers(
    vpas: &[Arc<VerticalPodAutoscaler>],
    evictions_enabled: bool,
) -> HashMap<String, Autoscaler> {
    let mut sorted: Vec<&Arc<VerticalPodAutoscaler>> = vpas.iter().collect();
    sorted.sort_by(|a, b| {
        let key = |v: &VerticalPodAutoscaler| {
            (
                v.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.as_millisecond()),
                v.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out = HashMap::new();
    for vpa in sorted {
        let Some(ns) = vpa.metadata.namespace.as_deref() else {
            continue;
        };
        let target = &vpa.spec.target_ref;
        let key = target_key(ns, &target.kind, &target.name);
        if out.contains_key(&key) {
            continue;
        }
        match policy(vpa) {
            Ok(mut policy) => {
                if !evictions_enabled {
                    policy.mode = match policy.mode {
                        UpdateMode::Recreate => UpdateMode::Initial,
                        UpdateMode::InPlaceOrRecreate => UpdateMode::InPlace,
                        other => other,
                    };
                }
                out.insert(
                    key,
                    Autoscaler {
                        reference: vpa.object_ref(&()),
                        policy,
                        eviction: eviction_policy(vpa),
                        recommendation: recommendations(vpa),
                    },
                );
            }
            Err(e) => {
                tracing::warn!(vpa = vpa.metadata.name.as_deref().unwrap_or_default(), error = %e, "skipping VPA")
            }
        }
    }
    out
}

fn group_by_namespace<T>(
    items: &[Arc<T>],
    ns: impl Fn(&T) -> Option<&str>,
) -> HashMap<String, Vec<&T>> {
    let mut out: HashMap<String, Vec<&T>> = HashMap::new();
    for i in items {
        if let Some(n) = ns(i) {
            out.entry(n.to_owned()).or_default().push(i);
        }
    }
    out
}

/// Plans every pod a VPA covers, OOM-killed pods first; returns every decision (including skips and waits).
pub fn plan(
    snapshot: &Snapshot,
    lookup: &impl OwnerLookup,
    state: &mut UpdaterState,
    now: Timestamp,
) -> Vec<Planned> {
    let views: Vec<(Arc<Pod>, PodView)> = snapshot
        .pods
        .iter()
        .map(|p| {
            let key = workload_key(p, lookup).unwrap_or_else(|| {
                format!(
                    "{}/Pod/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                )
            });
            let mut view = pod_view(p, key);
            crate::usage::apply(&mut view, &snapshot.working_sets, now);
            (Arc::clone(p), view)
        })
        .collect();
    let scalers = autoscalers(&snapshot.vpas, state.evictions_enabled);
    for (pod, view) in &views {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            continue;
        };
        if scalers.contains_key(&view.workload)
            && !state.memory.contains_key(uid)
            && let Some(m) = stored_memory(pod)
        {
            state.memory.insert(uid.to_owned(), m);
        }
    }
    let mut pass = PassState::new(&state.config, now, &mut state.rate);
    for (key, scaler) in &scalers {
        if scaler.eviction != EvictionPolicy::default() {
            pass.eviction.insert(key.clone(), scaler.eviction.clone());
        }
    }
    for (pod, view) in &views {
        for (container, run) in oom_runs(pod) {
            pass.last_run_ms.insert(
                PassState::run_key(&view.namespace, &view.name, &container),
                run,
            );
        }
    }
    pass.nodes = node_capacity(
        snapshot.nodes.iter().map(Arc::as_ref),
        views.iter().map(|(p, v)| (p.as_ref(), v)),
    );
    let pdbs: Vec<&PodDisruptionBudget> = snapshot.pdbs.iter().map(Arc::as_ref).collect();
    pass.budgets = budgets(views.iter().map(|(p, v)| (p.as_ref(), v)), &pdbs);
    for (ns, ranges) in
        group_by_namespace(&snapshot.limit_ranges, |r| r.metadata.namespace.as_deref())
    {
        if let Some(lr) = limit_range(ranges) {
            pass.limit_ranges.insert(ns, lr);
        }
    }
    for (ns, quotas) in group_by_namespace(&snapshot.quotas, |q| q.metadata.namespace.as_deref()) {
        if let Some(q) = quota_room(quotas) {
            pass.quotas.insert(ns, q);
        }
    }
    let mut candidates: Vec<(Arc<Pod>, PodView, &Autoscaler)> = views
        .into_iter()
        .filter_map(|(p, v)| scalers.get(&v.workload).map(|a| (p, v, a)))
        .collect();
    // OOM-killed pods first: they get the node room and the budget before routine changes.
    candidates.sort_by_key(|(_, v, _)| {
        !v.containers.iter().any(|c| {
            c.last_termination
                .is_some_and(|t| t.reason == TerminationReason::OomKilled)
        })
    });
    let empty = PodMemory::default();
    candidates
        .into_iter()
        .map(|(pod, view, scaler)| {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let memory = state.memory.get(&uid).unwrap_or(&empty);
            let decision = pass.plan(&PodInput {
                pod: &view,
                recommendation: scaler.recommendation.as_deref(),
                policy: &scaler.policy,
                memory,
            });
            Planned {
                pod,
                view,
                uid,
                vpa: scaler.reference.clone(),
                decision,
            }
        })
        .collect()
}
