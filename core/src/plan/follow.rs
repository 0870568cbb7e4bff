//! Follow-through on a resize already sent: wait for the kubelet within bounds, and turn `Infeasible`,
//! timed-out `Deferred`, stuck `InProgress` and actuation errors into a revert, a smaller step or (in the
//! recreate modes) an eviction. A resize Tailor did not send is never touched.

use super::config::PlannerConfig;
use super::decision::{Decision, FailureReason, SkipReason, WaitReason};
use super::input::{PendingReason, PodView, UpdateMode};
use super::memory::{PodMemory, ResizeRecord};
use super::sizing::{effective, same_effective};
use super::types::{Requirements, Resource};
use super::units::{Timestamp, at, ms};

/// What follow-through asks of the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FollowUp {
    Decide(Decision),
    /// Put the spec back to the running values; with `true`, remember the attempt (Infeasible: until the
    /// recommendation drops below it; Deferred timeout: for the Deferred back-off).
    Revert(FailureReason, bool),
    /// Evict if the mode and budget allow, else do `fallback`.
    Evict(FailureReason, Box<FollowUp>),
    /// Resize to what fits the node now, or revert if nothing more fits.
    ShrinkOrRevert(FailureReason),
    /// A boost went Deferred or Infeasible: take it back at once.
    Withdraw,
}

fn until(since: Timestamp, after_ms: i64) -> i64 {
    ms(since).saturating_add(after_ms)
}

/// The last resize if it is still the pod's latest spec change (nobody patched resources after us).
pub(crate) fn ours<'a>(pod: &PodView, memory: &'a PodMemory) -> Option<&'a ResizeRecord> {
    memory
        .last_resize
        .as_ref()
        .filter(|r| r.generation.is_none_or(|g| g >= pod.generation))
}

pub(crate) fn assess(
    pod: &PodView,
    memory: &PodMemory,
    mode: UpdateMode,
    cfg: &PlannerConfig,
    now: Timestamp,
) -> Option<FollowUp> {
    let ours = ours(pod, memory);
    let boost_active = pod.boost.as_ref().is_some_and(|b| b.active);
    let evict_or = |reason, fallback: FollowUp| {
        if mode.may_evict() {
            FollowUp::Evict(reason, Box::new(fallback))
        } else {
            fallback
        }
    };
    // Spec already equal to what runs (a revert just landed): a pending condition left on the pod is stale.
    let settled = || {
        pod.containers.iter().filter(|c| c.resizable()).all(|c| {
            Resource::ALL
                .iter()
                .all(|r| close(cfg, &c.spec, &c.current(), *r))
        })
    };
    if let Some(p) = pod.pending.as_ref().filter(|_| !settled()) {
        if boost_active
            && matches!(
                p.reason,
                PendingReason::Deferred | PendingReason::Infeasible
            )
        {
            return Some(FollowUp::Withdraw);
        }
        if ours.is_none() {
            return Some(FollowUp::Decide(Decision::Skip(
                SkipReason::ForeignResizePending,
            )));
        }
        return Some(match p.reason {
            PendingReason::Infeasible => evict_or(
                FailureReason::Infeasible,
                FollowUp::Revert(FailureReason::Infeasible, true),
            ),
            PendingReason::Deferred | PendingReason::Other => {
                let end = until(p.since, cfg.deferred_timeout_ms);
                if ms(now) < end {
                    FollowUp::Decide(Decision::Wait {
                        until: at(end),
                        reason: WaitReason::ResizeDeferred,
                    })
                } else {
                    evict_or(
                        FailureReason::DeferredTimeout,
                        FollowUp::ShrinkOrRevert(FailureReason::DeferredTimeout),
                    )
                }
            }
        });
    }
    if let Some(ip) = &pod.in_progress {
        if ours.is_none() && !boost_active {
            return Some(FollowUp::Decide(Decision::Skip(
                SkipReason::ForeignResizePending,
            )));
        }
        if ip.error {
            let msg = ip.message.to_ascii_lowercase();
            if msg.contains("memory") && (msg.contains("usage") || msg.contains("limit")) {
                return Some(FollowUp::Revert(FailureReason::MemoryInUse, false));
            }
            let end = until(ip.since, cfg.error_backoff_ms);
            if ms(now) < end {
                return Some(FollowUp::Decide(Decision::Wait {
                    until: at(end),
                    reason: WaitReason::BackingOff,
                }));
            }
            return Some(evict_or(
                FailureReason::ActuationError,
                FollowUp::Revert(FailureReason::ActuationError, false),
            ));
        }
        let end = until(ip.since, cfg.in_progress_timeout_ms);
        if ms(now) < end {
            return Some(FollowUp::Decide(Decision::Wait {
                until: at(end),
                reason: WaitReason::ResizeInProgress,
            }));
        }
        return Some(evict_or(
            FailureReason::InProgressTimeout,
            FollowUp::Revert(FailureReason::InProgressTimeout, false),
        ));
    }
    let rec = ours?;
    let end = until(rec.at, cfg.in_progress_timeout_ms);
    if ms(now) >= end {
        return None;
    }
    if let Some(g) = rec.generation
        && pod.observed_generation.is_none_or(|o| o < g)
    {
        return Some(FollowUp::Decide(Decision::Wait {
            until: at(end),
            reason: WaitReason::AwaitingKubelet,
        }));
    }
    // Acknowledged and no condition left: done once the reported values match (CPU floors applied).
    let lagging = pod.containers.iter().filter(|c| c.resizable()).any(|c| {
        c.actual
            .is_some_and(|a| Resource::ALL.iter().any(|r| !close(cfg, &c.spec, &a, *r)))
    });
    if lagging {
        return Some(FollowUp::Decide(Decision::Wait {
            until: at(end),
            reason: WaitReason::ResizeInProgress,
        }));
    }
    None
}

/// Equal under the CPU floors, allowing the runtime's rounding: memory to pages (1 MiB slack), CPU quota up to
/// the systemd driver's 10 ms per 100 ms period (a reported limit up to 100m above the spec).
fn close(cfg: &PlannerConfig, spec: &Requirements, actual: &Requirements, r: Resource) -> bool {
    if same_effective(cfg, spec, actual, r) {
        return true;
    }
    const MEMORY_SLACK: u64 = 1024 * 1024;
    const CPU_LIMIT_SLACK_M: i64 = 100;
    let near = |a: Option<i64>, b: Option<i64>, request: bool| match (a, b) {
        (Some(x), Some(y)) => {
            effective(cfg, r, request, a) == effective(cfg, r, request, b)
                || (r == Resource::Memory && x.abs_diff(y) <= MEMORY_SLACK)
                || (r == Resource::Cpu && !request && y >= x && y - x < CPU_LIMIT_SLACK_M)
        }
        (Some(_), None) => true,
        (None, None) => true,
        (None, Some(_)) => false,
    };
    near(spec.requests.get(r), actual.requests.get(r), true)
        && near(spec.limits.get(r), actual.limits.get(r), false)
}
