//! The recommendation for one VPA, as a pure function of the VPA, the model, the pods and `now`: which
//! workload it targets, a capped recommendation per container, and the conditions. The caller writes the
//! result only when it differs from what the VPA's status already says.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

use tailor_core::estimate::{
    ContainerPolicy, ControlledResources, EstimatorConfig, Recommendation, Resources,
    cap_to_policy, confidence, recommend, recommend_memory_limit,
};
use tailor_core::model::{ContainerKey, WorkloadKey, WorkloadKind};
use tailor_core::quantity::Bytes;
use tailor_core::time::Timestamp;
use tailor_k8s::crd::throttled::{ThrottledContainer, throttled_message, whole_percent};
use tailor_k8s::crd::vpa::{
    ContainerResourcePolicy, ContainerScalingMode, ControlledValues, RecommendedContainerResources,
    RecommendedPodResources, UpdateMode, VerticalPodAutoscaler, VerticalPodAutoscalerCondition,
    VerticalPodAutoscalerStatus, condition,
};
use tailor_k8s::quantity::{CPU, MEMORY, parse_resources, resource_list};

use crate::model::Model;
use crate::pods::PodIndex;

/// Settings of the recommendation step.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendConfig {
    /// Percentiles, margin, confidence, minimums.
    pub estimator: EstimatorConfig,
    /// Below this much confidence (days of history at one sample a minute) LowConfidence is True.
    pub low_confidence_below: f64,
    /// From this throttled share of a container's recent CFS periods on, CPUThrottled is True.
    pub throttled_at: f64,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        Self {
            estimator: EstimatorConfig::tailor(),
            low_confidence_below: 1.0,
            throttled_at: 0.1,
        }
    }
}

/// The workload a VPA targets, or why it cannot be served.
pub fn target_workload(vpa: &VerticalPodAutoscaler) -> Result<WorkloadKey, String> {
    let target = &vpa.spec.target_ref;
    let namespace = vpa.metadata.namespace.clone().unwrap_or_default();
    if target.kind.is_empty() || target.name.is_empty() {
        return Err("targetRef needs a kind and a name".into());
    }
    let kind = WorkloadKind::from(target.kind.as_str());
    if matches!(kind, WorkloadKind::Pod) {
        return Err("targetRef must name a controller, not a Pod".into());
    }
    if vpa.update_mode() == UpdateMode::Unknown {
        return Err("updatePolicy.updateMode has a value this recommender does not know".into());
    }
    let policies = vpa
        .spec
        .resource_policy
        .iter()
        .flat_map(|p| &p.container_policies);
    for p in policies {
        if p.mode == Some(ContainerScalingMode::Unknown)
            || p.controlled_values == Some(ControlledValues::Unknown)
        {
            return Err(
                "a container policy has a mode or controlledValues this recommender does not know"
                    .into(),
            );
        }
    }
    Ok(WorkloadKey::new(namespace, kind, target.name.clone()))
}

/// The core policy for one container: minAllowed/maxAllowed and controlled resources.
pub fn container_policy(policy: Option<&ContainerResourcePolicy>) -> ContainerPolicy {
    let Some(p) = policy else {
        return ContainerPolicy::default();
    };
    let min = p
        .min_allowed
        .as_ref()
        .map(parse_resources)
        .unwrap_or_default();
    let max = p
        .max_allowed
        .as_ref()
        .map(parse_resources)
        .unwrap_or_default();
    let controlled = match (p.controls(CPU), p.controls(MEMORY)) {
        (true, false) => ControlledResources::CpuOnly,
        (false, true) => ControlledResources::MemoryOnly,
        _ => ControlledResources::CpuAndMemory,
    };
    ContainerPolicy {
        min_cpu: min.cpu,
        min_memory: min.memory,
        max_cpu: max.cpu,
        max_memory: max.memory,
        controlled,
    }
}

/// One container's result, for metrics and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerOutcome {
    /// Container name.
    pub container: String,
    /// The capped recommendation.
    pub recommendation: Recommendation,
    /// Days of history behind it.
    pub confidence: f64,
}

/// The status a VPA should have, and the per-container figures behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The new status (conditions keep their transition time when their status did not change).
    pub status: VerticalPodAutoscalerStatus,
    /// Per-container figures.
    pub containers: Vec<ContainerOutcome>,
    /// Recommended memory limits (only under `MemoryLimitPolicy::FromPeaks`), for the VPA annotation.
    pub memory_limits: BTreeMap<String, Bytes>,
    /// Containers at or above the throttling threshold, as the CPUThrottled condition names them.
    pub throttled: Vec<ThrottledContainer>,
}

fn time(now: Timestamp) -> Time {
    let ts = k8s_openapi::jiff::Timestamp::from_millisecond(now.unix_millis()).unwrap_or_default();
    Time(ts)
}

/// Builds the condition list; a condition keeps its transition time while its status stays the same.
struct Conditions<'a> {
    list: Vec<VerticalPodAutoscalerCondition>,
    previous: Option<&'a VerticalPodAutoscalerStatus>,
    now: Timestamp,
    generation: Option<i64>,
}

impl Conditions<'_> {
    fn set(&mut self, type_: &str, status: bool, reason: &str, message: String) {
        let status = if status { "True" } else { "False" };
        let old = self.previous.and_then(|p| p.condition(type_));
        let last_transition_time = match old {
            Some(c) if c.status == status => c.last_transition_time.clone(),
            _ => Some(time(self.now)),
        };
        self.list.push(VerticalPodAutoscalerCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_transition_time,
            reason: Some(reason.to_owned()),
            message: Some(message),
            observed_generation: self.generation,
        });
    }
}

/// Computes the status of `vpa` from the model at `now`. `largest_node` caps every figure.
pub fn compute(
    vpa: &VerticalPodAutoscaler,
    model: &Model,
    pods: &PodIndex,
    largest_node: Option<Resources>,
    cfg: &RecommendConfig,
    now: Timestamp,
) -> Outcome {
    let previous = vpa.status.as_ref();
    let generation = vpa.metadata.generation;
    let mut conditions = Conditions {
        list: Vec::new(),
        previous,
        now,
        generation,
    };
    let workload = match target_workload(vpa) {
        Ok(w) => w,
        Err(reason) => {
            conditions.set(
                condition::CONFIG_UNSUPPORTED,
                true,
                "ConfigUnsupported",
                reason,
            );
            conditions.set(
                condition::RECOMMENDATION_PROVIDED,
                false,
                "ConfigUnsupported",
                "the configuration is not supported".into(),
            );
            let status = VerticalPodAutoscalerStatus {
                recommendation: None,
                conditions: conditions.list,
                observed_generation: generation,
            };
            return Outcome {
                status,
                containers: vec![],
                memory_limits: BTreeMap::new(),
                throttled: Vec::new(),
            };
        }
    };

    // Containers: those the live pods run, plus any with history (pods may all be gone for a while).
    let live: Vec<_> = pods.pods_of(&workload).collect();
    let mut names: Vec<String> = live
        .iter()
        .flat_map(|(_, p)| p.containers.iter().map(|c| c.name.clone()))
        .collect();
    if let Some(history) = model.containers_of(&workload) {
        names.extend(history.keys().cloned());
    }
    names.sort();
    names.dedup();
    let recommended: Vec<String> = names
        .into_iter()
        .filter(|n| !vpa.container_policy(n).is_some_and(|p| p.is_off()))
        .collect();
    let with_history: Vec<&String> = recommended
        .iter()
        .filter(|n| model.has_history(&ContainerKey::new(workload.clone(), (*n).clone())))
        .collect();

    let mut outcomes = Vec::new();
    let mut recs = Vec::new();
    let mut throttled = Vec::new();
    let mut memory_limits = BTreeMap::new();
    for name in &with_history {
        let key = ContainerKey::new(workload.clone(), (*name).clone());
        let Some(tracked) = model.get(&key) else {
            continue;
        };
        if let Some(share) = tracked.throttle.share(now)
            && share >= cfg.throttled_at
        {
            throttled.push(ThrottledContainer {
                container: (*name).clone(),
                percent: whole_percent(share),
            });
        }
        let raw = recommend(&tracked.steady, &cfg.estimator, with_history.len(), now);
        let policy_src = vpa.container_policy(name);
        let policy = container_policy(policy_src);
        let capped = cap_to_policy(&raw, &policy, largest_node);
        let (cpu, memory) = match policy.controlled {
            ControlledResources::CpuAndMemory => (true, true),
            ControlledResources::CpuOnly => (true, false),
            ControlledResources::MemoryOnly => (false, true),
        };
        if memory
            && let Some(limit) =
                recommend_memory_limit(&tracked.steady, &cfg.estimator, raw.target.memory, now)
        {
            // maxAllowed and the largest node cap limits as they cap requests; a limit is never below the
            // (capped) request.
            let cap = policy
                .max_memory
                .into_iter()
                .chain(largest_node.map(|n| n.memory))
                .min();
            let limit = cap.map_or(limit, |c| limit.min(c));
            memory_limits.insert((*name).clone(), limit.max(capped.target.memory));
        }
        recs.push(RecommendedContainerResources {
            container_name: (*name).clone(),
            target: resource_list(capped.target, cpu, memory),
            lower_bound: Some(resource_list(capped.lower_bound, cpu, memory)),
            upper_bound: Some(resource_list(capped.upper_bound, cpu, memory)),
            uncapped_target: Some(resource_list(capped.uncapped_target, cpu, memory)),
        });
        outcomes.push(ContainerOutcome {
            container: (*name).clone(),
            recommendation: capped,
            confidence: confidence(&tracked.steady, cfg.estimator.confidence_interval),
        });
    }

    let provided = !recs.is_empty();
    let (reason, message) = if provided {
        (
            "RecommendationProvided",
            format!("{} container(s) recommended", recs.len()),
        )
    } else if live.is_empty() {
        (
            "NoPodsMatched",
            "no pods and no history for the target yet".to_owned(),
        )
    } else {
        (
            "NoHistory",
            "waiting for the first usage reports".to_owned(),
        )
    };
    conditions.set(
        condition::RECOMMENDATION_PROVIDED,
        provided,
        reason,
        message,
    );
    let low: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.confidence < cfg.low_confidence_below)
        .map(|o| o.container.as_str())
        .collect();
    if provided {
        let message = if low.is_empty() {
            "enough history for every container".to_owned()
        } else {
            format!("little history for: {}", low.join(", "))
        };
        conditions.set(
            condition::LOW_CONFIDENCE,
            !low.is_empty(),
            "History",
            message,
        );
        // Whole percents only: the status is rewritten when it changes, and a share moves a little every pass.
        conditions.set(
            condition::CPU_THROTTLED,
            !throttled.is_empty(),
            "CfsThrottling",
            throttled_message(whole_percent(cfg.throttled_at), &throttled),
        );
    }
    let no_pods = live.is_empty();
    let message = if no_pods {
        "no live pods belong to the target"
    } else {
        "pods found"
    };
    conditions.set(condition::NO_PODS_MATCHED, no_pods, "Pods", message.into());

    let status = VerticalPodAutoscalerStatus {
        recommendation: provided.then_some(RecommendedPodResources {
            container_recommendations: recs,
        }),
        conditions: conditions.list,
        observed_generation: generation,
    };
    Outcome {
        status,
        containers: outcomes,
        memory_limits,
        throttled,
    }
}

#[cfg(test)]
mod tests;
