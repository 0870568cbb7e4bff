//! The pure part of the webhook: a pod being created, its VPA and the namespace's LimitRange and quota in, a
//! JSON patch out. Sizing is the planner's own ([`tailor_core::plan::size_at_creation`]); this file only turns
//! Kubernetes objects into its inputs and its answer into a patch.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;
use tailor_core::estimate::{
    ContainerPolicy as EstimatePolicy, Recommendation, Resources, cap_to_policy,
};
use tailor_core::plan::annotation::{BOOST_RECORD_ANNOTATION, format_boost_record};
use tailor_core::plan::{
    ContainerChange, ContainerRecommendation, Creation, CreationInput, LimitRange, PlannerConfig,
    QuotaRoom, ResizePlan, Resource, ResourceValues, SkipReason, size_at_creation,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;
use tailor_k8s::crd::vpa::{ContainerResourcePolicy, VerticalPodAutoscaler};

use crate::convert::pod::pod_view;
use crate::convert::quantity::values;
use crate::convert::vpa::{policy, recommendations};
use crate::patch::describe;

/// Annotation recording what the webhook set and from which VPA (for `kubectl describe`; nothing reads it).
pub const ADMISSION_ANNOTATION: &str = "tailor.dev/admission";

/// What the webhook does with one pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Start the pod at the recommended size.
    Mutated(Mutation),
    /// Let the pod through as it is.
    Unchanged(Unchanged),
}

/// The patch for a pod, and what it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub patch: Patch,
    pub changes: Vec<ContainerChange>,
    /// One line, for logs and the annotation.
    pub summary: String,
}

/// Why a pod is let through unchanged (every variant is a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    /// No VPA targets the pod's workload.
    NoVpa,
    /// The pod's ReplicaSet or Job is not in the watch cache yet (the bounded wait ran out).
    UnknownOwner,
    /// The VPA's update mode is one this version does not know.
    UnknownMode,
    /// The planner's reason.
    Skip(SkipReason),
}

impl Unchanged {
    pub fn as_str(self) -> &'static str {
        match self {
            Unchanged::NoVpa => "no_vpa",
            Unchanged::UnknownOwner => "unknown_owner",
            Unchanged::UnknownMode => "unknown_mode",
            Unchanged::Skip(r) => r.as_str(),
        }
    }
}

/// The namespace figures that bound a new pod's size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Namespace {
    pub limit_range: Option<LimitRange>,
    pub quota: Option<QuotaRoom>,
}

/// Decides what `pod` should start with under `vpa`; `workload` is the pod's workload key.
pub fn mutate(
    pod: &Pod,
    workload: String,
    vpa: &VerticalPodAutoscaler,
    namespace: &Namespace,
    config: &PlannerConfig,
    now: Timestamp,
) -> Outcome {
    let Ok(policy) = policy(vpa) else {
        return Outcome::Unchanged(Unchanged::UnknownMode);
    };
    let recs = recommendations(vpa).map(|recs| capped(vpa, recs));
    let view = pod_view(pod, workload);
    let input = CreationInput {
        config,
        recommendation: recs.as_deref(),
        policy: &policy,
        limit_range: namespace.limit_range.as_ref(),
        quota: namespace.quota.as_ref(),
        now,
    };
    let Creation { changes, boost } = match size_at_creation(&view, &input) {
        Ok(c) => c,
        Err(reason) => return Outcome::Unchanged(Unchanged::Skip(reason)),
    };
    let summary = describe(&ResizePlan {
        containers: changes.clone(),
        disruptive: false,
        partial: false,
    });
    let vpa_name = vpa.metadata.name.as_deref().unwrap_or_default();
    let mut ops = Vec::new();
    for ch in &changes {
        if let Some((list, index, container)) = find(pod, &ch.name)
            && let Some(value) = resources_value(container.resources.as_ref(), ch)
        {
            ops.push(add(&["spec", list, &index.to_string(), "resources"], value));
        }
    }
    if ops.is_empty() {
        return Outcome::Unchanged(Unchanged::Skip(SkipReason::InSync));
    }
    let note = format!("vpa {vpa_name}: {summary}");
    let mut annotations = vec![(ADMISSION_ANNOTATION, note)];
    if let Some(record) = &boost {
        // The updater reads this back and takes the boost away once the pod has been Ready long enough.
        annotations.push((BOOST_RECORD_ANNOTATION, format_boost_record(record)));
    }
    if pod.metadata.annotations.is_some() {
        for (k, v) in annotations {
            ops.push(add(&["metadata", "annotations", k], Value::String(v)));
        }
    } else {
        let map = annotations
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect();
        ops.push(add(&["metadata", "annotations"], Value::Object(map)));
    }
    Outcome::Mutated(Mutation {
        patch: Patch(ops),
        changes,
        summary,
    })
}

/// Targets clamped to the VPA's `minAllowed`/`maxAllowed` with the recommender's own rule: the status may
/// predate a policy change, or come from another recommender.
fn capped(
    vpa: &VerticalPodAutoscaler,
    recs: Vec<ContainerRecommendation>,
) -> Vec<ContainerRecommendation> {
    let policies: Vec<&ContainerResourcePolicy> = vpa
        .spec
        .resource_policy
        .iter()
        .flat_map(|p| p.container_policies.iter())
        .collect();
    let named = |name: &str| {
        policies
            .iter()
            .find(|p| p.container_name.as_deref() == Some(name))
            .or_else(|| {
                policies
                    .iter()
                    .find(|p| p.container_name.as_deref() == Some("*"))
            })
            .copied()
    };
    recs.into_iter()
        .map(|mut rec| {
            let Some(p) = named(&rec.name) else {
                return rec;
            };
            let (min, max) = (
                values(p.min_allowed.as_ref()),
                values(p.max_allowed.as_ref()),
            );
            let policy = EstimatePolicy {
                min_cpu: min.cpu,
                min_memory: min.memory,
                max_cpu: max.cpu,
                max_memory: max.memory,
                ..EstimatePolicy::default()
            };
            let t = rec.target;
            let whole = Resources::new(t.cpu.unwrap_or(MilliCpu(0)), t.memory.unwrap_or(Bytes(0)));
            let cap = cap_to_policy(
                &Recommendation {
                    target: whole,
                    lower_bound: whole,
                    upper_bound: whole,
                    uncapped_target: whole,
                },
                &policy,
                None,
            )
            .target;
            // A resource the recommendation leaves out stays out.
            rec.target.cpu = t.cpu.map(|_| cap.cpu);
            rec.target.memory = t.memory.map(|_| cap.memory);
            rec
        })
        .collect()
}

fn add(tokens: &[&str], value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::from_tokens(tokens.iter().copied()),
        value,
    })
}

/// The container named `name`: which list it is in, its index there, and the container.
fn find<'a>(pod: &'a Pod, name: &str) -> Option<(&'static str, usize, &'a Container)> {
    let spec = pod.spec.as_ref()?;
    let pick = |list: &'static str, cs: &'a [Container]| {
        cs.iter()
            .position(|c| c.name == name)
            .map(|i| (list, i, &cs[i]))
    };
    pick("containers", &spec.containers).or_else(|| {
        pick(
            "initContainers",
            spec.init_containers.as_deref().unwrap_or_default(),
        )
    })
}

fn quantity(r: Resource, v: i64) -> Quantity {
    Quantity(match r {
        Resource::Cpu => MilliCpu(v).to_quantity_string(),
        Resource::Memory => Bytes(v).to_quantity_string(),
    })
}

/// The container's resources with the changed CPU and memory values; everything else (other resources,
/// claims) is kept as the user wrote it.
fn resources_value(original: Option<&ResourceRequirements>, ch: &ContainerChange) -> Option<Value> {
    let mut res = original.cloned().unwrap_or_default();
    let set = |list: &mut Option<std::collections::BTreeMap<String, Quantity>>,
               before: &ResourceValues,
               after: &ResourceValues| {
        for r in Resource::ALL {
            if let Some(v) = after.get(r)
                && before.get(r) != Some(v)
            {
                list.get_or_insert_default()
                    .insert(r.as_str().to_owned(), quantity(r, v));
            }
        }
    };
    set(&mut res.requests, &ch.before.requests, &ch.after.requests);
    set(&mut res.limits, &ch.before.limits, &ch.after.limits);
    serde_json::to_value(res).ok()
}
