//! Sizing at pod creation, for the admission webhook. A new pod gets the size the planner would resize it to,
//! under the same rules (QoS class kept, requests ≤ limits, `controlledValues`, container policies, LimitRange
//! clamps, CPU floors) and through the same code, so a pod never starts at a size the updater would then undo.
//!
//! What differs from a running pod: there is no usage yet, so a memory limit may drop with its request (the
//! working-set guard protects running containers only); there is no node yet, so only the namespace quota
//! bounds an increase; and every mode but `Off` applies (`Initial` is exactly "at creation only"). A workload
//! with a startup boost also starts boosted (see [`super::boost::at_creation`]), so the boost is there from the
//! container's first instruction instead of arriving by resize after it started.

use super::boost::{self, BoostRecord, CreationLimits};
use super::config::PlannerConfig;
use super::decision::{ContainerChange, SkipReason};
use super::fit::{self, Fit};
use super::input::{
    ContainerRecommendation, LimitRange, PodView, QuotaRoom, UpdateMode, WorkloadPolicy,
};
use super::qos::compute_qos;
use super::sizing::{SizingInput, changes, size_pod};
use super::types::{QosClass, Requirements, Resource, ResourceMask, ResourceValues};
use super::units::Timestamp;

/// Everything sizing at creation reads besides the pod.
#[derive(Debug, Clone, Copy)]
pub struct CreationInput<'a> {
    pub config: &'a PlannerConfig,
    /// The VPA's recommendation; `None` while it has none.
    pub recommendation: Option<&'a [ContainerRecommendation]>,
    pub policy: &'a WorkloadPolicy,
    /// The namespace's merged `Container` LimitRange.
    pub limit_range: Option<&'a LimitRange>,
    /// Free quota room in the namespace (`hard − used`, which does not count the new pod yet).
    pub quota: Option<&'a QuotaRoom>,
    /// When the pod is created: the start of a startup boost given at creation.
    pub now: Timestamp,
}

/// What a pod being created should start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// Every container that starts at another size than it was written with; never empty.
    pub changes: Vec<ContainerChange>,
    /// A startup boost already in `changes`, for the pod's boost-state annotation.
    pub boost: Option<BoostRecord>,
}

/// The size a pod being created should start at (the recommended size, plus the startup boost where the
/// workload has one), or why it should start as it is.
pub fn size_at_creation(pod: &PodView, input: &CreationInput<'_>) -> Result<Creation, SkipReason> {
    if input.policy.mode == UpdateMode::Off {
        return Err(SkipReason::ModeOff);
    }
    if pod.static_or_mirror {
        return Err(SkipReason::StaticOrMirror);
    }
    if pod.pod_level_resources {
        return Err(SkipReason::PodLevelResources);
    }
    if pod.foreign_writer.is_some() {
        return Err(SkipReason::OtherWriter);
    }
    if pod.qos == QosClass::BestEffort {
        return Err(SkipReason::BestEffort);
    }
    let sized = match input.recommendation {
        Some(recs) => recommended(pod, recs, input),
        None => Err(SkipReason::NoRecommendation),
    };
    let Some(boost_policy) = input.policy.boost.as_ref() else {
        return sized.map(|changes| Creation {
            changes,
            boost: None,
        });
    };
    let mut after = specs_after(pod, sized.as_deref().unwrap_or_default());
    let limits = CreationLimits {
        limit_range: input.limit_range,
        quota_limit_cpu_room: input.quota.and_then(|q| {
            let room = creation_room_for(pod, &after, q);
            room.limits.get(Resource::Cpu)
        }),
    };
    let Some(record) = boost::at_creation(
        pod,
        &mut after,
        input.policy,
        boost_policy,
        limits,
        input.now,
    ) else {
        return sized.map(|changes| Creation {
            changes,
            boost: None,
        });
    };
    Ok(Creation {
        changes: changes(pod, after, input.config),
        boost: Some(record),
    })
}

/// The containers that should start at their recommended size; never empty.
fn recommended(
    pod: &PodView,
    recs: &[ContainerRecommendation],
    input: &CreationInput<'_>,
) -> Result<Vec<ContainerChange>, SkipReason> {
    // Nothing runs yet: a lower memory limit cannot kill anything.
    let config = PlannerConfig {
        memory_limit_decrease_without_usage: true,
        ..*input.config
    };
    let oom = vec![false; pod.containers.len()];
    let sizing = SizingInput {
        cfg: &config,
        recs,
        policy: input.policy,
        limit_range: input.limit_range,
        mask: ResourceMask::ALL,
        oom: &oom,
    };
    let mut changes = size_pod(pod, &sizing)?;
    if changes.is_empty() {
        return Err(SkipReason::InSync);
    }
    if let Some(q) = input.quota {
        let room = creation_room(pod, q);
        match fit::fit(pod, &mut changes, None, Some(&room), true) {
            Fit::Fits | Fit::Shrunk => {}
            Fit::NoRoom(reason) => return Err(reason),
        }
    }
    if compute_qos(specs_after(pod, &changes).iter()) != pod.qos {
        return Err(SkipReason::QosWouldChange);
    }
    Ok(changes)
}

/// Every container's requirements once `changes` are applied, in the pod's container order.
fn specs_after(pod: &PodView, changes: &[ContainerChange]) -> Vec<Requirements> {
    let mut after: Vec<Requirements> = pod.containers.iter().map(|c| c.spec).collect();
    for ch in changes {
        if let Some(i) = pod.containers.iter().position(|c| c.name == ch.name) {
            after[i] = ch.after;
        }
    }
    after
}

/// The quota room as [`fit::fit`] reads it for a running pod, whose own requests are already in `used`. A pod
/// being created is not counted yet, so its requests and limits come off the room first.
fn creation_room(pod: &PodView, free: &QuotaRoom) -> QuotaRoom {
    let specs: Vec<Requirements> = pod.containers.iter().map(|c| c.spec).collect();
    creation_room_for(pod, &specs, free)
}

/// The quota room left once the pod is created with `specs` (one per container).
fn creation_room_for(pod: &PodView, specs: &[Requirements], free: &QuotaRoom) -> QuotaRoom {
    let sum = |pick: fn(&Requirements) -> &ResourceValues, r: Resource| -> i64 {
        pod.containers
            .iter()
            .zip(specs)
            .filter(|(c, _)| c.resizable())
            .filter_map(|(_, s)| pick(s).get(r))
            .fold(0i64, i64::saturating_add)
    };
    let mut room = *free;
    for r in Resource::ALL {
        room.requests.set(
            r,
            free.requests
                .get(r)
                .map(|f| f.saturating_sub(sum(|s| &s.requests, r))),
        );
        room.limits.set(
            r,
            free.limits
                .get(r)
                .map(|f| f.saturating_sub(sum(|s| &s.limits, r))),
        );
    }
    room
}
