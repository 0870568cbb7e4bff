//! When a pod is worth resizing, and which of its resources: an OOM kill just now (memory), a request outside the
//! recommended bounds, or drift past the (separate) up and down thresholds once the cooldown since that
//! resource last changed has passed.

use super::config::PlannerConfig;
use super::decision::Trigger;
use super::input::{ContainerRecommendation, PodView, TerminationReason, WorkloadPolicy};
use super::memory::PodMemory;
use super::sizing::effective;
use super::types::{Resource, ResourceMask};
use super::units::{Timestamp, at, ms};

/// The outcome of trigger evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Triggered {
    /// Resize now the resources in the mask (only those: a resource inside its thresholds or cooldown stays as
    /// it is); `oom[i]` marks containers that were OOM-killed. The trigger is the most urgent that fired.
    Fire(Trigger, Vec<bool>, ResourceMask),
    /// Drift is past a threshold but the cooldown runs until then.
    Cooldown(Timestamp),
    Quiet,
}

/// Containers OOM-killed within the window and not yet handled by an earlier resize.
pub(crate) fn oom_containers(
    pod: &PodView,
    policy: &WorkloadPolicy,
    memory: &PodMemory,
    cfg: &PlannerConfig,
    now: Timestamp,
) -> Vec<bool> {
    pod.containers
        .iter()
        .map(|c| {
            let (off, controlled, _) = policy.for_container(&c.name);
            let Some(t) = c.last_termination else {
                return false;
            };
            let Some(finished) = t.finished_at else {
                return false;
            };
            !off && c.resizable()
                && controlled.memory
                && t.reason == TerminationReason::OomKilled
                && ms(now) - ms(finished) <= cfg.oom_window_ms
                && memory.oom_handled_at.is_none_or(|h| ms(finished) > ms(h))
        })
        .collect()
}

pub(crate) fn evaluate(
    pod: &PodView,
    recs: &[ContainerRecommendation],
    policy: &WorkloadPolicy,
    memory: &PodMemory,
    cfg: &PlannerConfig,
    now: Timestamp,
) -> Triggered {
    let oom = oom_containers(pod, policy, memory, cfg, now);
    let drift = drift(pod, recs, policy, cfg);
    let mut fired = ResourceMask::NONE;
    let mut trigger = None;
    let mut wait: Option<i64> = None;
    if oom.iter().any(|x| *x) {
        fired = fired.with(Resource::Memory);
        trigger = Some(Trigger::OomKill);
    }
    for r in Resource::ALL {
        let d = drift.get(r);
        if d.outside {
            fired = fired.with(r);
            trigger.get_or_insert(Trigger::OutsideBounds);
        }
    }
    // Each resource's cooldown runs from its own last change (see `PodMemory::changed_at`).
    for (kind, cooldown) in [
        (Trigger::DriftUp, cfg.up_cooldown_ms),
        (Trigger::DriftDown, cfg.down_cooldown_ms),
    ] {
        for r in Resource::ALL {
            let d = drift.get(r);
            let wanted = if kind == Trigger::DriftUp {
                d.up
            } else {
                d.down
            };
            if !wanted || fired.contains(r) {
                continue;
            }
            let since = memory
                .last_change(r)
                .or(pod.start_time)
                .map_or(i64::MIN, ms);
            let ready = since.saturating_add(cooldown);
            if ms(now) >= ready {
                fired = fired.with(r);
                trigger.get_or_insert(kind);
            } else {
                wait = Some(wait.map_or(ready, |w| w.min(ready)));
            }
        }
    }
    match (trigger, wait) {
        (Some(t), _) => Triggered::Fire(t, oom, fired),
        (None, Some(w)) => Triggered::Cooldown(at(w)),
        (None, None) => Triggered::Quiet,
    }
}

/// How far each resource's requests are from the recommendation, over every controlled container.
#[derive(Debug, Clone, Copy, Default)]
struct Drift {
    outside: bool,
    up: bool,
    down: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Drifts {
    cpu: Drift,
    memory: Drift,
}

impl Drifts {
    fn get(&self, r: Resource) -> Drift {
        match r {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
        }
    }

    fn get_mut(&mut self, r: Resource) -> &mut Drift {
        match r {
            Resource::Cpu => &mut self.cpu,
            Resource::Memory => &mut self.memory,
        }
    }
}

fn drift(
    pod: &PodView,
    recs: &[ContainerRecommendation],
    policy: &WorkloadPolicy,
    cfg: &PlannerConfig,
) -> Drifts {
    let mut out = Drifts::default();
    for c in pod.containers.iter().filter(|c| c.resizable()) {
        let Some(rec) = recs.iter().find(|r| r.name == c.name) else {
            continue;
        };
        let (off, controlled, _) = policy.for_container(&c.name);
        if off {
            continue;
        }
        for r in Resource::ALL
            .into_iter()
            .filter(|r| controlled.contains(*r))
        {
            let d = out.get_mut(r);
            let Some(target) = effective(cfg, r, true, rec.target.get(r)) else {
                continue;
            };
            let Some(req) = effective(cfg, r, true, c.spec.requests.get(r)) else {
                d.outside = true;
                continue;
            };
            let lower = effective(cfg, r, true, rec.lower.get(r));
            let upper = effective(cfg, r, true, rec.upper.get(r));
            if lower.is_some_and(|l| req < l) || upper.is_some_and(|u| req > u) {
                d.outside = true;
            }
            // A limit below its recommendation is an OOM waiting to happen: as urgent as a request out of bounds.
            if r == Resource::Memory
                && let (Some(want), Some(lim)) = (rec.memory_limit, c.spec.limits.get(r))
                && i128::from(want.get()) * 1000
                    > i128::from(lim) * i128::from(1000 + cfg.up_threshold_permille)
            {
                d.outside = true;
            }
            let t = i128::from(target) * 1000;
            let q = i128::from(req);
            if t > q * i128::from(1000 + cfg.up_threshold_permille) {
                d.up = true;
            }
            if t < q * i128::from(1000 - cfg.down_threshold_permille) {
                d.down = true;
            }
        }
    }
    out
}
