//! When a pod is worth resizing: an OOM kill just now, a request outside the recommended bounds, or drift past
//! the (separate) up and down thresholds once the cooldown since the last resize has passed.

use super::config::PlannerConfig;
use super::decision::Trigger;
use super::input::{ContainerRecommendation, PodView, TerminationReason, WorkloadPolicy};
use super::memory::PodMemory;
use super::sizing::effective;
use super::types::Resource;
use super::units::{Timestamp, at, ms};

/// The outcome of trigger evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Triggered {
    /// Resize now; `oom[i]` marks containers that were OOM-killed.
    Fire(Trigger, Vec<bool>),
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
    if oom.iter().any(|x| *x) {
        return Triggered::Fire(Trigger::OomKill, oom);
    }
    let mut outside = false;
    let mut up = false;
    let mut down = false;
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
            let Some(target) = effective(cfg, r, true, rec.target.get(r)) else {
                continue;
            };
            let Some(req) = effective(cfg, r, true, c.spec.requests.get(r)) else {
                outside = true;
                continue;
            };
            let lower = effective(cfg, r, true, rec.lower.get(r));
            let upper = effective(cfg, r, true, rec.upper.get(r));
            if lower.is_some_and(|l| req < l) || upper.is_some_and(|u| req > u) {
                outside = true;
            }
            // A limit below its recommendation is an OOM waiting to happen: as urgent as a request out of bounds.
            if r == Resource::Memory
                && let (Some(want), Some(lim)) = (rec.memory_limit, c.spec.limits.get(r))
                && i128::from(want.get()) * 1000
                    > i128::from(lim) * i128::from(1000 + cfg.up_threshold_permille)
            {
                outside = true;
            }
            let t = i128::from(target) * 1000;
            let q = i128::from(req);
            if t > q * i128::from(1000 + cfg.up_threshold_permille) {
                up = true;
            }
            if t < q * i128::from(1000 - cfg.down_threshold_permille) {
                down = true;
            }
        }
    }
    if outside {
        return Triggered::Fire(Trigger::OutsideBounds, oom);
    }
    let since = memory
        .last_resize
        .as_ref()
        .map(|r| ms(r.at))
        .or(pod.start_time.map(ms))
        .unwrap_or(i64::MIN);
    let up_at = since.saturating_add(cfg.up_cooldown_ms);
    let down_at = since.saturating_add(cfg.down_cooldown_ms);
    if up && ms(now) >= up_at {
        return Triggered::Fire(Trigger::DriftUp, oom);
    }
    if down && ms(now) >= down_at {
        return Triggered::Fire(Trigger::DriftDown, oom);
    }
    let mut wait: Option<i64> = None;
    if up {
        wait = Some(up_at);
    }
    if down {
        wait = Some(wait.map_or(down_at, |w| w.min(down_at)));
    }
    match wait {
        Some(w) => Triggered::Cooldown(at(w)),
        None => Triggered::Quiet,
    }
}
