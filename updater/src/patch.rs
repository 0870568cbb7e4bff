//! The bodies the actuator sends: one strategic-merge patch to `pods/{name}/resize` with every changed
//! container (merged by container name, touching only cpu/memory requests and limits that change), and a
//! separate merge patch of the pod's annotations (the resize subresource drops metadata).

use serde_json::{Map, Value, json};
use tailor_core::plan::annotation::{BOOST_RECORD_ANNOTATION, format_boost_record};
use tailor_core::plan::{
    BoostRecord, ContainerKind, PodView, ResizePlan, Resource, ResourceValues,
};
use tailor_core::quantity::{Bytes, MilliCpu};

fn quantity(r: Resource, v: i64) -> String {
    match r {
        Resource::Cpu => MilliCpu(v).to_quantity_string(),
        Resource::Memory => Bytes(v).to_quantity_string(),
    }
}

/// The fields of `after` that differ from `before`, as a resource list.
fn diff(before: &ResourceValues, after: &ResourceValues) -> Map<String, Value> {
    let mut out = Map::new();
    for r in Resource::ALL {
        if let Some(v) = after.get(r)
            && before.get(r) != Some(v)
        {
            out.insert(r.as_str().to_owned(), Value::String(quantity(r, v)));
        }
    }
    out
}

/// The strategic-merge patch for `pods/{name}/resize`; `None` when nothing changes.
pub fn resize_patch(pod: &PodView, plan: &ResizePlan) -> Option<Value> {
    let mut containers = Vec::new();
    let mut init_containers = Vec::new();
    for ch in &plan.containers {
        let mut resources = Map::new();
        let requests = diff(&ch.before.requests, &ch.after.requests);
        let limits = diff(&ch.before.limits, &ch.after.limits);
        if !requests.is_empty() {
            resources.insert("requests".to_owned(), Value::Object(requests));
        }
        if !limits.is_empty() {
            resources.insert("limits".to_owned(), Value::Object(limits));
        }
        if resources.is_empty() {
            continue;
        }
        let entry = json!({ "name": ch.name, "resources": resources });
        match pod.container(&ch.name).map(|c| c.kind) {
            Some(ContainerKind::App) => containers.push(entry),
            Some(ContainerKind::Sidecar) => init_containers.push(entry),
            // Regular init containers are immutable, and unknown names are never sent.
            Some(ContainerKind::Init) | None => {}
        }
    }
    if containers.is_empty() && init_containers.is_empty() {
        return None;
    }
    let mut spec = Map::new();
    if !containers.is_empty() {
        spec.insert("containers".to_owned(), Value::Array(containers));
    }
    if !init_containers.is_empty() {
        spec.insert("initContainers".to_owned(), Value::Array(init_containers));
    }
    Some(json!({ "spec": spec }))
}

/// The merge patch that records a boost on the pod.
pub fn boost_record_patch(record: &BoostRecord) -> Value {
    json!({ "metadata": { "annotations": { BOOST_RECORD_ANNOTATION: format_boost_record(record) } } })
}

/// A one-line "before → after" summary of a plan, for events and logs.
pub fn describe(plan: &ResizePlan) -> String {
    let side = |v: &ResourceValues, r: Resource| {
        v.get(r).map_or_else(|| "-".to_owned(), |x| quantity(r, x))
    };
    plan.containers
        .iter()
        .map(|ch| {
            let parts: Vec<String> = Resource::ALL
                .iter()
                .filter(|r| ch.changed().contains(**r))
                .map(|r| {
                    format!(
                        "{} {}/{} -> {}/{}",
                        r.as_str(),
                        side(&ch.before.requests, *r),
                        side(&ch.before.limits, *r),
                        side(&ch.after.requests, *r),
                        side(&ch.after.limits, *r)
                    )
                })
                .collect();
            format!("{}: {}", ch.name, parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
