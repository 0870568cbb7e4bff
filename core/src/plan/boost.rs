//! Startup CPU boost: more CPU while a container starts, back to the current recommendation once the pod is
//! Ready for the boost's duration (or after a hard maximum), again on every container restart.
//!
//! The boost raises the CPU *limit* (no scheduling reservation) and raises the request only as far as the node
//! has room (see `fit`), so it never parks capacity as Deferred. Guaranteed pods move both together and are
//! only boosted when the node has room. Containers whose CPU `resizePolicy` is `RestartContainer` are never
//! boosted (the boost would restart them).
//!
//! With the admission webhook, a pod can also be created boosted ([`at_creation`]: CPU limits only, so nothing
//! more is reserved at scheduling); the record it carries is the same, and the unboost below is the same.
//!
//! How runtimes see the boosted CPU: an in-place boost lands after the container has started, as a change of the CPU
//! quota (`cpu.max`, from the limit) and weight (`cpu.weight`, from the request). A JVM sizes GC and JIT
//! threads from the quota at start-up, so those pools keep their pre-boost size: the boost speeds up class
//! loading and JIT warm-up, but pools are not sized for the boosted CPUs and do not need to shrink at the
//! unboost. A container restarted during the boost starts with the boosted quota and sizes for it; pin
//! `-XX:ActiveProcessorCount` for stable pools. Go 1.25+ derives `GOMAXPROCS` from the cgroup CPU limit and
//! updates it while running, so a Go program follows the boost up and the unboost down within seconds; older Go
//! versions (or a fixed `GOMAXPROCS`) use the node's CPU count and only see the quota as throttling.

use super::config::PlannerConfig;
use super::decision::{ContainerChange, UnboostReason};
use super::input::{ContainerRecommendation, LimitRange, PodView, UpdateMode, WorkloadPolicy};
use super::sizing::{SizingInput, permille, size_pod};
use super::types::{QosClass, Requirements, Resource, ResourceMask, RestartPolicy};
use super::units::{MilliCpu, Timestamp, at, cpu, cpu_value, ms};

/// How much CPU a boost adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoostAmount {
    /// Multiply request and limit (VPA `type: Factor`, ≥ 1).
    Factor(u32),
    /// Add to request and limit (VPA `type: Quantity`).
    Quantity(MilliCpu),
}

/// A workload's boost policy (VPA `startupBoost.cpu` or Tailor's annotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BoostPolicy {
    pub amount: BoostAmount,
    /// How long after Ready the boost stays (`durationSeconds`).
    pub duration_ms: i64,
    /// Hard maximum from the boost's start; the planner config's default when `None`.
    pub max_duration_ms: Option<i64>,
}

/// One boosted container and its values before the boost.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoostedContainer {
    pub name: String,
    /// The container's restart count when the record was written; a higher count means a restart.
    pub restart_count: u32,
    pub original_request: Option<MilliCpu>,
    pub original_limit: Option<MilliCpu>,
}

/// Tailor's boost state, kept in a pod annotation so it survives updater restarts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoostRecord {
    /// Boost applied and not yet taken back.
    pub active: bool,
    pub since: Timestamp,
    pub containers: Vec<BoostedContainer>,
}

/// What the boost logic wants for a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BoostStep {
    /// Nothing to do with boosts.
    Idle,
    /// A boost is active until `until` at the latest; steady-state CPU changes wait.
    Hold(Timestamp),
    Boost(Vec<ContainerChange>, BoostRecord),
    Unboost(Vec<ContainerChange>, BoostRecord, UnboostReason),
}

fn boosted(v: i64, amount: BoostAmount) -> i64 {
    match amount {
        BoostAmount::Factor(f) => v.saturating_mul(i64::from(f.max(1))),
        BoostAmount::Quantity(q) => v.saturating_add(cpu_value(q).max(0)),
    }
}

pub(crate) fn step(
    pod: &PodView,
    policy: &WorkloadPolicy,
    boost: &BoostPolicy,
    recs: Option<&[ContainerRecommendation]>,
    cfg: &PlannerConfig,
    now: Timestamp,
) -> BoostStep {
    let max = boost.max_duration_ms.unwrap_or(cfg.boost_max_duration_ms);
    match &pod.boost {
        Some(record) if record.active => {
            // A pod boosted at creation may wait for its node and image first: the hard maximum runs from the
            // later of the boost and its boosted containers' start.
            let started = record
                .containers
                .iter()
                .filter_map(|b| pod.container(&b.name).and_then(|c| c.started_at))
                .map(ms)
                .min();
            let from = started.map_or(ms(record.since), |s| s.max(ms(record.since)));
            let hard_end = from.saturating_add(max);
            let ready_end = pod
                .ready_since
                .filter(|_| pod.ready)
                .map(|r| ms(r).saturating_add(boost.duration_ms));
            let restarted = record.containers.iter().any(|b| {
                pod.container(&b.name)
                    .is_some_and(|c| c.restart_count > b.restart_count && !c.ready)
            });
            if ms(now) >= hard_end {
                return unboost(pod, policy, record, recs, cfg, UnboostReason::MaxDuration);
            }
            if !restarted && ready_end.is_some_and(|e| ms(now) >= e) {
                return unboost(pod, policy, record, recs, cfg, UnboostReason::Ready);
            }
            BoostStep::Hold(at(ready_end.map_or(hard_end, |e| e.min(hard_end))))
        }
        record => {
            let restarted: Vec<&str> = match record {
                Some(r) => r
                    .containers
                    .iter()
                    .filter(|b| {
                        pod.container(&b.name)
                            .is_some_and(|c| c.restart_count > b.restart_count)
                    })
                    .map(|b| b.name.as_str())
                    .collect(),
                None => Vec::new(),
            };
            let starting = record.is_none()
                && !pod.ready
                && pod
                    .start_time
                    .is_some_and(|s| ms(now).saturating_sub(ms(s)) < max);
            if !starting && restarted.is_empty() {
                return BoostStep::Idle;
            }
            start(pod, policy, boost, &restarted, starting, now)
        }
    }
}

fn start(
    pod: &PodView,
    policy: &WorkloadPolicy,
    boost: &BoostPolicy,
    restarted: &[&str],
    starting: bool,
    now: Timestamp,
) -> BoostStep {
    let mut changes = Vec::new();
    let mut boosted_containers = Vec::new();
    for c in pod.containers.iter().filter(|c| c.resizable()) {
        let wanted = (starting || restarted.contains(&c.name.as_str())) && !c.ready;
        let (off, _, _) = policy.for_container(&c.name);
        if !wanted || off || c.resize_policy.get(Resource::Cpu) == RestartPolicy::RestartContainer {
            continue;
        }
        let (req, lim) = (
            c.spec.requests.cpu.map(cpu_value),
            c.spec.limits.cpu.map(cpu_value),
        );
        if req.is_none() && lim.is_none() {
            continue;
        }
        let mut after = c.spec;
        after.requests.cpu = req.map(|v| cpu(boosted(v, boost.amount)));
        after.limits.cpu = lim.map(|v| cpu(boosted(v, boost.amount)));
        if pod.qos == QosClass::Guaranteed {
            after.limits.cpu = after.requests.cpu;
        }
        boosted_containers.push(BoostedContainer {
            name: c.name.clone(),
            restart_count: c.restart_count,
            original_request: c.spec.requests.cpu,
            original_limit: c.spec.limits.cpu,
        });
        if after != c.spec {
            changes.push(ContainerChange {
                name: c.name.clone(),
                before: c.spec,
                after,
            });
        }
    }
    if changes.is_empty() {
        return BoostStep::Idle;
    }
    BoostStep::Boost(
        changes,
        BoostRecord {
            active: true,
            since: now,
            containers: boosted_containers,
        },
    )
}

/// The boost a pod gets from the admission webhook, before it runs, on top of the size it is created at
/// (`after`, one entry per container, changed in place). Only CPU *limits* rise, so nothing more is reserved at
/// scheduling and the QoS class stays Burstable; each limit stays within the LimitRange's maximum and
/// limit/request ratio and the namespace's CPU-limit quota, so the boost can never make the API server refuse
/// the pod. A container without a CPU limit has no quota to raise and is left to the in-place boost, as are
/// Guaranteed pods (a boost there would raise the request too). The record makes the updater unboost it.
pub(crate) fn at_creation(
    pod: &PodView,
    after: &mut [Requirements],
    policy: &WorkloadPolicy,
    boost: &BoostPolicy,
    limits: CreationLimits<'_>,
    now: Timestamp,
) -> Option<BoostRecord> {
    if pod.qos != QosClass::Burstable {
        return None;
    }
    let mut quota_left = limits.quota_limit_cpu_room;
    let mut boosted_containers = Vec::new();
    for (c, spec) in pod.containers.iter().zip(after.iter_mut()) {
        let (off, controlled, _) = policy.for_container(&c.name);
        if !c.resizable()
            || off
            || !controlled.cpu
            || c.resize_policy.get(Resource::Cpu) == RestartPolicy::RestartContainer
        {
            continue;
        }
        let (Some(lim), request) = (spec.limits.cpu.map(cpu_value), spec.requests.cpu) else {
            continue;
        };
        let mut want = boosted(lim, boost.amount);
        if let Some(lr) = limits.limit_range {
            if let Some(max) = lr.max.cpu {
                want = want.min(cpu_value(max));
            }
            if let (Some(ratio), Some(req)) = (lr.max_ratio_cpu.filter(|r| *r > 0), request) {
                want = want.min(permille(cpu_value(req), ratio));
            }
        }
        if let Some(left) = quota_left.as_mut() {
            want = want.min(lim.saturating_add(*left));
            *left = left.saturating_sub(want.saturating_sub(lim).max(0));
        }
        if want <= lim {
            continue;
        }
        boosted_containers.push(BoostedContainer {
            name: c.name.clone(),
            restart_count: c.restart_count,
            original_request: spec.requests.cpu,
            original_limit: spec.limits.cpu,
        });
        spec.limits.cpu = Some(cpu(want));
    }
    (!boosted_containers.is_empty()).then_some(BoostRecord {
        active: true,
        since: now,
        containers: boosted_containers,
    })
}

/// What bounds a CPU limit set at pod creation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CreationLimits<'a> {
    pub limit_range: Option<&'a LimitRange>,
    /// Quota room for CPU limits left after the pod's own (sized) limits; `None` without such a quota.
    pub quota_limit_cpu_room: Option<i64>,
}

fn unboost(
    pod: &PodView,
    policy: &WorkloadPolicy,
    record: &BoostRecord,
    recs: Option<&[ContainerRecommendation]>,
    cfg: &PlannerConfig,
    reason: UnboostReason,
) -> BoostStep {
    // Start from the pre-boost CPU values, then size to the current recommendation where the mode applies one.
    let mut base = pod.clone();
    for b in &record.containers {
        if let Some(c) = base.containers.iter_mut().find(|c| c.name == b.name) {
            if c.spec.requests.cpu.is_some() {
                c.spec.requests.cpu = b.original_request.or(c.spec.requests.cpu);
            }
            if c.spec.limits.cpu.is_some() {
                c.spec.limits.cpu = b.original_limit.or(c.spec.limits.cpu);
            }
        }
    }
    let applies = matches!(
        policy.mode,
        UpdateMode::InPlace | UpdateMode::InPlaceOrRecreate | UpdateMode::Recreate
    );
    let mut targets: Vec<Requirements> = base.containers.iter().map(|c| c.spec).collect();
    if let (true, Some(recs)) = (applies, recs) {
        let oom = vec![false; base.containers.len()];
        let input = SizingInput {
            cfg,
            recs,
            policy,
            limit_range: None,
            mask: ResourceMask::CPU,
            oom: &oom,
        };
        if let Ok(sized) = size_pod(&base, &input) {
            for ch in sized {
                if let Some(i) = base.containers.iter().position(|c| c.name == ch.name) {
                    targets[i] = ch.after;
                }
            }
        }
    }
    let mut changes = Vec::new();
    for b in &record.containers {
        let (Some(c), Some(i)) = (
            pod.container(&b.name),
            pod.containers.iter().position(|c| c.name == b.name),
        ) else {
            continue;
        };
        let mut after = c.spec;
        // Never above the boosted values: an unboost only takes CPU back.
        after.requests.cpu = min_opt(targets[i].requests.cpu, c.spec.requests.cpu);
        after.limits.cpu = min_opt(targets[i].limits.cpu, c.spec.limits.cpu);
        if after != c.spec {
            changes.push(ContainerChange {
                name: c.name.clone(),
                before: c.spec,
                after,
            });
        }
    }
    let containers = record
        .containers
        .iter()
        .map(|b| BoostedContainer {
            restart_count: pod
                .container(&b.name)
                .map_or(b.restart_count, |c| c.restart_count),
            ..b.clone()
        })
        .collect();
    BoostStep::Unboost(
        changes,
        BoostRecord {
            active: false,
            since: record.since,
            containers,
        },
        reason,
    )
}

fn min_opt(a: Option<MilliCpu>, b: Option<MilliCpu>) -> Option<MilliCpu> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => b.or(a),
    }
}
