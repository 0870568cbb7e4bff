//! What the updater remembers about a pod between passes (keyed by pod UID). The updater keeps it in memory
//! and writes a copy into a pod annotation after every change, so a restarted updater (or a new leader) picks
//! up cooldowns, back-offs, the Infeasible cache, OOM floors and the resize it is following through instead
//! of starting from nothing and resizing again at once.

use super::config::PlannerConfig;
use super::decision::{ContainerChange, Decision, FailureReason, Trigger};
use super::input::PodView;
use super::types::{Resource, ResourceMask};
use super::units::{Timestamp, at, ms};

/// What kind of change a recorded resize was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResizeKind {
    Resize,
    Revert,
    Boost,
    Unboost,
}

/// The last resize Tailor sent for a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResizeRecord {
    pub at: Timestamp,
    /// `metadata.generation` from the patch response; done once `observedGeneration` reaches it.
    pub generation: Option<i64>,
    pub kind: ResizeKind,
    pub changes: Vec<ContainerChange>,
}

/// Per-pod memory of the updater.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodMemory {
    pub last_resize: Option<ResizeRecord>,
    /// The last attempt that went Infeasible: not retried until the recommendation drops below it.
    pub infeasible: Option<Vec<ContainerChange>>,
    pub backoff_until: Option<Timestamp>,
    /// The last attempt whose `Deferred` wait timed out: the same or a larger increase is held back until
    /// `until` (smaller changes and OOM resizes are not).
    pub deferred: Option<HeldAttempt>,
    /// OOM kills that finished at or before this time are answered (the latest kill a resize answered, or the
    /// end of the settle time after an OOM resize, whichever is later).
    pub oom_handled_at: Option<Timestamp>,
    /// Memory requests an OOM resize set: floors under the recommendation until they expire, so the next pass
    /// does not size the pod straight back down to the (stale) recommendation.
    pub oom_floors: Vec<OomFloor>,
    /// When each resource last changed. Cooldowns run per resource, so that CPU following its demand in place
    /// every hour or two neither resets memory's cooldown nor drags small memory changes (disruptive under
    /// `RestartContainer`) along with it.
    pub changed_at: ChangedAt,
}

/// The time of the last resize that touched each resource; both `None` for a state written before Tailor
/// tracked them, where the last resize's time stands in for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangedAt {
    pub cpu: Option<Timestamp>,
    pub memory: Option<Timestamp>,
}

impl ChangedAt {
    pub fn get(&self, r: Resource) -> Option<Timestamp> {
        match r {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
        }
    }

    fn record(&mut self, changed: ResourceMask, now: Timestamp) {
        if changed.cpu {
            self.cpu = Some(now);
        }
        if changed.memory {
            self.memory = Some(now);
        }
    }
}

/// A resize attempt held back until a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldAttempt {
    pub changes: Vec<ContainerChange>,
    pub until: Timestamp,
}

/// A memory request floor left by an OOM resize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomFloor {
    pub container: String,
    pub memory_bytes: i64,
    pub until: Timestamp,
}

impl PodMemory {
    /// Records a decision the actuator has carried out; `generation` is from the patch response.
    pub fn record_applied(
        &mut self,
        decision: &Decision,
        pod: &PodView,
        generation: Option<i64>,
        cfg: &PlannerConfig,
        now: Timestamp,
    ) {
        let (kind, plan) = match decision {
            Decision::Resize { plan, .. } | Decision::Split { now: plan, .. } => {
                (ResizeKind::Resize, plan)
            }
            Decision::Revert { plan, .. } => (ResizeKind::Revert, plan),
            Decision::Boost { plan, .. } => (ResizeKind::Boost, plan),
            Decision::Unboost { plan, .. } => (ResizeKind::Unboost, plan),
            Decision::Skip(_) | Decision::Wait { .. } | Decision::Evict(_) => return,
        };
        match decision {
            Decision::Resize { trigger, .. } | Decision::Split { trigger, .. } => {
                self.infeasible = None;
                if *trigger == Trigger::OomKill {
                    self.note_oom_handled(pod);
                    // Kills in the next moments happened at the old size, before the kubelet applied this one.
                    let settle = at(ms(now).saturating_add(cfg.oom_settle_ms));
                    self.oom_handled_at =
                        Some(self.oom_handled_at.map_or(settle, |h| h.max(settle)));
                    let until = at(ms(now).saturating_add(cfg.oom_floor_ms));
                    for ch in &plan.containers {
                        let (Some(before), Some(after)) = (
                            ch.before.requests.get(Resource::Memory),
                            ch.after.requests.get(Resource::Memory),
                        ) else {
                            continue;
                        };
                        if after > before {
                            self.oom_floors.retain(|f| f.container != ch.name);
                            self.oom_floors.push(OomFloor {
                                container: ch.name.clone(),
                                memory_bytes: after,
                                until,
                            });
                        }
                    }
                }
            }
            Decision::Revert {
                reason,
                infeasible_attempt,
                ..
            } => {
                match (reason, infeasible_attempt) {
                    (FailureReason::Infeasible, Some(attempt)) => {
                        self.infeasible = Some(attempt.clone());
                    }
                    (FailureReason::DeferredTimeout, Some(attempt)) => {
                        self.deferred = Some(HeldAttempt {
                            changes: attempt.clone(),
                            until: at(ms(now).saturating_add(cfg.deferred_backoff_ms)),
                        });
                    }
                    _ => {}
                }
                if matches!(
                    reason,
                    FailureReason::ActuationError | FailureReason::MemoryInUse
                ) {
                    self.backoff_until = Some(at(ms(now).saturating_add(cfg.error_backoff_ms)));
                }
            }
            _ => {}
        }
        if plan.containers.is_empty() {
            return;
        }
        if self.changed_at == ChangedAt::default()
            && let Some(prev) = &self.last_resize
        {
            // A state from before per-resource times: keep the last resize's clock for both.
            self.changed_at = ChangedAt {
                cpu: Some(prev.at),
                memory: Some(prev.at),
            };
        }
        let changed = plan
            .containers
            .iter()
            .fold(ResourceMask::NONE, |m, c| m.union(c.changed()));
        self.changed_at.record(changed, now);
        self.last_resize = Some(ResizeRecord {
            at: now,
            generation,
            kind,
            changes: plan.containers.clone(),
        });
    }

    /// Records that the API server refused `attempt` as larger than the node (403, cause `NodeCapacity`, from
    /// Kubernetes 1.36's `PodResizeValidator`): the same answer as a kubelet `Infeasible`, without a pod
    /// condition, so it is cached the same way.
    pub fn record_node_capacity_rejection(&mut self, attempt: &[ContainerChange]) {
        self.infeasible = Some(attempt.to_vec());
    }

    /// The Deferred hold in force at `now` for a planned change, if it raises as much as the held attempt.
    pub(crate) fn deferred_hold(
        &self,
        planned: &[ContainerChange],
        now: Timestamp,
    ) -> Option<Timestamp> {
        self.deferred
            .as_ref()
            .filter(|d| ms(d.until) > ms(now) && still_infeasible(&d.changes, planned))
            .map(|d| d.until)
    }

    /// The active OOM floor of a container at `now`.
    pub fn oom_floor(&self, container: &str, now: Timestamp) -> Option<i64> {
        self.oom_floors
            .iter()
            .find(|f| f.container == container && ms(f.until) > ms(now))
            .map(|f| f.memory_bytes)
    }

    /// When `r` last changed: its own time, else (older state) the last resize, else never.
    pub(crate) fn last_change(&self, r: Resource) -> Option<Timestamp> {
        if self.changed_at == ChangedAt::default() {
            return self.last_resize.as_ref().map(|l| l.at);
        }
        self.changed_at.get(r)
    }

    fn note_oom_handled(&mut self, pod: &PodView) {
        let latest = pod
            .containers
            .iter()
            .filter_map(|c| c.last_termination.and_then(|t| t.finished_at))
            .map(ms)
            .max();
        if let Some(l) = latest {
            self.oom_handled_at = Some(at(l.max(self.oom_handled_at.map_or(i64::MIN, ms))));
        }
    }
}

/// Whether every resource the last Infeasible attempt raised is still wanted at least as high (so retrying
/// would be Infeasible again).
pub(crate) fn still_infeasible(attempt: &[ContainerChange], planned: &[ContainerChange]) -> bool {
    let mut any_raised = false;
    for old in attempt {
        for r in Resource::ALL {
            let (Some(before), Some(tried)) =
                (old.before.requests.get(r), old.after.requests.get(r))
            else {
                continue;
            };
            if tried <= before {
                continue;
            }
            any_raised = true;
            let now_wanted = planned
                .iter()
                .find(|p| p.name == old.name)
                .and_then(|p| p.after.requests.get(r))
                .unwrap_or(before);
            if now_wanted < tried {
                return false;
            }
        }
    }
    any_raised
}
