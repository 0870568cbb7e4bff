//! What the planner sees: plain views of a pod, its recommendation, its workload's policy and budget, the
//! namespace's LimitRange and quota, and the node's capacity. The updater builds these from API objects; tests
//! build them by hand.

use super::boost::{BoostPolicy, BoostRecord};
use super::types::{QosClass, Requirements, ResizePolicy, ResourceMask, ResourceValues};
use super::units::{Bytes, MilliCpu, Timestamp};

/// Where a container sits in the pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// `spec.containers[]`.
    App,
    /// A native sidecar: `spec.initContainers[]` with `restartPolicy: Always`. Resizable like an app container.
    Sidecar,
    /// A regular init container: immutable, but it counts for the QoS class.
    Init,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminationReason {
    OomKilled,
    Other,
}

/// `containerStatuses[].lastState.terminated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub reason: TerminationReason,
    pub finished_at: Option<Timestamp>,
}

/// One container of the pod: its spec, what the kubelet reports and the restart history.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerView {
    pub name: String,
    pub kind: ContainerKind,
    /// `spec.containers[].resources`: the desired values.
    pub spec: Requirements,
    /// `status.containerStatuses[].allocatedResources` (requests only).
    pub allocated: Option<ResourceValues>,
    /// `status.containerStatuses[].resources`: what runs. `None` when the status does not carry it.
    pub actual: Option<Requirements>,
    pub resize_policy: ResizePolicy,
    pub restart_count: u32,
    pub last_termination: Option<Termination>,
    pub running: bool,
    pub ready: bool,
    pub started_at: Option<Timestamp>,
    /// Current memory working set, when known (node-agent or metrics API); guards memory-limit decreases.
    pub working_set: Option<Bytes>,
}

impl ContainerView {
    pub fn resizable(&self) -> bool {
        matches!(self.kind, ContainerKind::App | ContainerKind::Sidecar)
    }

    /// What runs now: the reported values, or the spec when the container has no status resources yet.
    pub fn current(&self) -> Requirements {
        self.actual.unwrap_or(self.spec)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingReason {
    Deferred,
    Infeasible,
    Other,
}

/// The `PodResizePending` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResizePending {
    pub reason: PendingReason,
    pub message: String,
    /// `lastTransitionTime`.
    pub since: Timestamp,
}

/// The `PodResizeInProgress` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResizeInProgress {
    /// Reason `Error`: actuation failed.
    pub error: bool,
    pub message: String,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

/// Another controller that writes pod resources; Tailor never fights it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForeignWriter {
    /// google/kube-startup-cpu-boost (label `autoscaling.x-k8s.io/startup-cpu-boost`).
    KubeStartupCpuBoost,
    /// The upstream VPA's startup boost (annotations `vpaCpuStartupBoost/<container>`).
    VpaStartupBoost,
}

/// Label key kube-startup-cpu-boost puts on the pods it boosts.
pub const KUBE_STARTUP_CPU_BOOST_LABEL: &str = "autoscaling.x-k8s.io/startup-cpu-boost";
/// Prefix of the annotations the upstream VPA's startup boost writes.
pub const VPA_STARTUP_BOOST_ANNOTATION_PREFIX: &str = "vpaCpuStartupBoost/";

/// Which other writer, if any, owns this pod's resources, from its label and annotation keys.
pub fn detect_foreign_writer<'a>(
    label_keys: impl IntoIterator<Item = &'a str>,
    annotation_keys: impl IntoIterator<Item = &'a str>,
) -> Option<ForeignWriter> {
    if label_keys
        .into_iter()
        .any(|k| k == KUBE_STARTUP_CPU_BOOST_LABEL)
    {
        return Some(ForeignWriter::KubeStartupCpuBoost);
    }
    let mut found = None;
    for key in annotation_keys {
        if key == KUBE_STARTUP_CPU_BOOST_LABEL {
            return Some(ForeignWriter::KubeStartupCpuBoost);
        }
        if key.starts_with(VPA_STARTUP_BOOST_ANNOTATION_PREFIX) {
            found = Some(ForeignWriter::VpaStartupBoost);
        }
    }
    found
}

/// One pod as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    pub namespace: String,
    pub name: String,
    /// Key of the workload (replica group) the pod belongs to, as used in [`super::PassState`].
    pub workload: String,
    /// `spec.nodeName`; `None` while unscheduled.
    pub node: Option<String>,
    pub phase: PodPhase,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `status.qosClass` (fixed for the pod's lifetime).
    pub qos: QosClass,
    /// App containers, native sidecars and init containers, in spec order.
    pub containers: Vec<ContainerView>,
    pub generation: i64,
    pub observed_generation: Option<i64>,
    pub pending: Option<ResizePending>,
    pub in_progress: Option<ResizeInProgress>,
    /// Static or mirror pod (`kubernetes.io/config.mirror` annotation or a Node owner).
    pub static_or_mirror: bool,
    /// `spec.os.name == windows`.
    pub windows: bool,
    /// Pod-level `spec.resources` is set.
    pub pod_level_resources: bool,
    pub foreign_writer: Option<ForeignWriter>,
    /// The pod's `Ready` condition and its `lastTransitionTime` when True.
    pub ready: bool,
    pub ready_since: Option<Timestamp>,
    /// `status.startTime`.
    pub start_time: Option<Timestamp>,
    /// Tailor's own startup-boost record, parsed from the pod annotation.
    pub boost: Option<BoostRecord>,
}

impl PodView {
    pub fn container(&self, name: &str) -> Option<&ContainerView> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// Target and bounds for one container, from the VPA status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecommendation {
    pub name: String,
    pub target: ResourceValues,
    pub lower: ResourceValues,
    pub upper: ResourceValues,
    /// A recommended memory limit (Tailor's `MemoryLimitPolicy::FromPeaks`); `None` keeps the limit's ratio to
    /// the request, as upstream. Used for Burstable containers whose limits are controlled.
    pub memory_limit: Option<Bytes>,
}

/// `updatePolicy.updateMode` (`Auto` maps to `Recreate`, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateMode {
    Off,
    Initial,
    Recreate,
    InPlace,
    InPlaceOrRecreate,
}

impl UpdateMode {
    /// Modes in which the updater may evict pods.
    pub fn may_evict(self) -> bool {
        matches!(self, UpdateMode::Recreate | UpdateMode::InPlaceOrRecreate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ControlledValues {
    #[default]
    RequestsAndLimits,
    RequestsOnly,
}

/// `resourcePolicy.containerPolicies[]`, resolved for one container name (`"*"` is the default entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPolicy {
    pub name: String,
    /// `mode: Off`.
    pub off: bool,
    pub controlled: ResourceMask,
    pub controlled_values: ControlledValues,
}

/// The VPA's update and resource policy as it applies to one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadPolicy {
    pub mode: UpdateMode,
    pub containers: Vec<ContainerPolicy>,
    /// `updatePolicy.minReplicas`; the planner config's default applies when absent.
    pub min_replicas: Option<u32>,
    /// Startup CPU boost from `startupBoost.cpu` or Tailor's annotation.
    pub boost: Option<BoostPolicy>,
}

impl WorkloadPolicy {
    /// The policy for a container: its own entry, else the `"*"` entry, else the defaults.
    pub fn for_container(&self, name: &str) -> (bool, ResourceMask, ControlledValues) {
        let found = self
            .containers
            .iter()
            .find(|p| p.name == name)
            .or_else(|| self.containers.iter().find(|p| p.name == "*"));
        match found {
            Some(p) => (p.off, p.controlled, p.controlled_values),
            None => (
                false,
                ResourceMask::ALL,
                ControlledValues::RequestsAndLimits,
            ),
        }
    }
}

/// A ratio in thousandths (LimitRange `maxLimitRequestRatio`: "2" is 2000).
pub type Permille = i64;

/// Container-type LimitRange constraints of a namespace, merged to the tightest values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitRange {
    pub min: ResourceValues,
    pub max: ResourceValues,
    pub max_ratio_cpu: Option<Permille>,
    pub max_ratio_memory: Option<Permille>,
}

/// Free ResourceQuota room in a namespace (`hard - used`); `None` where no quota applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaRoom {
    pub requests: ResourceValues,
    pub limits: ResourceValues,
}

/// A node's allocatable capacity and what all its pods hold: for every pod, the max of spec, allocated and
/// actual requests, plus pod overhead (the scheduler's and quota's view while a resize is pending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeCapacity {
    pub allocatable_cpu: MilliCpu,
    pub allocatable_memory: Bytes,
    pub committed_cpu: MilliCpu,
    pub committed_memory: Bytes,
}

/// Disruption budget of a workload for this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkloadBudget {
    /// `status.disruptionsAllowed` of the PDB covering the pods, if any.
    pub pdb_disruptions_allowed: Option<i32>,
    /// Pods of the workload restarting now (not Ready, being evicted, or with a disruptive resize in flight).
    pub restarting: u32,
    /// Live (running, not terminating) pods of the workload.
    pub live_replicas: u32,
}

/// `updatePolicy.evictionRequirements[].changeRequirement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeRequirement {
    /// The target is above the current request.
    TargetHigherThanRequests,
    /// The target is below the current request.
    TargetLowerThanRequests,
}

/// One entry of `updatePolicy.evictionRequirements`: it holds if any of `resources` changes as required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EvictionRequirement {
    pub resources: ResourceMask,
    pub change: ChangeRequirement,
}

/// The VPA's rules for the recreate paths (`Recreate`, and the eviction fallback of `InPlaceOrRecreate`).
/// Set per workload in [`super::PassState::eviction`]; none means "no extra rule".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvictionPolicy {
    /// Every requirement must hold (for at least one container) before a pod is evicted; in-place resizes are
    /// never held back by them (upstream kubernetes/autoscaler#10181).
    pub requirements: Vec<EvictionRequirement>,
    /// `updatePolicy.evictAfterOOMSeconds`: in `Recreate` mode an OOM kill triggers an eviction only if the
    /// container had run for less than this; the planner's `oom_window_ms` applies when unset.
    pub evict_after_oom_ms: Option<i64>,
}

impl EvictionPolicy {
    /// Whether the requirements let a pod be evicted for moving from its requests to `recs`: some container
    /// with a recommendation meets every requirement (a missing request meets any).
    pub fn admits(&self, pod: &PodView, recs: Option<&[ContainerRecommendation]>) -> bool {
        if self.requirements.is_empty() {
            return true;
        }
        let Some(recs) = recs else {
            return false;
        };
        pod.containers.iter().filter(|c| c.resizable()).any(|c| {
            let Some(rec) = recs.iter().find(|r| r.name == c.name) else {
                return false;
            };
            self.requirements.iter().all(|req| {
                super::types::Resource::ALL
                    .into_iter()
                    .filter(|r| req.resources.contains(*r))
                    .any(|r| {
                        let Some(target) = rec.target.get(r) else {
                            return false;
                        };
                        match (c.spec.requests.get(r), req.change) {
                            (None, _) => true,
                            (Some(q), ChangeRequirement::TargetHigherThanRequests) => target > q,
                            (Some(q), ChangeRequirement::TargetLowerThanRequests) => target < q,
                        }
                    })
            })
        })
    }
}
