//! The planner's output: one [`Decision`] per pod, each with a reason that is a bounded metric label.

use super::boost::BoostRecord;
use super::types::{Requirements, Resource, ResourceMask};
use super::units::Timestamp;

/// The new values for one container. `after` never drops a field `before` had; the actuator sends only the
/// fields that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerChange {
    pub name: String,
    pub before: Requirements,
    pub after: Requirements,
}

impl ContainerChange {
    /// The resources whose request or limit this change touches.
    pub fn changed(&self) -> ResourceMask {
        let differs = |r: Resource| {
            self.before.requests.get(r) != self.after.requests.get(r)
                || self.before.limits.get(r) != self.after.limits.get(r)
        };
        ResourceMask {
            cpu: differs(Resource::Cpu),
            memory: differs(Resource::Memory),
        }
    }
}

/// One resize of one pod: every changed container, sent as a single patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResizePlan {
    pub containers: Vec<ContainerChange>,
    /// A `RestartContainer` resource changes: the kubelet restarts the container.
    pub disruptive: bool,
    /// Increases were cut down to what the node (or quota) has room for now.
    pub partial: bool,
}

/// Why a resize is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A container was OOM-killed recently.
    OomKill,
    /// A request is outside the recommendation's `[lowerBound, upperBound]` (or missing).
    OutsideBounds,
    /// The target is above the request by more than the up threshold and the cooldown has passed.
    DriftUp,
    /// The target is below the request by more than the down threshold and the (longer) cooldown has passed.
    DriftDown,
    /// A `Deferred` resize timed out and is replaced by one that fits the node now.
    DeferredShrink,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::OomKill => "oom_kill",
            Trigger::OutsideBounds => "outside_bounds",
            Trigger::DriftUp => "drift_up",
            Trigger::DriftDown => "drift_down",
            Trigger::DeferredShrink => "deferred_shrink",
        }
    }
}

/// Why nothing is done for a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    Terminating,
    Unscheduled,
    NotRunning,
    StaticOrMirror,
    Windows,
    PodLevelResources,
    OtherWriter,
    BestEffort,
    NoStatusResources,
    ModeOff,
    ModeInitial,
    NoRecommendation,
    InSync,
    /// The only changes left would alter the QoS class (e.g. `RequestsOnly` on a Guaranteed pod).
    QosWouldChange,
    NoHeadroom,
    QuotaExhausted,
    /// The last attempt was Infeasible and the recommendation has not dropped below it.
    InfeasibleCached,
    /// A resize Tailor did not make is pending on the pod.
    ForeignResizePending,
    /// A disruptive change is needed but the mode forbids restarts and nothing non-disruptive is left.
    DisruptionNotAllowed,
    /// The workload has fewer live pods than `minReplicas`.
    BelowMinReplicas,
    /// The VPA's `updatePolicy.evictionRequirements` do not hold, so the pod is not evicted.
    EvictionRequirementsUnmet,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Terminating => "terminating",
            SkipReason::Unscheduled => "unscheduled",
            SkipReason::NotRunning => "not_running",
            SkipReason::StaticOrMirror => "static_or_mirror",
            SkipReason::Windows => "windows",
            SkipReason::PodLevelResources => "pod_level_resources",
            SkipReason::OtherWriter => "other_writer",
            SkipReason::BestEffort => "best_effort",
            SkipReason::NoStatusResources => "no_status_resources",
            SkipReason::ModeOff => "mode_off",
            SkipReason::ModeInitial => "mode_initial",
            SkipReason::NoRecommendation => "no_recommendation",
            SkipReason::InSync => "in_sync",
            SkipReason::QosWouldChange => "qos_would_change",
            SkipReason::NoHeadroom => "no_headroom",
            SkipReason::QuotaExhausted => "quota_exhausted",
            SkipReason::InfeasibleCached => "infeasible_cached",
            SkipReason::ForeignResizePending => "foreign_resize_pending",
            SkipReason::DisruptionNotAllowed => "disruption_not_allowed",
            SkipReason::BelowMinReplicas => "below_min_replicas",
            SkipReason::EvictionRequirementsUnmet => "eviction_requirements_unmet",
        }
    }
}

/// Why a pod must wait, and so when to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitReason {
    Cooldown,
    RateLimited,
    /// No disruption budget for a restarting resize (PDB, one restarting pod per workload).
    DisruptionBudget,
    /// A resize is `Deferred`; the bounded wait has not run out.
    ResizeDeferred,
    /// The kubelet is carrying a resize out.
    ResizeInProgress,
    /// The kubelet has not yet observed the generation our patch produced.
    AwaitingKubelet,
    /// Backing off after an actuation error.
    BackingOff,
    /// A startup boost is active; it ends at `until` at the latest.
    BoostActive,
}

impl WaitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Cooldown => "cooldown",
            WaitReason::RateLimited => "rate_limited",
            WaitReason::DisruptionBudget => "disruption_budget",
            WaitReason::ResizeDeferred => "resize_deferred",
            WaitReason::ResizeInProgress => "resize_in_progress",
            WaitReason::AwaitingKubelet => "awaiting_kubelet",
            WaitReason::BackingOff => "backing_off",
            WaitReason::BoostActive => "boost_active",
        }
    }
}

/// Why a pending resize is taken back (or replaced by an eviction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    Infeasible,
    DeferredTimeout,
    InProgressTimeout,
    ActuationError,
    /// The kubelet refused to lower a memory limit below current usage.
    MemoryInUse,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Infeasible => "infeasible",
            FailureReason::DeferredTimeout => "deferred_timeout",
            FailureReason::InProgressTimeout => "in_progress_timeout",
            FailureReason::ActuationError => "actuation_error",
            FailureReason::MemoryInUse => "memory_in_use",
        }
    }
}

/// Why a pod is evicted (only in `Recreate` and `InPlaceOrRecreate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvictReason {
    /// `Recreate` mode applies every change by eviction.
    Recreate,
    /// The pod does not fit its node at the new size; the scheduler can place it elsewhere.
    NoHeadroom,
    /// A pending in-place resize failed.
    Failed(FailureReason),
}

impl EvictReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EvictReason::Recreate => "recreate",
            EvictReason::NoHeadroom => "no_headroom",
            EvictReason::Failed(f) => f.as_str(),
        }
    }
}

/// Why a startup boost ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnboostReason {
    /// Ready for the boost's duration.
    Ready,
    /// The hard maximum passed.
    MaxDuration,
    /// The boost went `Deferred` or `Infeasible`: withdrawn at once.
    Withdrawn,
}

impl UnboostReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnboostReason::Ready => "ready",
            UnboostReason::MaxDuration => "max_duration",
            UnboostReason::Withdrawn => "withdrawn",
        }
    }
}

/// What to do with one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send one resize with every container's change.
    Resize {
        plan: ResizePlan,
        trigger: Trigger,
    },
    /// Apply the non-disruptive part (CPU) now; `later` (memory) waits for the disruption budget.
    Split {
        now: ResizePlan,
        later: ResourceMask,
        trigger: Trigger,
    },
    Skip(SkipReason),
    Wait {
        until: Timestamp,
        reason: WaitReason,
    },
    /// Put the spec back to what runs. With `infeasible_attempt`, remember the attempt and do not retry it
    /// (reason `Infeasible`: until the recommendation drops below it; reason `DeferredTimeout`: for the
    /// Deferred back-off).
    Revert {
        plan: ResizePlan,
        reason: FailureReason,
        infeasible_attempt: Option<Vec<ContainerChange>>,
    },
    Evict(EvictReason),
    /// Raise CPU for startup; record the boost on the pod (annotation, separate patch).
    Boost {
        plan: ResizePlan,
        record: BoostRecord,
    },
    /// End a boost: CPU back to the current recommendation (or the original values). An empty plan only
    /// updates the record.
    Unboost {
        plan: ResizePlan,
        record: BoostRecord,
        reason: UnboostReason,
    },
}

impl Decision {
    /// The decision kind, a bounded metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Resize { .. } => "resize",
            Decision::Split { .. } => "split",
            Decision::Skip(_) => "skip",
            Decision::Wait { .. } => "wait",
            Decision::Revert { .. } => "revert",
            Decision::Evict(_) => "evict",
            Decision::Boost { .. } => "boost",
            Decision::Unboost { .. } => "unboost",
        }
    }

    /// The reason, a bounded metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Resize { trigger, .. } | Decision::Split { trigger, .. } => trigger.as_str(),
            Decision::Skip(r) => r.as_str(),
            Decision::Wait { reason, .. } => reason.as_str(),
            Decision::Revert { reason, .. } => reason.as_str(),
            Decision::Evict(r) => r.as_str(),
            Decision::Boost { .. } => "startup",
            Decision::Unboost { reason, .. } => reason.as_str(),
        }
    }

    /// The resize to send, if the decision sends one.
    pub fn plan(&self) -> Option<&ResizePlan> {
        match self {
            Decision::Resize { plan, .. }
            | Decision::Revert { plan, .. }
            | Decision::Boost { plan, .. }
            | Decision::Unboost { plan, .. } => Some(plan),
            Decision::Split { now, .. } => Some(now),
            _ => None,
        }
    }
}
