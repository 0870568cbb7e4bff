//! `VerticalPodAutoscaler` → the planner's [`WorkloadPolicy`] and recommendations.

use std::collections::BTreeMap;

use tailor_core::plan::annotation::{BOOST_POLICY_ANNOTATION, parse_boost_policy};
use tailor_core::plan::{
    BoostAmount, BoostPolicy, ContainerPolicy, ContainerRecommendation, ControlledValues,
    ResourceMask, UpdateMode, WorkloadPolicy,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_k8s::crd::vpa::{
    self as crd, GenericStartupBoost, StartupBoostType, VerticalPodAutoscaler,
};

use super::quantity::values;

/// Why a VPA is not acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("update mode is not one this version knows")]
    UnknownMode,
}

/// The update and resource policy of a VPA. A boost policy in the VPA's Tailor annotation wins over
/// `spec.startupBoost.cpu`.
pub fn policy(vpa: &VerticalPodAutoscaler) -> Result<WorkloadPolicy, PolicyError> {
    let update = vpa.spec.update_policy.clone().unwrap_or_default();
    let mode = match update.mode() {
        crd::UpdateMode::Off => UpdateMode::Off,
        crd::UpdateMode::Initial => UpdateMode::Initial,
        crd::UpdateMode::Recreate | crd::UpdateMode::Auto => UpdateMode::Recreate,
        crd::UpdateMode::InPlace => UpdateMode::InPlace,
        crd::UpdateMode::InPlaceOrRecreate => UpdateMode::InPlaceOrRecreate,
        crd::UpdateMode::Unknown => return Err(PolicyError::UnknownMode),
    };
    let containers = vpa
        .spec
        .resource_policy
        .iter()
        .flat_map(|p| p.container_policies.iter())
        .filter_map(|p| {
            let name = p.container_name.clone()?;
            let controlled_values = match p.controlled_values {
                None | Some(crd::ControlledValues::RequestsAndLimits) => {
                    Some(ControlledValues::RequestsAndLimits)
                }
                Some(crd::ControlledValues::RequestsOnly) => Some(ControlledValues::RequestsOnly),
                Some(crd::ControlledValues::Unknown) => None,
            };
            Some(ContainerPolicy {
                name,
                // A mode or value this version does not know: leave the container alone.
                off: p.is_off()
                    || p.mode == Some(crd::ContainerScalingMode::Unknown)
                    || controlled_values.is_none(),
                controlled: ResourceMask {
                    cpu: p.controls("cpu"),
                    memory: p.controls("memory"),
                },
                controlled_values: controlled_values.unwrap_or_default(),
            })
        })
        .collect();
    let annotated = vpa
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BOOST_POLICY_ANNOTATION))
        .and_then(|v| match parse_boost_policy(v) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(vpa = vpa.metadata.name.as_deref().unwrap_or_default(), error = %e, "ignoring a malformed boost annotation");
                None
            }
        });
    let boost = annotated.or_else(|| {
        vpa.spec
            .startup_boost
            .as_ref()
            .and_then(|b| b.cpu.as_ref())
            .and_then(boost_policy)
    });
    Ok(WorkloadPolicy {
        mode,
        containers,
        min_replicas: update
            .min_replicas
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m > 0),
        boost,
    })
}

/// `startupBoost.cpu` as a boost policy; `None` for an unknown type or missing amount.
pub fn boost_policy(b: &GenericStartupBoost) -> Option<BoostPolicy> {
    let amount = match b.type_ {
        StartupBoostType::Factor => {
            BoostAmount::Factor(u32::try_from(b.factor?).ok().filter(|f| *f >= 1)?)
        }
        StartupBoostType::Quantity => {
            BoostAmount::Quantity(MilliCpu::parse_non_negative(&b.quantity.as_ref()?.0).ok()?)
        }
        StartupBoostType::Unknown => return None,
    };
    let duration_ms = i64::from(b.duration_seconds.unwrap_or(0).max(0)) * 1000;
    Some(BoostPolicy {
        amount,
        duration_ms,
        max_duration_ms: None,
    })
}

/// Memory limits the recommender wrote to the VPA's annotation (`--memory-limit-policy from-peaks`). A malformed
/// value is ignored whole (limits then keep their ratio, the upstream behaviour) and logged.
pub fn memory_limits(vpa: &VerticalPodAutoscaler) -> BTreeMap<String, Bytes> {
    let Some(parsed) = vpa.memory_limits() else {
        return BTreeMap::new();
    };
    parsed.unwrap_or_else(|error| {
        tracing::warn!(
            namespace = vpa.metadata.namespace.as_deref().unwrap_or_default(),
            name = vpa.metadata.name.as_deref().unwrap_or_default(),
            %error,
            "ignoring the memory-limits annotation"
        );
        BTreeMap::new()
    })
}

/// The VPA's recommendation per container, if it has one.
pub fn recommendations(vpa: &VerticalPodAutoscaler) -> Option<Vec<ContainerRecommendation>> {
    let rec = vpa.status.as_ref()?.recommendation.as_ref()?;
    let limits = memory_limits(vpa);
    let out: Vec<ContainerRecommendation> = rec
        .container_recommendations
        .iter()
        .map(|c| ContainerRecommendation {
            name: c.container_name.clone(),
            target: values(Some(&c.target)),
            lower: values(c.lower_bound.as_ref()),
            upper: values(c.upper_bound.as_ref()),
            memory_limit: limits.get(&c.container_name).copied(),
        })
        .collect();
    (!out.is_empty()).then_some(out)
}
