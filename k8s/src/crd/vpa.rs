//! `autoscaling.k8s.io/v1` `VerticalPodAutoscaler`, field for field compatible with the upstream CRD
//! (kubernetes/autoscaler `vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go` and the generated
//! `deploy/vpa-v1-crd-gen.yaml`). Operators keep their VPA objects; nothing here forks an upstream field.
//!
//! Enums carry an `Unknown` catch-all (kept out of the schema) so that a value added by a newer upstream CRD
//! does not make the whole watch fail to deserialize; consumers treat `Unknown` as "configuration unsupported".

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v1::CrossVersionObjectReference;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tailor_core::estimate::{LimitsAnnotationError, MEMORY_LIMITS_ANNOTATION, parse_memory_limits};

/// A resource name → quantity map, as `v1.ResourceList` (`cpu`, `memory`, ...).
pub type ResourceList = BTreeMap<String, Quantity>;

/// The recommender name a VPA gets when `spec.recommenders` is empty, upstream's `default`.
pub const DEFAULT_RECOMMENDER_NAME: &str = "default";

/// The container name of the wildcard policy in `resourcePolicy.containerPolicies`.
pub const WILDCARD_CONTAINER: &str = "*";

/// Specification of the behaviour of the autoscaler.
// Each printcolumn repeats `type_`; the lint mistakes that for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "autoscaling.k8s.io",
    version = "v1",
    kind = "VerticalPodAutoscaler",
    plural = "verticalpodautoscalers",
    singular = "verticalpodautoscaler",
    shortname = "vpa",
    namespaced,
    status = "VerticalPodAutoscalerStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "VerticalPodAutoscaler is the configuration for a vertical pod autoscaler, which automatically manages pod resources based on historical and real time resource utilization.",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes/kubernetes/pull/63797"
    ),
    printcolumn(
        name = "Mode",
        type_ = "string",
        json_path = ".spec.updatePolicy.updateMode"
    ),
    printcolumn(
        name = "CPU",
        type_ = "string",
        json_path = ".status.recommendation.containerRecommendations[0].target.cpu"
    ),
    printcolumn(
        name = "Mem",
        type_ = "string",
        json_path = ".status.recommendation.containerRecommendations[0].target.memory"
    ),
    printcolumn(
        name = "Provided",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='RecommendationProvided')].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerSpec {
    /// The controller managing the set of pods for the autoscaler to control, e.g. a Deployment or StatefulSet.
    /// If the target cannot be used, the ConfigUnsupported condition is reported.
    pub target_ref: CrossVersionObjectReference,

    /// Rules on how changes are applied to the pods. Unset fields take their defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<PodUpdatePolicy>,

    /// Constraints on the recommendations for individual containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<PodResourcePolicy>,

    /// The recommender responsible for this object: empty (the default recommender) or exactly one entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommenders: Vec<RecommenderSelector>,

    /// Startup boost policy for the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_boost: Option<StartupBoost>,
}

/// Points to a specific recommender.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RecommenderSelector {
    /// Name of the recommender responsible for generating recommendations for this object.
    pub name: String,
}

/// The startup boost policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct StartupBoost {
    /// CPU startup boost policy. If unset, no startup boost is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<GenericStartupBoost>,
}

/// The startup boost policy for one resource.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "(self.type == 'Factor') == has(self.factor)",
     "message": "factor is required when type is Factor and forbidden otherwise"},
    {"rule": "(self.type == 'Quantity') == has(self.quantity)",
     "message": "quantity is required when type is Quantity and forbidden otherwise"},
]))]
pub struct GenericStartupBoost {
    /// The kind of boost to apply: "Factor" or "Quantity". No boost is applied for unrecognized values.
    #[serde(rename = "type")]
    pub type_: StartupBoostType,
    /// Factor applied to the resource request. Required when type is "Factor".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i32>,
    /// Absolute quantity used as request and limit during the boost. Required when type is "Quantity".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::quantity")]
    pub quantity: Option<Quantity>,
    /// How long to keep the pod boosted after it goes Ready. Defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i32>,
}

/// The kind of startup boost.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StartupBoostType {
    /// Multiply the request by `factor`.
    #[default]
    Factor,
    /// Use `quantity` as request and limit.
    Quantity,
    /// A value this version does not know; treated as "no boost".
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// Rules on how changes are applied to the pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodUpdatePolicy {
    /// When the autoscaler applies changes to the pod resources. The default is `Recreate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<UpdateMode>,
    /// Minimal number of live replicas for the updater to disrupt a pod. Overrides the global flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Requirements that must all hold for a pod to be evicted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eviction_requirements: Vec<EvictionRequirement>,
    /// Seconds after start within which an OOM-killed pod is considered for eviction (upstream PerVPAConfig).
    #[serde(
        rename = "evictAfterOOMSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1))]
    pub evict_after_oom_seconds: Option<i32>,
}

impl PodUpdatePolicy {
    /// The effective update mode (`Recreate` when unset, as upstream's `GetUpdateMode`).
    pub fn mode(&self) -> UpdateMode {
        self.update_mode.unwrap_or(UpdateMode::Recreate)
    }
}

/// When the autoscaler applies changes to the pod resources.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum UpdateMode {
    /// Never change pod resources; recommendations are still written (a dry run).
    Off,
    /// Assign resources only at pod creation.
    Initial,
    /// Assign at creation and update running pods by recreating them.
    #[default]
    Recreate,
    /// Resize in place where possible, else recreate.
    InPlaceOrRecreate,
    /// Resize in place only; never evict.
    InPlace,
    /// Deprecated upstream alias of `Recreate`.
    Auto,
    /// A value this version does not know.
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// A condition that must hold for a pod to be evicted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvictionRequirement {
    /// Resources the condition applies to; it holds if any of them meets `changeRequirement`.
    pub resources: Vec<String>,
    /// The kind of change needed for the pod to be evicted.
    pub change_requirement: EvictionChangeRequirement,
}

/// The relation between target and current requests that an eviction requires.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum EvictionChangeRequirement {
    /// The target is above the current requests (scale up).
    #[default]
    TargetHigherThanRequests,
    /// The target is below the current requests (scale down).
    TargetLowerThanRequests,
    /// A value this version does not know.
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// How the autoscaler computes recommendations for the pod's containers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodResourcePolicy {
    /// Per-container policies: at most one per container name plus an optional `*` wildcard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_policies: Vec<ContainerResourcePolicy>,
}

impl PodResourcePolicy {
    /// The policy for `container`: its own entry, else the `*` entry, else none.
    pub fn for_container(&self, container: &str) -> Option<&ContainerResourcePolicy> {
        self.container_policies
            .iter()
            .find(|p| p.container_name.as_deref() == Some(container))
            .or_else(|| {
                self.container_policies
                    .iter()
                    .find(|p| p.container_name.as_deref() == Some(WILDCARD_CONTAINER))
            })
    }
}

/// How the autoscaler computes recommendations for one container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourcePolicy {
    /// Name of the container, or `*` for containers without a policy of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Whether autoscaling is enabled for the container. The default is `Auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ContainerScalingMode>,
    /// The minimal amount of resources that will be recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::resource_list")]
    pub min_allowed: Option<ResourceList>,
    /// The maximum amount of resources that will be recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::resource_list")]
    pub max_allowed: Option<ResourceList>,
    /// Resources recommendations are computed for. Defaults to `[cpu, memory]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_resources: Option<Vec<String>>,
    /// Which values are controlled. Defaults to `RequestsAndLimits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_values: Option<ControlledValues>,
    /// Ratio to increase memory by when an OOM is detected (upstream PerVPAConfig).
    #[serde(
        rename = "oomBumpUpRatio",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::crd::schema::quantity")]
    pub oom_bump_up_ratio: Option<Quantity>,
    /// Minimum increase of memory when an OOM is detected (upstream PerVPAConfig).
    #[serde(
        rename = "oomMinBumpUp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::crd::schema::quantity")]
    pub oom_min_bump_up: Option<Quantity>,
    /// Startup boost policy for this container; overrides the pod-level one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_boost: Option<StartupBoost>,
}

impl ContainerResourcePolicy {
    /// Whether the container is excluded from recommendations (`mode: Off`).
    pub fn is_off(&self) -> bool {
        self.mode == Some(ContainerScalingMode::Off)
    }

    /// Whether `resource` (`cpu` or `memory`) is controlled.
    pub fn controls(&self, resource: &str) -> bool {
        self.controlled_resources
            .as_ref()
            .is_none_or(|list| list.iter().any(|r| r == resource))
    }

    /// The effective controlled values (`RequestsAndLimits` when unset).
    pub fn values(&self) -> ControlledValues {
        self.controlled_values
            .unwrap_or(ControlledValues::RequestsAndLimits)
    }
}

/// Whether autoscaling is enabled for a container.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ContainerScalingMode {
    /// Autoscaling is enabled.
    #[default]
    Auto,
    /// Autoscaling is disabled.
    Off,
    /// A value this version does not know.
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// Which resource values are autoscaled.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ControlledValues {
    /// Requests and limits; limits scale proportionally to requests.
    #[default]
    RequestsAndLimits,
    /// Requests only.
    RequestsOnly,
    /// A value this version does not know.
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// The runtime state of the autoscaler.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerStatus {
    /// The most recently computed recommendation for the controlled pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<RecommendedPodResources>,
    /// Conditions of this autoscaler.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<VerticalPodAutoscalerCondition>,
    /// The most recent `metadata.generation` observed by this autoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
}

impl VerticalPodAutoscalerStatus {
    /// The condition of type `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&VerticalPodAutoscalerCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// The recommendation for each container of the pod (except those with mode Off).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedPodResources {
    /// Resources recommended for each container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_recommendations: Vec<RecommendedContainerResources>,
}

/// The recommendation for one container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedContainerResources {
    /// Name of the container.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    /// Recommended amount of resources; observes the container policy.
    #[schemars(schema_with = "crate::crd::schema::resource_list")]
    pub target: ResourceList,
    /// Minimum recommended amount of resources; observes the container policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::resource_list")]
    pub lower_bound: Option<ResourceList>,
    /// Maximum recommended amount of resources; observes the container policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::resource_list")]
    pub upper_bound: Option<ResourceList>,
    /// The target before the container policy was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::schema::resource_list")]
    pub uncapped_target: Option<ResourceList>,
}

/// The condition types the recommender writes.
pub mod condition {
    /// Whether a recommendation could be computed.
    pub const RECOMMENDATION_PROVIDED: &str = "RecommendationProvided";
    /// The recommendation rests on little history for some containers.
    pub const LOW_CONFIDENCE: &str = "LowConfidence";
    /// The target's selector matched no pods.
    pub const NO_PODS_MATCHED: &str = "NoPodsMatched";
    /// History is being loaded.
    pub const FETCHING_HISTORY: &str = "FetchingHistory";
    /// The configuration is deprecated.
    pub const CONFIG_DEPRECATED: &str = "ConfigDeprecated";
    /// The configuration is unsupported; no recommendation will be provided.
    pub const CONFIG_UNSUPPORTED: &str = "ConfigUnsupported";
    /// Tailor's own: some container spent a large share of its recent CFS periods throttled (message form in
    /// [`crate::crd::throttled`]). Upstream readers ignore condition types they do not know.
    pub const CPU_THROTTLED: &str = "CPUThrottled";
}

/// The state of a VerticalPodAutoscaler at a point in time.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerCondition {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition last transitioned from one status to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// The reason for the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable explanation of the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
}

impl VerticalPodAutoscaler {
    /// The memory limits Tailor's recommender published in the `tailor.dev/memory-limits` annotation: `None`
    /// without the annotation, an error when it is malformed (readers then ignore it whole).
    pub fn memory_limits(
        &self,
    ) -> Option<Result<BTreeMap<String, tailor_core::quantity::Bytes>, LimitsAnnotationError>> {
        self.metadata
            .annotations
            .as_ref()?
            .get(MEMORY_LIMITS_ANNOTATION)
            .map(|value| parse_memory_limits(value))
    }

    /// The containers the recommender's `CPUThrottled` condition names while it is True; empty otherwise.
    pub fn throttled_containers(&self) -> Vec<crate::crd::throttled::ThrottledContainer> {
        self.status
            .as_ref()
            .and_then(|s| s.condition(condition::CPU_THROTTLED))
            .filter(|c| c.status == "True")
            .and_then(|c| c.message.as_deref())
            .map(crate::crd::throttled::parse_throttled_message)
            .unwrap_or_default()
    }

    /// Whether this recommender (`name`) serves the VPA: it is named in `spec.recommenders`, or the list is
    /// empty and `serve_unnamed` is set (the cluster's only recommender).
    pub fn is_served_by(&self, name: &str, serve_unnamed: bool) -> bool {
        if self.spec.recommenders.is_empty() {
            serve_unnamed
        } else {
            self.spec.recommenders.iter().any(|r| r.name == name)
        }
    }

    /// The effective update mode.
    pub fn update_mode(&self) -> UpdateMode {
        self.spec
            .update_policy
            .as_ref()
            .map_or(UpdateMode::Recreate, PodUpdatePolicy::mode)
    }

    /// The container policy for `container`, if any.
    pub fn container_policy(&self, container: &str) -> Option<&ContainerResourcePolicy> {
        self.spec.resource_policy.as_ref()?.for_container(container)
    }
}
