//! The updater loop: wait for a tick, an OOM wake-up or the earliest planned wait; plan a pass; carry the
//! decisions out (leader only); remember what was sent; measure time to actual.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use tailor_core::plan::Decision;
use tailor_core::time::Timestamp;
use tailor_k8s::leader::Leadership;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::actuator::{Actuator, Applied, Target};
use crate::metrics::{DecisionLabels, Metrics};
use crate::pass::{self, Planned, Snapshot, UpdaterState};
use crate::stores::Stores;
use crate::usage::WorkingSets;

/// Loop settings.
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    /// Longest time between passes.
    pub interval: Duration,
    /// Shortest time between passes (wake-ups closer together are merged).
    pub min_interval: Duration,
    /// Writes in flight at once.
    pub concurrency: usize,
    pub dry_run: bool,
}

pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_unix_millis(ms)
}

/// The running updater.
#[derive(Debug)]
pub struct Controller {
    pub stores: Stores,
    pub actuator: Actuator,
    pub metrics: Metrics,
    pub state: UpdaterState,
    pub config: LoopConfig,
    /// Resizes sent and not yet seen done: pod UID → (sent at, generation).
    sent: HashMap<String, (Timestamp, i64)>,
    /// Dry run: the last thing reported per pod, so a standing "would resize" is reported once.
    reported: HashMap<String, String>,
    /// Container working sets (metrics API), for lowering memory limits.
    working_sets: Option<WorkingSets>,
}

impl Controller {
    pub fn new(
        stores: Stores,
        actuator: Actuator,
        metrics: Metrics,
        state: UpdaterState,
        config: LoopConfig,
    ) -> Self {
        Self {
            stores,
            actuator,
            metrics,
            state,
            config,
            sent: HashMap::new(),
            reported: HashMap::new(),
            working_sets: None,
        }
    }

    /// Reads container working sets from `sets` on every pass.
    pub fn with_working_sets(mut self, sets: WorkingSets) -> Self {
        self.working_sets = Some(sets);
        self
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            pods: self.stores.pods.state(),
            vpas: self.stores.vpas.state(),
            nodes: self.stores.nodes.state(),
            limit_ranges: self.stores.limit_ranges.state(),
            quotas: self.stores.quotas.state(),
            pdbs: self.stores.pdbs.state(),
            working_sets: self
                .working_sets
                .as_ref()
                .map(WorkingSets::current)
                .unwrap_or_default(),
        }
    }

    /// Runs until `shutdown`; passes write only while `leadership` is held.
    pub async fn run(
        mut self,
        wake: Arc<Notify>,
        leadership: Leadership,
        shutdown: CancellationToken,
    ) {
        let mut next = self.config.interval;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(next) => {}
            }
            if !leadership.is_leader() {
                // Another replica writes now: what it records on the pods wins once this one leads again.
                self.state.memory.clear();
                self.sent.clear();
                next = self.config.interval;
                continue;
            }
            let started = std::time::Instant::now();
            let wake_at = self.pass_once().await;
            let until = wake_at.map_or(self.config.interval, |t| t.since(now()));
            next = until.clamp(self.config.min_interval, self.config.interval);
            tracing::debug!(took = ?started.elapsed(), next = ?next, "pass done");
        }
        tracing::info!("updater loop stopped");
    }

    /// Plans and carries out one pass; returns the earliest time a waiting pod wants another look.
    pub async fn pass_once(&mut self) -> Option<Timestamp> {
        let snapshot = self.snapshot();
        let t = now();
        let started = std::time::Instant::now();
        let planned = pass::plan(&snapshot, &self.stores, &mut self.state, t);
        self.metrics
            .pass_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .pods_planned
            .set(i64::try_from(planned.len()).unwrap_or(i64::MAX));
        self.observe_settled(&planned, t);
        let boosts = planned
            .iter()
            .filter(|p| p.view.boost.as_ref().is_some_and(|b| b.active))
            .count();
        self.metrics
            .boosts_active
            .set(i64::try_from(boosts).unwrap_or(i64::MAX));
        let mut wake: Option<Timestamp> = None;
        let mut actions = Vec::new();
        for p in planned {
            self.metrics
                .decisions
                .get_or_create(&DecisionLabels {
                    kind: p.decision.kind(),
                    reason: p.decision.reason(),
                })
                .inc();
            match &p.decision {
                Decision::Wait { until, .. } => wake = Some(wake.map_or(*until, |w| w.min(*until))),
                Decision::Skip(_) => {}
                _ if self.config.dry_run && !self.first_report(&p) => {}
                _ => actions.push(p),
            }
        }
        let actuator = self.actuator.clone();
        let results: Vec<(Planned, Applied)> = futures::stream::iter(actions)
            .map(|p| {
                let actuator = actuator.clone();
                async move {
                    let applied = actuator
                        .execute(
                            Target {
                                pod: &p.pod,
                                view: &p.view,
                                vpa: Some(&p.vpa),
                            },
                            &p.decision,
                        )
                        .await;
                    (p, applied)
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let t = now();
        let mut changed = Vec::new();
        for (p, applied) in results {
            let memory = self.state.memory.entry(p.uid.clone()).or_default();
            let before = memory.clone();
            match applied {
                Applied::Resized { generation } => {
                    memory.record_applied(&p.decision, &p.view, generation, &self.state.config, t);
                    if let Some(g) = generation {
                        self.sent.insert(p.uid.clone(), (t, g));
                    }
                }
                // A rejected or failed write is not retried blindly on every pass.
                Applied::Failed => {
                    let until = Timestamp::from_unix_millis(
                        t.unix_millis() + self.state.config.error_backoff_ms,
                    );
                    memory.backoff_until = Some(until);
                    wake = Some(wake.map_or(until, |w| w.min(until)));
                }
                // Larger than the node: not retried until the recommendation drops below the attempt.
                Applied::NodeCapacity => {
                    if let Some(plan) = p.decision.plan() {
                        memory.record_node_capacity_rejection(&plan.containers);
                    }
                }
                Applied::Evicted | Applied::DryRun | Applied::Nothing => {}
            }
            if *memory != before {
                changed.push((
                    p.view.namespace.clone(),
                    p.view.name.clone(),
                    memory.clone(),
                ));
            }
        }
        let actuator = &self.actuator;
        futures::stream::iter(changed)
            .for_each_concurrent(
                self.config.concurrency.max(1),
                |(ns, name, memory)| async move {
                    actuator.save_state(&ns, &name, &memory).await;
                },
            )
            .await;
        self.prune(&snapshot);
        wake
    }

    /// Dry run: whether this decision differs from the last one reported for the pod.
    fn first_report(&mut self, p: &Planned) -> bool {
        let key = format!(
            "{}:{}:{:?}",
            p.decision.kind(),
            p.decision.reason(),
            p.decision.plan()
        );
        self.reported.insert(p.uid.clone(), key.clone()).as_ref() != Some(&key)
    }

    /// Time to actual: a sent resize is done once the kubelet observed its generation and no resize condition
    /// is left.
    fn observe_settled(&mut self, planned: &[Planned], t: Timestamp) {
        for p in planned {
            let Some((sent_at, generation)) = self.sent.get(&p.uid).copied() else {
                continue;
            };
            let observed = p.view.observed_generation.is_some_and(|o| o >= generation);
            if observed && p.view.pending.is_none() && p.view.in_progress.is_none() {
                self.metrics
                    .time_to_actual
                    .observe(t.since(sent_at).as_secs_f64());
                self.sent.remove(&p.uid);
            }
        }
    }

    /// Forgets pods that are gone.
    fn prune(&mut self, snapshot: &Snapshot) {
        let live: HashSet<&str> = snapshot
            .pods
            .iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        self.state
            .memory
            .retain(|uid, _| live.contains(uid.as_str()));
        self.sent.retain(|uid, _| live.contains(uid.as_str()));
        self.reported.retain(|uid, _| live.contains(uid.as_str()));
        let hold = self.state.config.failure_eviction_hold_ms;
        self.state.rate.prune(now(), hold);
    }
}
