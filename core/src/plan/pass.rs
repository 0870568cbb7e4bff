//! One planning pass: the pod-by-pod decision procedure, with the node, quota, disruption-budget and
//! rate-limit ledgers that earlier decisions in the same pass have drawn on.

use std::collections::HashMap;

use super::boost::{self, BoostRecord, BoostStep};
use super::config::PlannerConfig;
use super::decision::{
    ContainerChange, Decision, EvictReason, ResizePlan, SkipReason, Trigger, UnboostReason,
    WaitReason,
};
use super::fit::{self, Fit};
use super::follow::{self, FollowUp};
use super::input::{
    ContainerRecommendation, EvictionPolicy, LimitRange, NodeCapacity, PodPhase, PodView,
    QuotaRoom, TerminationReason, UpdateMode, WorkloadBudget, WorkloadPolicy,
};
use super::memory::{PodMemory, still_infeasible};
use super::qos::compute_qos;
use super::rate::RateLimits;
use super::sizing::{SizingInput, changes as normalized, same_effective, size_pod};
use super::trigger::{self, Triggered};
use super::types::{QosClass, Requirements, Resource, ResourceMask, RestartPolicy};
use super::units::{Timestamp, at, cpu, cpu_value, mem, mem_value, ms};

/// How long a pod waiting for disruption budget waits before it is looked at again.
const BUDGET_RETRY_MS: i64 = 30_000;

/// Everything the planner needs to know about one pod.
#[derive(Debug, Clone, Copy)]
pub struct PodInput<'a> {
    pub pod: &'a PodView,
    /// The VPA's recommendation for the pod's containers, if any.
    pub recommendation: Option<&'a [ContainerRecommendation]>,
    pub policy: &'a WorkloadPolicy,
    pub memory: &'a PodMemory,
}

/// The state of one planning pass. Build it with the cluster's figures, call [`PassState::plan`] for each pod
/// (most urgent first), then carry the decisions out.
#[derive(Debug)]
pub struct PassState<'a> {
    pub config: &'a PlannerConfig,
    pub now: Timestamp,
    /// By node name.
    pub nodes: HashMap<String, NodeCapacity>,
    /// By namespace.
    pub quotas: HashMap<String, QuotaRoom>,
    /// By namespace.
    pub limit_ranges: HashMap<String, LimitRange>,
    /// By workload key ([`PodView::workload`]).
    pub budgets: HashMap<String, WorkloadBudget>,
    /// The VPA's eviction rules, by workload key; a workload without an entry has none.
    pub eviction: HashMap<String, EvictionPolicy>,
    /// How long a container's last terminated run lasted (`lastState.terminated` finishedAt − startedAt), in
    /// milliseconds, by [`PassState::run_key`]; read for `evictAfterOOMSeconds`. Unknown runs count as short.
    pub last_run_ms: HashMap<String, i64>,
    pub rate: &'a mut RateLimits,
}

impl<'a> PassState<'a> {
    pub fn new(config: &'a PlannerConfig, now: Timestamp, rate: &'a mut RateLimits) -> Self {
        Self {
            config,
            now,
            nodes: HashMap::new(),
            quotas: HashMap::new(),
            limit_ranges: HashMap::new(),
            budgets: HashMap::new(),
            eviction: HashMap::new(),
            last_run_ms: HashMap::new(),
            rate,
        }
    }

    /// The key of [`PassState::last_run_ms`].
    pub fn run_key(namespace: &str, pod: &str, container: &str) -> String {
        format!("{namespace}/{pod}/{container}")
    }

    /// Decides what to do with one pod and books what the decision uses (node room, quota, budget, tokens).
    pub fn plan(&mut self, input: &PodInput<'_>) -> Decision {
        let pod = input.pod;
        if let Some(reason) = eligibility(pod) {
            return Decision::Skip(reason);
        }
        // Off means nothing at all: no resize, no boost or unboost, no follow-through on earlier writes.
        if input.policy.mode == UpdateMode::Off {
            return Decision::Skip(SkipReason::ModeOff);
        }
        if let Some(f) = follow::assess(pod, input.memory, input.policy.mode, self.config, self.now)
        {
            return self.follow_up(input, f);
        }
        if let Some(until) = input.memory.backoff_until.filter(|u| ms(*u) > ms(self.now)) {
            return Decision::Wait {
                until,
                reason: WaitReason::BackingOff,
            };
        }
        let mut hold = None;
        if let Some(bp) = &input.policy.boost {
            match boost::step(
                pod,
                input.policy,
                bp,
                input.recommendation,
                self.config,
                self.now,
            ) {
                BoostStep::Idle => {}
                BoostStep::Hold(until) => hold = Some(until),
                BoostStep::Boost(changes, record) => return self.boost(input, changes, record),
                BoostStep::Unboost(changes, record, reason) => {
                    return self.unboost(pod, changes, record, reason);
                }
            }
        }
        let held = |reason: SkipReason| match hold {
            Some(until) => Decision::Wait {
                until,
                reason: WaitReason::BoostActive,
            },
            None => Decision::Skip(reason),
        };
        if pod.phase != PodPhase::Running {
            return held(SkipReason::NotRunning);
        }
        match input.policy.mode {
            UpdateMode::Off => return held(SkipReason::ModeOff),
            UpdateMode::Initial => return held(SkipReason::ModeInitial),
            _ => {}
        }
        let Some(recs) = input.recommendation else {
            return held(SkipReason::NoRecommendation);
        };
        let floored = with_oom_floors(recs, input.memory, self.now);
        let recs = floored.as_deref().unwrap_or(recs);
        // In Recreate mode an OOM kill evicts only if it was quick (evictAfterOOMSeconds); a slow one leaves
        // the other triggers to decide.
        let slow_oom =
            (input.policy.mode == UpdateMode::Recreate && !self.quick_oom(input)).then(|| {
                let mut m = input.memory.clone();
                m.oom_handled_at = Some(self.now);
                m
            });
        let memory = slow_oom.as_ref().unwrap_or(input.memory);
        let (trigger, oom, fired) =
            match trigger::evaluate(pod, recs, input.policy, memory, self.config, self.now) {
                Triggered::Fire(t, oom, fired) => (t, oom, fired),
                Triggered::Cooldown(until) => {
                    return Decision::Wait {
                        until: hold.map_or(until, |h| h.min(until)),
                        reason: WaitReason::Cooldown,
                    };
                }
                Triggered::Quiet => return held(SkipReason::InSync),
            };
        if hold.is_some() && trigger != Trigger::OomKill {
            return held(SkipReason::InSync);
        }
        // CPU rides along with any resize when changing it restarts nothing: the patch is sent anyway and a CPU
        // change carries no OOM risk. Memory moves only on its own trigger.
        let fired = if cpu_in_place(pod) {
            fired.with(Resource::Cpu)
        } else {
            fired
        };
        // During a boost only memory may change (after an OOM kill): CPU belongs to the boost.
        let mask = if hold.is_some() {
            fired.intersect(ResourceMask::MEMORY)
        } else {
            fired
        };
        let sizing = SizingInput {
            cfg: self.config,
            recs,
            policy: input.policy,
            limit_range: self.limit_ranges.get(&pod.namespace),
            mask,
            oom: &oom,
        };
        let changes = match size_pod(pod, &sizing) {
            Ok(c) if c.is_empty() => return Decision::Skip(SkipReason::InSync),
            Ok(c) => c,
            Err(reason) => return Decision::Skip(reason),
        };
        if input
            .memory
            .infeasible
            .as_deref()
            .is_some_and(|att| still_infeasible(att, &changes))
        {
            return Decision::Skip(SkipReason::InfeasibleCached);
        }
        if trigger != Trigger::OomKill
            && let Some(until) = input.memory.deferred_hold(&changes, self.now)
        {
            return Decision::Wait {
                until,
                reason: WaitReason::BackingOff,
            };
        }
        if input.policy.mode == UpdateMode::Recreate {
            return self.evict(input, EvictReason::Recreate, None);
        }
        self.finish(input, changes, trigger)
    }

    /// Disruption budget, node and quota fit, rate limits, then booking.
    fn finish(
        &mut self,
        input: &PodInput<'_>,
        mut changes: Vec<ContainerChange>,
        trigger: Trigger,
    ) -> Decision {
        let pod = input.pod;
        let mode = input.policy.mode;
        let mut later = None;
        if disruptive(pod, &changes) {
            let allowed = mode.may_evict()
                || (mode == UpdateMode::InPlace && self.config.inplace_allows_restart);
            let budget = if allowed {
                self.budget(input)
            } else {
                Err(Decision::Skip(SkipReason::DisruptionNotAllowed))
            };
            if let Err(blocked) = budget {
                let (safe, deferred) = non_disruptive_part(pod, &changes);
                if safe.is_empty() || !valid(pod, &safe) {
                    return blocked;
                }
                changes = safe;
                later = Some(deferred);
            }
        }
        let node = pod.node.as_ref().and_then(|n| self.nodes.get(n));
        let quota = self.quotas.get(&pod.namespace);
        let partial = match fit::fit(pod, &mut changes, node, quota, true) {
            Fit::Fits => false,
            Fit::Shrunk => true,
            Fit::NoRoom(reason) => {
                if mode == UpdateMode::InPlaceOrRecreate && reason == SkipReason::NoHeadroom {
                    return self.evict(
                        input,
                        EvictReason::NoHeadroom,
                        Some(Decision::Skip(reason)),
                    );
                }
                return Decision::Skip(reason);
            }
        };
        if !valid(pod, &changes) {
            return Decision::Skip(SkipReason::QosWouldChange);
        }
        let per_workload = trigger != Trigger::OomKill;
        if let Err(until) = self.rate.check(&pod.workload, per_workload, self.now) {
            return Decision::Wait {
                until,
                reason: WaitReason::RateLimited,
            };
        }
        self.rate.take(&pod.workload, per_workload, self.now);
        let disruptive = disruptive(pod, &changes);
        self.book(pod, &changes, disruptive);
        let plan = ResizePlan {
            containers: changes,
            disruptive,
            partial,
        };
        match later {
            Some(later) => Decision::Split {
                now: plan,
                later,
                trigger,
            },
            None => Decision::Resize { plan, trigger },
        }
    }

    /// `Ok` if the workload can take one more restarting pod now; else the decision to return.
    fn budget(&self, input: &PodInput<'_>) -> Result<(), Decision> {
        let pod = input.pod;
        let min = input
            .policy
            .min_replicas
            .unwrap_or(self.config.min_replicas);
        let Some(b) = self.budgets.get(&pod.workload) else {
            return Err(Decision::Skip(SkipReason::BelowMinReplicas));
        };
        if b.live_replicas < min {
            return Err(Decision::Skip(SkipReason::BelowMinReplicas));
        }
        // A pod that is not Ready already counts as restarting (and as disrupted for its PDB): restarting it
        // again costs the workload nothing more.
        let own = u32::from(!pod.ready);
        let wait = Decision::Wait {
            until: at(ms(self.now) + BUDGET_RETRY_MS),
            reason: WaitReason::DisruptionBudget,
        };
        if b.restarting.saturating_sub(own) > 0 {
            return Err(wait);
        }
        if pod.ready && b.pdb_disruptions_allowed.is_some_and(|d| d <= 0) {
            return Err(wait);
        }
        Ok(())
    }

    fn evict(
        &mut self,
        input: &PodInput<'_>,
        reason: EvictReason,
        fallback: Option<Decision>,
    ) -> Decision {
        if !input.policy.mode.may_evict() {
            return fallback.unwrap_or(Decision::Skip(SkipReason::DisruptionNotAllowed));
        }
        if let Some(rules) = self.eviction.get(&input.pod.workload)
            && !rules.admits(input.pod, input.recommendation)
        {
            return fallback.unwrap_or(Decision::Skip(SkipReason::EvictionRequirementsUnmet));
        }
        if let Err(blocked) = self.budget(input) {
            return fallback.unwrap_or(blocked);
        }
        let pod = input.pod;
        if let Err(until) = self.rate.check(&pod.workload, true, self.now) {
            return Decision::Wait {
                until,
                reason: WaitReason::RateLimited,
            };
        }
        self.rate.take(&pod.workload, true, self.now);
        if matches!(reason, EvictReason::Failed(_)) {
            self.rate.record_failure_eviction(&pod.workload, self.now);
        }
        self.book_disruption(pod);
        Decision::Evict(reason)
    }

    fn follow_up(&mut self, input: &PodInput<'_>, f: FollowUp) -> Decision {
        let pod = input.pod;
        match f {
            FollowUp::Decide(d) => d,
            FollowUp::Withdraw => {
                let changes = revert_changes(pod, self.config);
                let record = pod
                    .boost
                    .clone()
                    .map(|r| BoostRecord { active: false, ..r });
                match record {
                    Some(record) => self.unboost(pod, changes, record, UnboostReason::Withdrawn),
                    None => Decision::Skip(SkipReason::ForeignResizePending),
                }
            }
            FollowUp::Revert(reason, remember) => {
                let changes = revert_changes(pod, self.config);
                if changes.is_empty() || !valid(pod, &changes) {
                    return Decision::Skip(SkipReason::InSync);
                }
                let attempt = remember
                    .then(|| follow::ours(pod, input.memory).map(|r| r.changes.clone()))
                    .flatten();
                self.book(pod, &changes, false);
                Decision::Revert {
                    plan: ResizePlan {
                        containers: changes,
                        disruptive: false,
                        partial: false,
                    },
                    reason,
                    infeasible_attempt: attempt,
                }
            }
            FollowUp::Evict(reason, fallback) => {
                let held = self
                    .rate
                    .failure_eviction_hold(
                        &pod.workload,
                        self.config.failure_eviction_hold_ms,
                        self.now,
                    )
                    .is_some();
                let admitted = !held
                    && self
                        .eviction
                        .get(&pod.workload)
                        .is_none_or(|rules| rules.admits(pod, input.recommendation));
                // Only if the eviction can happen now: waiting for a rate-limit token would leave the failed
                // resize parked (a Deferred one holding node capacity) past its bound.
                let now_ok = self.rate.check(&pod.workload, true, self.now).is_ok();
                if input.policy.mode.may_evict() && admitted && now_ok && self.budget(input).is_ok()
                {
                    return self.evict(input, EvictReason::Failed(reason), None);
                }
                self.follow_up(input, *fallback)
            }
            FollowUp::ShrinkOrRevert(reason) => match self.shrink(input) {
                Some(d) => d,
                None => self.follow_up(input, FollowUp::Revert(reason, true)),
            },
        }
    }

    /// Whether some recent, unanswered OOM kill of the pod came within `evictAfterOOMSeconds` of its
    /// container's start (or no OOM kill is pending, so there is nothing to hold back).
    fn quick_oom(&self, input: &PodInput<'_>) -> bool {
        let pod = input.pod;
        let killed =
            trigger::oom_containers(pod, input.policy, input.memory, self.config, self.now);
        if !killed.iter().any(|k| *k) {
            return true;
        }
        let threshold = self
            .eviction
            .get(&pod.workload)
            .and_then(|e| e.evict_after_oom_ms)
            .unwrap_or(self.config.oom_window_ms);
        pod.containers.iter().zip(killed).any(|(c, k)| {
            k && c
                .last_termination
                .is_some_and(|t| t.reason == TerminationReason::OomKilled)
                && self
                    .last_run_ms
                    .get(&Self::run_key(&pod.namespace, &pod.name, &c.name))
                    .is_none_or(|run| *run < threshold)
        })
    }

    /// After a Deferred timeout: the recommendation sized from what runs now, cut to what fits the node.
    fn shrink(&mut self, input: &PodInput<'_>) -> Option<Decision> {
        let pod = input.pod;
        let recs = input.recommendation?;
        let mut running = pod.clone();
        for c in running.containers.iter_mut().filter(|c| c.resizable()) {
            c.spec = c.current();
        }
        let oom = vec![false; pod.containers.len()];
        let sizing = SizingInput {
            cfg: self.config,
            recs,
            policy: input.policy,
            limit_range: self.limit_ranges.get(&pod.namespace),
            mask: ResourceMask::ALL,
            oom: &oom,
        };
        let sized = size_pod(&running, &sizing).ok()?;
        // Every resizable container, even where the sized value equals the pending spec: `finish` cuts the
        // increases over what the kubelet granted down to the room, and drops what ends up unchanged.
        let changes: Vec<ContainerChange> = pod
            .containers
            .iter()
            .filter(|c| c.resizable())
            .map(|c| {
                let after = sized
                    .iter()
                    .find(|ch| ch.name == c.name)
                    .map_or(c.current(), |ch| ch.after);
                // Never above the pending ask: a shrink only gives back.
                let mut after = after;
                for r in Resource::ALL {
                    if let (Some(b), Some(a)) = (c.spec.requests.get(r), after.requests.get(r))
                        && a > b
                    {
                        after.requests.set(r, Some(b));
                    }
                    if let (Some(b), Some(a)) = (c.spec.limits.get(r), after.limits.get(r))
                        && a > b
                    {
                        after.limits.set(r, Some(b));
                    }
                }
                ContainerChange {
                    name: c.name.clone(),
                    before: c.spec,
                    after,
                }
            })
            .collect();
        // Checked on a scratch copy of the ledgers: a result equal to what runs is a revert, booked as such.
        let snapshot = (
            self.nodes.clone(),
            self.quotas.clone(),
            self.budgets.clone(),
            self.rate.clone(),
        );
        let d = self.finish(input, changes, Trigger::DeferredShrink);
        let grows = d.plan().is_some_and(|p| {
            p.containers.iter().any(|ch| {
                pod.container(&ch.name).is_some_and(|c| {
                    Resource::ALL
                        .iter()
                        .any(|r| !same_effective(self.config, &c.current(), &ch.after, *r))
                })
            })
        });
        if grows {
            return Some(d);
        }
        let rate;
        (self.nodes, self.quotas, self.budgets, rate) = snapshot;
        *self.rate = rate;
        None
    }

    fn boost(
        &mut self,
        input: &PodInput<'_>,
        mut changes: Vec<ContainerChange>,
        record: BoostRecord,
    ) -> Decision {
        let pod = input.pod;
        let node = pod.node.as_ref().and_then(|n| self.nodes.get(n));
        let quota = self.quotas.get(&pod.namespace);
        let partial = match fit::fit(pod, &mut changes, node, quota, false) {
            Fit::Fits => false,
            Fit::Shrunk => true,
            Fit::NoRoom(reason) => return Decision::Skip(reason),
        };
        if !valid(pod, &changes) {
            return Decision::Skip(SkipReason::QosWouldChange);
        }
        if let Err(until) = self.rate.check(&pod.workload, false, self.now) {
            return Decision::Wait {
                until,
                reason: WaitReason::RateLimited,
            };
        }
        self.rate.take(&pod.workload, false, self.now);
        self.book(pod, &changes, false);
        Decision::Boost {
            plan: ResizePlan {
                containers: changes,
                disruptive: false,
                partial,
            },
            record,
        }
    }

    fn unboost(
        &mut self,
        pod: &PodView,
        changes: Vec<ContainerChange>,
        record: BoostRecord,
        reason: UnboostReason,
    ) -> Decision {
        let changes = if valid(pod, &changes) {
            changes
        } else {
            Vec::new()
        };
        self.book(pod, &changes, false);
        Decision::Unboost {
            plan: ResizePlan {
                containers: changes,
                disruptive: false,
                partial: false,
            },
            record,
            reason,
        }
    }

    /// Books a change against its node, its namespace quota and (when it restarts a container) its workload.
    fn book(&mut self, pod: &PodView, changes: &[ContainerChange], disruptive: bool) {
        let d_cpu = fit::committed_delta(pod, changes, Resource::Cpu);
        let d_mem = fit::committed_delta(pod, changes, Resource::Memory);
        if let Some(n) = pod.node.as_ref().and_then(|n| self.nodes.get_mut(n)) {
            n.committed_cpu = cpu(cpu_value(n.committed_cpu).saturating_add(d_cpu));
            n.committed_memory = mem(mem_value(n.committed_memory).saturating_add(d_mem));
        }
        if let Some(q) = self.quotas.get_mut(&pod.namespace) {
            for (r, d) in [(Resource::Cpu, d_cpu), (Resource::Memory, d_mem)] {
                if let Some(free) = q.requests.get(r) {
                    q.requests.set(r, Some(free.saturating_sub(d)));
                }
                let dl: i64 = changes
                    .iter()
                    .map(|ch| {
                        ch.after.limits.get(r).unwrap_or(0) - ch.before.limits.get(r).unwrap_or(0)
                    })
                    .sum();
                if let Some(free) = q.limits.get(r) {
                    q.limits.set(r, Some(free.saturating_sub(dl)));
                }
            }
        }
        if disruptive {
            self.book_disruption(pod);
        }
    }

    fn book_disruption(&mut self, pod: &PodView) {
        if let Some(b) = self.budgets.get_mut(&pod.workload)
            && pod.ready
        {
            b.restarting = b.restarting.saturating_add(1);
            b.pdb_disruptions_allowed = b.pdb_disruptions_allowed.map(|d| d - 1);
        }
    }
}

/// The recommendation with active OOM floors applied (target and upper bound raised to the floor), or `None`
/// when no floor is active.
fn with_oom_floors(
    recs: &[ContainerRecommendation],
    memory: &PodMemory,
    now: Timestamp,
) -> Option<Vec<ContainerRecommendation>> {
    if memory.oom_floors.is_empty() {
        return None;
    }
    let mut out = recs.to_vec();
    let mut any = false;
    for rec in &mut out {
        let Some(floor) = memory.oom_floor(&rec.name, now) else {
            continue;
        };
        for values in [&mut rec.target, &mut rec.upper] {
            if values.get(Resource::Memory).is_some_and(|v| v < floor) {
                values.set(Resource::Memory, Some(floor));
                any = true;
            }
        }
    }
    any.then_some(out)
}

/// Pods the planner never touches, and why.
fn eligibility(pod: &PodView) -> Option<SkipReason> {
    if pod.deleting || matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed) {
        return Some(SkipReason::Terminating);
    }
    if pod.static_or_mirror {
        return Some(SkipReason::StaticOrMirror);
    }
    if pod.windows {
        return Some(SkipReason::Windows);
    }
    if pod.pod_level_resources {
        return Some(SkipReason::PodLevelResources);
    }
    if pod.foreign_writer.is_some() {
        return Some(SkipReason::OtherWriter);
    }
    if pod.qos == QosClass::BestEffort {
        return Some(SkipReason::BestEffort);
    }
    if pod.node.is_none() {
        return Some(SkipReason::Unscheduled);
    }
    // A running container without status resources means the node cannot resize (version skew).
    if pod
        .containers
        .iter()
        .any(|c| c.resizable() && c.running && c.actual.is_none())
    {
        return Some(SkipReason::NoStatusResources);
    }
    None
}

/// Whether every resizable container takes CPU changes without a restart.
fn cpu_in_place(pod: &PodView) -> bool {
    pod.containers
        .iter()
        .filter(|c| c.resizable())
        .all(|c| c.resize_policy.get(Resource::Cpu) == RestartPolicy::NotRequired)
}

/// Whether any change touches a resource whose resize policy restarts the container.
fn disruptive(pod: &PodView, changes: &[ContainerChange]) -> bool {
    changes.iter().any(|ch| {
        let Some(c) = pod.container(&ch.name) else {
            return false;
        };
        let changed = ch.changed();
        Resource::ALL.iter().any(|r| {
            changed.contains(*r) && c.resize_policy.get(*r) == RestartPolicy::RestartContainer
        })
    })
}

/// The changes with every `RestartContainer` resource put back, and the resources left for later.
fn non_disruptive_part(
    pod: &PodView,
    changes: &[ContainerChange],
) -> (Vec<ContainerChange>, ResourceMask) {
    let mut later = ResourceMask::NONE;
    let safe = changes
        .iter()
        .filter_map(|ch| {
            let c = pod.container(&ch.name)?;
            let mut after = ch.after;
            for r in Resource::ALL {
                if ch.changed().contains(r)
                    && c.resize_policy.get(r) == RestartPolicy::RestartContainer
                {
                    after.requests.set(r, ch.before.requests.get(r));
                    after.limits.set(r, ch.before.limits.get(r));
                    match r {
                        Resource::Cpu => later.cpu = true,
                        Resource::Memory => later.memory = true,
                    }
                }
            }
            (after != ch.before).then(|| ContainerChange {
                name: ch.name.clone(),
                before: ch.before,
                after,
            })
        })
        .collect();
    (safe, later)
}

/// Spec back to the values that run now, never dropping a field.
fn revert_changes(pod: &PodView, cfg: &PlannerConfig) -> Vec<ContainerChange> {
    let afters = pod
        .containers
        .iter()
        .map(|c| {
            let mut after = c.spec;
            if let (true, Some(actual)) = (c.resizable(), c.actual) {
                for r in Resource::ALL {
                    if let (Some(_), Some(v)) = (after.requests.get(r), actual.requests.get(r)) {
                        after.requests.set(r, Some(v));
                    }
                    if let (Some(_), Some(v)) = (after.limits.get(r), actual.limits.get(r)) {
                        after.limits.set(r, Some(v));
                    }
                }
            }
            after
        })
        .collect();
    normalized(pod, afters, cfg)
}

/// The safety net every plan passes before it is booked: the QoS class holds, requests ≤ limits, no request
/// or limit disappears.
pub(crate) fn valid(pod: &PodView, changes: &[ContainerChange]) -> bool {
    let afters: Vec<Requirements> = pod
        .containers
        .iter()
        .map(|c| {
            changes
                .iter()
                .find(|ch| ch.name == c.name)
                .map_or(c.spec, |ch| ch.after)
        })
        .collect();
    if compute_qos(afters.iter()) != pod.qos {
        return false;
    }
    changes.iter().all(|ch| {
        Resource::ALL.iter().all(|r| {
            let (q, l) = (ch.after.requests.get(*r), ch.after.limits.get(*r));
            let ordered = match (q, l) {
                (Some(q), Some(l)) => q <= l,
                _ => true,
            };
            let kept = (ch.before.requests.get(*r).is_none() || q.is_some())
                && (ch.before.limits.get(*r).is_none() || l.is_some());
            ordered && kept
        })
    })
}
