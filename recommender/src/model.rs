//! The recommender's model: one aggregate per workload container, fed by node-agent reports. Pure: every
//! method takes `now` or the sample's own time, and nothing here does I/O.
//!
//! Report figures map onto tailor-core's model so that default settings give upstream VPA's histograms:
//! CPU samples carry upstream's weight per minute of usage (a 10 s report is worth 1/6 of a one-minute
//! sample, spread over its per-second buckets), confidence counts minutes of samples, and each pod container
//! contributes one memory peak per aggregation window. The switchable improvements:
//! - `startup_split`: summaries flagged `startup` go to a separate aggregate (to size the startup boost) and
//!   stay out of the steady-state histogram;
//! - `throttling_signal`: an interval throttled in at least `throttling_threshold` of its CFS periods adds a
//!   sample above the limit (usage under a limit cannot show demand beyond it);
//! - the OOM floor of `AggregateConfig::oom_floor_hold`.

use std::collections::{BTreeMap, HashMap};

use tailor_core::model::{
    AggregateConfig, AggregateState, ContainerKey, ContainerState, MemorySample, ModelError,
    OpenWindow, ThrottleTally, WorkloadKey, throttling_demand,
};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::report::{CPU_HISTOGRAM_BUCKETS, ContainerReport, cpu_bucket_start_millicores};
use tailor_core::time::Timestamp;

/// Switches and settings of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Histogram layout, decay, memory windows, OOM bump and floor.
    pub aggregate: AggregateConfig,
    /// Keep start-up samples out of the steady-state histogram.
    pub startup_split: bool,
    /// Treat heavy CPU throttling as demand above the limit.
    pub throttling_signal: bool,
    /// Share of CFS periods throttled from which an interval counts as starved.
    pub throttling_threshold: f64,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            aggregate: AggregateConfig::default(),
            startup_split: true,
            throttling_signal: true,
            throttling_threshold: 0.1,
        }
    }
}

impl ModelOptions {
    /// Exactly upstream VPA's behaviour: no floor, no split, no throttling signal.
    pub fn upstream() -> Self {
        Self {
            aggregate: AggregateConfig::upstream(),
            startup_split: false,
            throttling_signal: false,
            throttling_threshold: 0.1,
        }
    }
}

/// How fast the throttled share forgets: an hour, so that the condition tracks a limit change within hours.
const THROTTLE_HALF_LIFE: std::time::Duration = std::time::Duration::from_secs(3600);

/// One workload container's history.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Steady-state history: what recommendations come from.
    pub steady: AggregateState,
    /// Start-up history, kept apart when `startup_split` is on.
    pub startup: AggregateState,
    /// Throttled share of recent steady-state CFS periods (start-up throttling is what boosts are for). Not
    /// checkpointed: it describes the last hours, which a restarted recommender relearns within minutes.
    pub throttle: ThrottleTally,
    pods: HashMap<String, PodContainer>,
    startup_pods: HashMap<String, PodContainer>,
    /// One-minute sample equivalents not yet counted towards confidence.
    minutes_carry: f64,
    /// Last time a report touched this aggregate.
    pub last_update: Timestamp,
    /// Changed since the last checkpoint.
    pub dirty: bool,
}

#[derive(Debug, Clone, Default)]
struct PodContainer {
    state: ContainerState,
    last_cpu_end_ms: i64,
}

impl Tracked {
    fn new(cfg: &AggregateConfig, now: Timestamp) -> Self {
        Self {
            steady: AggregateState::new(cfg, now),
            startup: AggregateState::new(cfg, now),
            throttle: ThrottleTally::new(THROTTLE_HALF_LIFE),
            pods: HashMap::new(),
            startup_pods: HashMap::new(),
            minutes_carry: 0.0,
            last_update: now,
            dirty: false,
        }
    }

    /// The memory windows of this container's pods still open at `now`, by pod UID: stored with the checkpoint
    /// so that a restart does not count a window's peak twice (see [`Model::resume_windows`]).
    pub fn open_windows(&self, now: Timestamp) -> BTreeMap<String, OpenWindow> {
        self.pods
            .iter()
            .filter_map(|(uid, p)| Some((uid.clone(), p.state.open_window(now)?)))
            .collect()
    }

    /// Forgets per-pod window state of pods that are gone (their peaks stay in the histogram).
    pub fn forget_pod(&mut self, pod_uid: &str) {
        self.pods.remove(pod_uid);
        self.startup_pods.remove(pod_uid);
    }
}

/// All aggregates.
#[derive(Debug, Clone)]
pub struct Model {
    opts: ModelOptions,
    // Grouped by workload: a recommendation pass reads one workload's containers, and pod deletions touch one.
    aggregates: HashMap<WorkloadKey, BTreeMap<String, Tracked>>,
}

/// The middle of CPU bucket `index` in cores: inside the bucket whatever the float rounding at its edges.
fn bucket_middle_cores(index: u16) -> f64 {
    let start = cpu_bucket_start_millicores(index);
    let end = if index + 1 < CPU_HISTOGRAM_BUCKETS {
        cpu_bucket_start_millicores(index + 1)
    } else {
        start * 1.05
    };
    (start + end) / 2.0 / 1000.0
}

impl Model {
    /// An empty model.
    pub fn new(opts: ModelOptions) -> Self {
        Self {
            opts,
            aggregates: HashMap::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &ModelOptions {
        &self.opts
    }

    /// The aggregate of `key`, if tracked.
    pub fn get(&self, key: &ContainerKey) -> Option<&Tracked> {
        self.aggregates.get(&key.workload)?.get(&key.container)
    }

    /// Number of aggregates.
    pub fn len(&self) -> usize {
        self.aggregates.values().map(BTreeMap::len).sum()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.aggregates.is_empty()
    }

    /// Aggregates of one workload, by container name.
    pub fn containers_of(&self, workload: &WorkloadKey) -> Option<&BTreeMap<String, Tracked>> {
        self.aggregates.get(workload)
    }

    /// Every aggregate.
    pub fn iter(&self) -> impl Iterator<Item = (ContainerKey, &Tracked)> {
        self.aggregates.iter().flat_map(|(w, containers)| {
            containers
                .iter()
                .map(move |(c, t)| (ContainerKey::new(w.clone(), c.clone()), t))
        })
    }

    fn tracked(&mut self, key: ContainerKey, now: Timestamp) -> &mut Tracked {
        let cfg = &self.opts.aggregate;
        self.aggregates
            .entry(key.workload)
            .or_default()
            .entry(key.container)
            .or_insert_with(|| Tracked::new(cfg, now))
    }

    /// Applies one container summary from a validated report. Returns false when the interval overlaps one
    /// already applied for the same pod container (nothing is applied then).
    pub fn apply_container(
        &mut self,
        key: ContainerKey,
        r: &ContainerReport,
        now: Timestamp,
    ) -> bool {
        let opts = self.opts.clone();
        let cfg = &opts.aggregate;
        let startup = opts.startup_split && r.startup;
        let tracked = self.tracked(key, now);
        let (agg, pods) = if startup {
            (&mut tracked.startup, &mut tracked.startup_pods)
        } else {
            (&mut tracked.steady, &mut tracked.pods)
        };
        let pod = pods.entry(r.container.pod_uid.clone()).or_default();
        if r.interval_start_ms < pod.last_cpu_end_ms {
            return false;
        }
        pod.last_cpu_end_ms = r.interval_end_ms;

        let start = Timestamp::from_unix_millis(r.interval_start_ms);
        let minutes = (r.interval_end_ms - r.interval_start_ms) as f64 / 60_000.0;
        let interval_weight = cfg.cpu_sample_weight * minutes;
        let samples: u64 = r.cpu.histogram.values().map(|c| u64::from(*c)).sum();
        if samples > 0 {
            let per_sample = interval_weight / samples as f64;
            for (&bucket, &count) in &r.cpu.histogram {
                agg.cpu.add_sample(
                    bucket_middle_cores(bucket),
                    per_sample * f64::from(count),
                    start,
                );
            }
        }
        if opts.throttling_signal {
            let t = &r.cpu.throttling;
            if let (Some(limit), true) = (r.cpu.limit_millicores, t.nr_periods > 0) {
                let share = t.nr_throttled as f64 / t.nr_periods as f64;
                let limit = MilliCpu(i64::try_from(limit).unwrap_or(i64::MAX));
                if let Some(demand) = throttling_demand(limit, share, opts.throttling_threshold) {
                    agg.cpu.add_sample(demand, interval_weight, start);
                }
            }
        }
        if !startup {
            tracked.minutes_carry += minutes;
            let t = &r.cpu.throttling;
            let end = Timestamp::from_unix_millis(r.interval_end_ms);
            tracked.throttle.add(t.nr_periods, t.nr_throttled, end);
        }
        // Sixths of a minute do not sum to exactly one in floating point; a small epsilon keeps the count exact.
        let whole = (tracked.minutes_carry + 1e-9).floor();
        tracked.minutes_carry = (tracked.minutes_carry - whole).max(0.0);
        let agg = if startup {
            &mut tracked.startup
        } else {
            &mut tracked.steady
        };
        agg.note_cpu_sample(start, whole as u64);
        let sample = MemorySample {
            start,
            usage: Bytes(i64::try_from(r.memory.working_set_peak_bytes).unwrap_or(i64::MAX)),
        };
        let pods = if startup {
            &mut tracked.startup_pods
        } else {
            &mut tracked.pods
        };
        if let Some(pod) = pods.get_mut(&r.container.pod_uid) {
            pod.state.add_memory_sample(agg, cfg, sample);
        }
        tracked.last_update = now;
        tracked.dirty = true;
        true
    }

    /// Applies an OOM kill of `key` in pod `pod_uid` at `at`: the memory that was in use (request, window peak,
    /// and with the floor on, the limit it was killed at) is bumped and recorded. Returns the bumped amount.
    pub fn apply_oom(
        &mut self,
        key: ContainerKey,
        pod_uid: &str,
        at: Timestamp,
        request: Bytes,
        limit_at_kill: Option<Bytes>,
        now: Timestamp,
    ) -> Result<Bytes, ModelError> {
        let cfg = self.opts.aggregate.clone();
        let tracked = self.tracked(key, now);
        let pod = tracked.pods.entry(pod_uid.to_owned()).or_default();
        let bumped = pod
            .state
            .record_oom(&mut tracked.steady, &cfg, at, request, limit_at_kill)?;
        tracked.last_update = now;
        tracked.dirty = true;
        Ok(bumped)
    }

    /// Adds restored history (a checkpoint, or an imported upstream one) to `key`.
    pub fn restore(
        &mut self,
        key: ContainerKey,
        state: AggregateState,
        now: Timestamp,
    ) -> Result<(), ModelError> {
        let tracked = self.tracked(key, now);
        tracked.steady.merge(&state)
    }

    /// Resumes stored open memory windows of `key`'s pods (their peaks are in the restored history). A pod that
    /// reports again within its window then replaces that peak, as it would have without the restart, instead of
    /// adding a second one; a pod that does not leaves its peak in the history. Windows that closed in the
    /// meantime, and pods already tracked, are left alone.
    pub fn resume_windows(
        &mut self,
        key: ContainerKey,
        windows: &BTreeMap<String, OpenWindow>,
        now: Timestamp,
    ) {
        let tracked = self.tracked(key, now);
        for (uid, window) in windows.iter().filter(|(_, w)| w.end > now) {
            tracked
                .pods
                .entry(uid.clone())
                .or_insert_with(|| PodContainer {
                    state: ContainerState::resume(*window),
                    last_cpu_end_ms: 0,
                });
        }
    }

    /// Whether `key` has any history.
    pub fn has_history(&self, key: &ContainerKey) -> bool {
        self.get(key).is_some_and(|t| !t.steady.is_empty())
    }

    /// Workloads with a container changed since its last checkpoint, clearing the marks.
    pub fn take_dirty_workloads(&mut self) -> Vec<WorkloadKey> {
        let mut out = Vec::new();
        for (workload, containers) in &mut self.aggregates {
            let mut dirty = false;
            for t in containers.values_mut() {
                dirty |= std::mem::take(&mut t.dirty);
            }
            if dirty {
                out.push(workload.clone());
            }
        }
        out
    }

    /// Marks a workload dirty again (its checkpoint write failed).
    pub fn mark_dirty(&mut self, workload: &WorkloadKey) {
        if let Some(containers) = self.aggregates.get_mut(workload) {
            containers.values_mut().for_each(|t| t.dirty = true);
        }
    }

    /// Drops aggregates that saw neither a report nor a sample for a whole history window. Returns how many.
    pub fn collect_garbage(&mut self, now: Timestamp) -> usize {
        let cfg = &self.opts.aggregate;
        let window = cfg.history_window();
        let mut removed = 0;
        // Per-pod state of pods silent for an hour past their window (deleted while nobody watched) goes.
        let stale = |p: &PodContainer| {
            p.state
                .window_end()
                .is_some_and(|end| now.since(end) > std::time::Duration::from_secs(3600))
        };
        for t in self.aggregates.values_mut().flat_map(BTreeMap::values_mut) {
            t.pods.retain(|_, p| !stale(p));
            t.startup_pods.retain(|_, p| !stale(p));
        }
        for containers in self.aggregates.values_mut() {
            let before = containers.len();
            containers
                .retain(|_, t| now.since(t.last_update) < window || !t.steady.is_expired(cfg, now));
            removed += before - containers.len();
        }
        self.aggregates.retain(|_, c| !c.is_empty());
        removed
    }

    /// Forgets per-pod window state of a deleted pod.
    pub fn forget_pod(&mut self, workload: &WorkloadKey, pod_uid: &str) {
        if let Some(containers) = self.aggregates.get_mut(workload) {
            containers.values_mut().for_each(|t| t.forget_pod(pod_uid));
        }
    }
}

#[cfg(test)]
mod tests;
