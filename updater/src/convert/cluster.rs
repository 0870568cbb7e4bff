//! Cluster-wide figures for a pass: workload keys, node capacity, LimitRanges, quotas and disruption budgets.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{LimitRange as K8sLimitRange, Node, Pod, ResourceQuota};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::core::{Selector, SelectorExt};
use tailor_core::plan::{
    LimitRange, NodeCapacity, PodView, QuotaRoom, Resource, ResourceValues, WorkloadBudget,
};
use tailor_core::quantity::{Bytes, MilliCpu, Quantity as CoreQuantity};

use tailor_k8s::owner::{OwnerLookup, resolve_workload};

use super::quantity::values;

/// Resolves a pod's workload through the shared owner walk; `None` while an intermediate owner is not cached.
pub fn workload_key(pod: &Pod, lookup: &impl OwnerLookup) -> Option<String> {
    let ns = pod.metadata.namespace.as_deref()?;
    let name = pod.metadata.name.as_deref()?;
    let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
    let w = resolve_workload(ns, name, owners, lookup).ok()?;
    Some(target_key(&w.namespace, &w.kind, &w.name))
}

/// The workload key a VPA's `targetRef` names.
pub fn target_key(namespace: &str, kind: &str, name: &str) -> String {
    format!("{namespace}/{kind}/{name}")
}

fn live(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

fn get(v: &ResourceValues, r: Resource) -> i64 {
    v.get(r).unwrap_or(0)
}

/// What a pod holds on its node: per container max(spec, allocated, actual) requests, init containers as the
/// scheduler counts them (the largest one against the sum of the rest), plus overhead.
pub fn pod_reservation(view: &PodView, overhead: ResourceValues) -> (i64, i64) {
    let mut sum = [0i64; 2];
    let mut init_max = [0i64; 2];
    for c in &view.containers {
        for (i, r) in Resource::ALL.into_iter().enumerate() {
            let spec = get(&c.spec.requests, r);
            let alloc = c.allocated.map_or(0, |a| get(&a, r));
            let actual = c.actual.map_or(0, |a| get(&a.requests, r));
            let v = spec.max(alloc).max(actual);
            if c.resizable() {
                sum[i] = sum[i].saturating_add(v);
            } else {
                init_max[i] = init_max[i].max(v);
            }
        }
    }
    (
        sum[0]
            .max(init_max[0])
            .saturating_add(get(&overhead, Resource::Cpu)),
        sum[1]
            .max(init_max[1])
            .saturating_add(get(&overhead, Resource::Memory)),
    )
}

/// Allocatable and committed resources per node, from the nodes and every live pod bound to them.
pub fn node_capacity<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    pods: impl IntoIterator<Item = (&'a Pod, &'a PodView)>,
) -> HashMap<String, NodeCapacity> {
    let mut out: HashMap<String, NodeCapacity> = nodes
        .into_iter()
        .filter_map(|n| {
            let name = n.metadata.name.clone()?;
            let alloc = values(n.status.as_ref().and_then(|s| s.allocatable.as_ref()));
            Some((
                name,
                NodeCapacity {
                    allocatable_cpu: alloc.cpu.unwrap_or_default(),
                    allocatable_memory: alloc.memory.unwrap_or_default(),
                    committed_cpu: MilliCpu(0),
                    committed_memory: Bytes(0),
                },
            ))
        })
        .collect();
    for (pod, view) in pods {
        if !live(pod) {
            continue;
        }
        let Some(n) = view.node.as_ref().and_then(|n| out.get_mut(n)) else {
            continue;
        };
        let overhead = values(pod.spec.as_ref().and_then(|s| s.overhead.as_ref()));
        let (cpu, mem) = pod_reservation(view, overhead);
        n.committed_cpu = n.committed_cpu.saturating_add(MilliCpu(cpu));
        n.committed_memory = n.committed_memory.saturating_add(Bytes(mem));
    }
    out
}

fn permille(q: &Quantity) -> Option<i64> {
    let nanos = CoreQuantity::parse(&q.0).ok()?.nanos();
    i64::try_from(nanos / 1_000_000).ok()
}

fn tighter(a: Option<i64>, b: Option<i64>, pick: fn(i64, i64) -> i64) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// The tightest `Container` constraints over a namespace's LimitRanges.
pub fn limit_range<'a>(ranges: impl IntoIterator<Item = &'a K8sLimitRange>) -> Option<LimitRange> {
    let mut out: Option<LimitRange> = None;
    for item in ranges
        .into_iter()
        .filter_map(|r| r.spec.as_ref())
        .flat_map(|s| s.limits.iter())
    {
        if item.type_ != "Container" {
            continue;
        }
        let lr = out.get_or_insert_with(LimitRange::default);
        let (min, max) = (values(item.min.as_ref()), values(item.max.as_ref()));
        for r in Resource::ALL {
            lr.min.set(r, tighter(lr.min.get(r), min.get(r), i64::max));
            lr.max.set(r, tighter(lr.max.get(r), max.get(r), i64::min));
        }
        let ratio = item.max_limit_request_ratio.as_ref();
        let cpu = ratio.and_then(|m| m.get("cpu")).and_then(permille);
        let mem = ratio.and_then(|m| m.get("memory")).and_then(permille);
        lr.max_ratio_cpu = tighter(lr.max_ratio_cpu, cpu, i64::min);
        lr.max_ratio_memory = tighter(lr.max_ratio_memory, mem, i64::min);
    }
    out
}

/// Free room (hard − used) over a namespace's quotas, the tightest per resource.
pub fn quota_room<'a>(quotas: impl IntoIterator<Item = &'a ResourceQuota>) -> Option<QuotaRoom> {
    let mut out: Option<QuotaRoom> = None;
    for q in quotas {
        let Some(status) = q.status.as_ref() else {
            continue;
        };
        let (hard, used) = (status.hard.as_ref(), status.used.as_ref());
        let free = |key: &str, alt: Option<&str>| -> (Option<i64>, Option<i64>) {
            let pick = |m: Option<&BTreeMap<String, Quantity>>| {
                m.and_then(|m| m.get(key).or_else(|| alt.and_then(|a| m.get(a))))
                    .map(|q| q.0.clone())
            };
            let (h, u) = (pick(hard), pick(used));
            let cpu = |s: Option<String>| s.and_then(|s| MilliCpu::parse(&s).ok()).map(|v| v.0);
            let mem = |s: Option<String>| s.and_then(|s| Bytes::parse(&s).ok()).map(|v| v.0);
            (
                cpu(h.clone()).map(|h| h - cpu(u.clone()).unwrap_or(0)),
                mem(h).map(|h| h - mem(u).unwrap_or(0)),
            )
        };
        let room = out.get_or_insert_with(QuotaRoom::default);
        let (req_cpu, _) = free("requests.cpu", Some("cpu"));
        let (_, req_mem) = free("requests.memory", Some("memory"));
        let (lim_cpu, _) = free("limits.cpu", None);
        let (_, lim_mem) = free("limits.memory", None);
        room.requests.set(
            Resource::Cpu,
            tighter(room.requests.get(Resource::Cpu), req_cpu, i64::min),
        );
        room.requests.set(
            Resource::Memory,
            tighter(room.requests.get(Resource::Memory), req_mem, i64::min),
        );
        room.limits.set(
            Resource::Cpu,
            tighter(room.limits.get(Resource::Cpu), lim_cpu, i64::min),
        );
        room.limits.set(
            Resource::Memory,
            tighter(room.limits.get(Resource::Memory), lim_mem, i64::min),
        );
    }
    out
}

/// Disruption budget per workload: live and restarting pods, and the tightest PDB covering any of them.
pub fn budgets<'a>(
    pods: impl IntoIterator<Item = (&'a Pod, &'a PodView)>,
    pdbs: &[&PodDisruptionBudget],
) -> HashMap<String, WorkloadBudget> {
    let selectors: Vec<(Option<&str>, Selector, Option<i32>)> = pdbs
        .iter()
        .filter_map(|p| {
            let sel = Selector::try_from(p.spec.as_ref()?.selector.clone()?).ok()?;
            let allowed = p.status.as_ref().map(|s| s.disruptions_allowed);
            Some((p.metadata.namespace.as_deref(), sel, allowed))
        })
        .collect();
    let empty = BTreeMap::new();
    let mut out: HashMap<String, WorkloadBudget> = HashMap::new();
    for (pod, view) in pods {
        if !live(pod) {
            continue;
        }
        let b = out.entry(view.workload.clone()).or_default();
        b.live_replicas += 1;
        if !view.ready {
            b.restarting += 1;
        }
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        for (ns, sel, allowed) in &selectors {
            if *ns == pod.metadata.namespace.as_deref() && sel.matches(labels) {
                let allowed = allowed.unwrap_or(0);
                b.pdb_disruptions_allowed = Some(
                    b.pdb_disruptions_allowed
                        .map_or(allowed, |a| a.min(allowed)),
                );
            }
        }
    }
    out
}
