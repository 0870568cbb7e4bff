//! The sampler: one tracker per container cgroup, swept every interval.
//!
//! Time is passed in (`now_ms` wall clock for reports, `mono_usec` monotonic for rates), so tests drive it
//! with a fake clock and files they rewrite.

pub mod burst;
pub mod delta;
pub mod summary;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::Arc;

use rustix::fd::OwnedFd;
use tailor_core::report::{ContainerRef, ContainerReport, UrgentEvent, UrgentKind};

use crate::cgroup::notify::{EventsWatcher, Notice, WatchId};
use crate::cgroup::{CgroupFiles, FileMode, RawSample, ReadError};
use crate::discovery::Target;
use burst::{BurstRule, BurstWindow};
use delta::{Delta, delta};
use summary::Summary;

/// Sampler settings.
#[derive(Debug, Clone, Copy)]
pub struct SamplerConfig {
    pub file_mode: FileMode,
    /// A container is in its start-up phase for this long after it started.
    pub startup_ms: i64,
    /// Highest believable usage rate (node CPUs × 1000 plus slack).
    pub max_millicores: u64,
    /// A throttling burst: at least this many periods within the burst window...
    pub burst_min_periods: u64,
    /// ...of which at least this percentage throttled.
    pub burst_percent: u64,
    /// Longest run of recent samples a burst may span (the newest sample alone always counts).
    pub burst_window_ms: u64,
    /// At most one burst event per container per this long.
    pub burst_cooldown_ms: i64,
    /// Read the slow-moving files (limits, `memory.peak`, PSI) on every this many samples (1 = always).
    pub slow_every: u32,
    /// Watch `memory.events` with inotify (falling back to reading it on every sample where a watch cannot be
    /// set): OOM kills are seen at once and the file is read only when it changes, plus on full samples.
    pub watch_events: bool,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            file_mode: FileMode::Reopen,
            startup_ms: 5 * 60_000,
            max_millicores: 1_024_000,
            burst_min_periods: 5,
            burst_percent: 50,
            burst_window_ms: 10_000,
            burst_cooldown_ms: 60_000,
            slow_every: 5,
            watch_events: true,
        }
    }
}

/// Cumulative per-container figures for `/metrics` (counters as the cgroup reports them).
#[derive(Debug, Clone)]
pub struct ContainerMetrics {
    pub container: Arc<ContainerRef>,
    pub cpu_usage_usec: u64,
    pub working_set_bytes: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub oom_kills: u64,
    pub cpu_pressure_some_usec: Option<u64>,
    pub memory_pressure_some_usec: Option<u64>,
    pub memory_pressure_full_usec: Option<u64>,
}

/// What one sweep did.
#[derive(Debug, Default)]
pub struct SweepOutcome {
    pub sampled: usize,
    pub vanished: usize,
    pub parse_errors: usize,
    pub io_errors: usize,
    pub events: Vec<UrgentEvent>,
}

#[derive(Debug)]
struct Tracker {
    container: Arc<ContainerRef>,
    files: CgroupFiles,
    started_ms: Option<i64>,
    /// Reference for the start-up phase when the pod status gives no start time: when the agent first saw the
    /// cgroup, unless it was already there when the agent started (then its age is unknown and assumed old).
    first_seen_ms: Option<i64>,
    prev: Option<(RawSample, u64)>,
    /// Samples taken, for the slow-file cadence.
    count: u32,
    summary: Summary,
    last_burst_ms: Option<i64>,
    burst: BurstWindow,
    /// The armed inotify watch on `memory.events`; `None` means it is read on every sample.
    watch: Option<WatchId>,
    /// Order in which trackers were created, to tell the newer of two cgroups of one container.
    serial: u64,
    /// Another tracker of the same (namespace, pod, container) is newer: this one's figures are not exported.
    shadowed: bool,
}

/// Watches `dir`'s `memory.events` for container `id`; `None` (poll instead) when no watch can be set.
fn arm(
    watcher: Option<&EventsWatcher>,
    watched: &mut HashMap<WatchId, String>,
    dir: &Path,
    id: &str,
) -> Option<WatchId> {
    let w = watcher?;
    match w.watch(dir) {
        Ok(wd) => {
            watched.insert(wd, id.to_owned());
            Some(wd)
        }
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "cannot watch memory.events; polling it");
            None
        }
    }
}

/// All trackers plus the summaries of containers that left since the last report.
#[derive(Debug)]
pub struct Sampler {
    config: SamplerConfig,
    trackers: HashMap<String, Tracker>,
    departed: Vec<(Arc<ContainerRef>, Summary, bool, Option<i64>)>,
    /// Container IDs already reported as OOM-killed, with when, so a pod-status report does not repeat one the
    /// cgroup showed.
    oom_reported: HashMap<String, i64>,
    buf: Vec<u8>,
    synced_once: bool,
    watcher: Option<EventsWatcher>,
    /// Container ID by watch descriptor.
    watched: HashMap<WatchId, String>,
    notices: Vec<Notice>,
    serial: u64,
}

impl Sampler {
    /// A sampler with nothing tracked yet. With `config.watch_events`, an inotify instance is created; if that
    /// fails the sampler polls `memory.events` instead (logged once).
    pub fn new(config: SamplerConfig) -> Self {
        let watcher = if config.watch_events {
            EventsWatcher::new()
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "inotify unavailable; memory.events is read on every sample");
                })
                .ok()
        } else {
            None
        };
        Self {
            config,
            trackers: HashMap::new(),
            departed: Vec::new(),
            oom_reported: HashMap::new(),
            buf: Vec::with_capacity(8 * 1024),
            synced_once: false,
            watcher,
            watched: HashMap::new(),
            notices: Vec::new(),
            serial: 0,
        }
    }

    /// A descriptor that becomes readable when a watched `memory.events` changed; then call
    /// [`Sampler::notified`]. `None` without a watcher.
    pub fn readiness_fd(&self) -> Option<OwnedFd> {
        self.watcher.as_ref()?.readiness_fd().ok()
    }

    /// Stops watching and reads `memory.events` on every sample from now on (for callers that cannot wait on
    /// [`Sampler::readiness_fd`]).
    pub fn stop_watching(&mut self) {
        self.watcher = None;
        self.watched.clear();
        for tr in self.trackers.values_mut() {
            tr.watch = None;
        }
    }

    /// Containers whose `memory.events` is watched rather than polled.
    pub fn watched(&self) -> usize {
        self.watched.len()
    }

    fn burst_rule(&self) -> BurstRule {
        BurstRule {
            min_periods: self.config.burst_min_periods,
            percent: self.config.burst_percent,
            window_usec: self.config.burst_window_ms.saturating_mul(1_000),
        }
    }

    /// Number of containers tracked.
    pub fn len(&self) -> usize {
        self.trackers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Makes the tracked set equal to `targets`: new containers start tracking, missing ones stop (their
    /// summaries go into the next report). Returns how many cgroups could not be opened (vanished meanwhile).
    pub fn sync(&mut self, targets: Vec<Target>, now_ms: i64) -> usize {
        let mut keep: HashMap<String, Tracker> = HashMap::with_capacity(targets.len());
        let mut failed = 0;
        let initial = !self.synced_once;
        for t in targets {
            let id = t.container.container_id.clone();
            if let Some(mut tr) = self.trackers.remove(&id) {
                tr.started_ms = t.started_ms.or(tr.started_ms);
                if *tr.container != t.container {
                    tr.container = Arc::new(t.container);
                }
                keep.insert(id, tr);
                continue;
            }
            match CgroupFiles::open(&t.dir, self.config.file_mode) {
                Ok(files) => {
                    let watch = arm(self.watcher.as_ref(), &mut self.watched, &t.dir, &id);
                    self.serial += 1;
                    keep.insert(
                        id,
                        Tracker {
                            container: Arc::new(t.container),
                            files,
                            started_ms: t.started_ms,
                            first_seen_ms: (!initial).then_some(now_ms),
                            prev: None,
                            count: 0,
                            summary: Summary::default(),
                            last_burst_ms: None,
                            burst: BurstWindow::default(),
                            watch,
                            serial: self.serial,
                            shadowed: false,
                        },
                    );
                }
                Err(_) => failed += 1,
            }
        }
        let left = std::mem::replace(&mut self.trackers, keep);
        for (_, tr) in left {
            self.retire(tr, now_ms);
        }
        self.shadow();
        self.synced_once = true;
        failed
    }

    fn startup(&self, tr: &Tracker, now_ms: i64) -> bool {
        tr.started_ms
            .or(tr.first_seen_ms)
            .is_some_and(|s| now_ms - s < self.config.startup_ms)
    }

    fn retire(&mut self, mut tr: Tracker, now_ms: i64) {
        if let Some(wd) = tr.watch.take() {
            self.watched.remove(&wd);
            if let Some(w) = &self.watcher {
                w.unwatch(wd);
            }
        }
        if tr.summary.samples() > 0 {
            let startup = self.startup(&tr, now_ms);
            let summary = std::mem::take(&mut tr.summary);
            self.departed
                .push((tr.container, summary, startup, tr.started_ms));
        }
    }

    /// Samples every tracked container once.
    pub fn sweep(&mut self, now_ms: i64, mono_usec: u64) -> SweepOutcome {
        // Notifications not handled yet (a caller that does not wait on the descriptor) are handled now, so a
        // watched memory.events is never staler than the last sweep: one non-blocking read per sweep.
        let mut out = SweepOutcome {
            events: self.notified(now_ms),
            ..SweepOutcome::default()
        };
        let mut gone = Vec::new();
        let config = self.config;
        let rule = self.burst_rule();
        for (id, tr) in &mut self.trackers {
            let full = tr.count % config.slow_every.max(1) == 0;
            tr.count = tr.count.wrapping_add(1);
            // A watched memory.events is only re-read when it changed (see `notified`) and on full samples.
            let known_events = match (full, tr.watch, &tr.prev) {
                (false, Some(_), Some((p, _))) => Some(p.memory_events),
                _ => None,
            };
            let sample = match tr.files.sample_with(&mut self.buf, full, known_events) {
                Ok(s) => s,
                Err(ReadError::Vanished) => {
                    out.vanished += 1;
                    gone.push(id.clone());
                    continue;
                }
                Err(e) if e.is_parse() => {
                    tracing::debug!(container = %tr.container.container_id, error = %e, "skipping malformed sample");
                    out.parse_errors += 1;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(container = %tr.container.container_id, error = %e, "sample failed");
                    out.io_errors += 1;
                    continue;
                }
            };
            out.sampled += 1;
            let d: Option<Delta> = tr.prev.as_ref().map(|(p, at)| {
                delta(
                    p,
                    &sample,
                    mono_usec.saturating_sub(*at),
                    config.max_millicores,
                )
            });
            tr.summary.add(now_ms, &sample, d.as_ref());
            if let Some(d) = &d {
                if d.oom_kills > 0 {
                    self.oom_reported.insert(id.clone(), now_ms);
                    out.events.push(oom_event(tr, &sample, d.oom_kills, now_ms));
                }
                if d.reset {
                    tr.burst.clear();
                } else if let Some(b) = tr.burst.push(&rule, d.elapsed_usec, d.throttling) {
                    let cooled = tr
                        .last_burst_ms
                        .is_none_or(|l| now_ms - l >= config.burst_cooldown_ms);
                    if cooled {
                        tr.last_burst_ms = Some(now_ms);
                        out.events.push(UrgentEvent {
                            container: (*tr.container).clone(),
                            observed_ms: now_ms,
                            kind: UrgentKind::ThrottlingBurst {
                                window_ms: i64::try_from(b.span_usec / 1_000)
                                    .unwrap_or(i64::MAX)
                                    .max(1),
                                throttling: b.throttling,
                                limit_millicores: sample.cpu_max.and_then(|m| m.millicores()),
                            },
                        });
                    }
                }
            }
            tr.prev = Some((sample, mono_usec));
        }
        if !gone.is_empty() {
            for id in gone {
                if let Some(tr) = self.trackers.remove(&id) {
                    self.retire(tr, now_ms);
                }
            }
            self.shadow();
        }
        // Forget OOM dedupe entries after ten minutes; the pod status reports a kill well within that.
        self.oom_reported.retain(|_, at| now_ms - *at < 600_000);
        out
    }

    /// Handles pending `memory.events` change notifications: re-reads the changed files, re-arms watches whose
    /// file was replaced, and returns an event for every new OOM kill. Cheap when nothing is pending.
    pub fn notified(&mut self, now_ms: i64) -> Vec<UrgentEvent> {
        let Some(watcher) = self.watcher.as_mut() else {
            return Vec::new();
        };
        self.notices.clear();
        if let Err(e) = watcher.drain(&mut self.notices) {
            tracing::warn!(error = %e, "reading inotify events failed");
        }
        let mut ids: Vec<String> = Vec::new();
        for notice in &self.notices {
            match *notice {
                Notice::Changed(wd) => ids.extend(self.watched.get(&wd).cloned()),
                Notice::Dropped(wd) => {
                    let Some(id) = self.watched.remove(&wd) else {
                        continue;
                    };
                    if let Some(tr) = self.trackers.get_mut(&id) {
                        tr.watch = arm(
                            self.watcher.as_ref(),
                            &mut self.watched,
                            tr.files.dir(),
                            &id,
                        );
                    }
                    ids.push(id);
                }
                Notice::Overflow => ids.extend(self.watched.values().cloned()),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut events = Vec::new();
        for id in ids {
            let Some(tr) = self.trackers.get_mut(&id) else {
                continue;
            };
            // A failed read is left to the next sweep, which reports vanished cgroups and malformed files (an
            // in-place writer can be caught between truncating and writing).
            let Ok(current) = tr.files.read_events(&mut self.buf) else {
                continue;
            };
            let Some((prev, _)) = tr.prev.as_mut() else {
                continue;
            };
            let before = prev.memory_events.oom_kill;
            prev.memory_events = current;
            let kills = current.oom_kill.saturating_sub(before);
            if kills > 0 {
                tr.summary.add_oom_kills(kills);
                let sample = *prev;
                self.oom_reported.insert(id, now_ms);
                events.push(oom_event(tr, &sample, kills, now_ms));
            }
        }
        events
    }

    /// An OOM kill the pod status reported: an event unless the cgroup already showed it.
    pub fn status_oom(&mut self, container: ContainerRef, now_ms: i64) -> Option<UrgentEvent> {
        if self.oom_reported.contains_key(&container.container_id) {
            return None;
        }
        self.oom_reported
            .insert(container.container_id.clone(), now_ms);
        Some(UrgentEvent {
            container,
            observed_ms: now_ms,
            kind: UrgentKind::OomKill {
                count: 1,
                limit_bytes: None,
                peak_bytes: 0,
            },
        })
    }

    /// Summaries of every container since the last call, departed ones included; starts new intervals.
    pub fn take_reports(&mut self, now_ms: i64) -> Vec<ContainerReport> {
        let mut out: Vec<ContainerReport> =
            Vec::with_capacity(self.trackers.len() + self.departed.len());
        for (c, mut s, startup, started) in self.departed.drain(..) {
            out.extend(s.take(&c, startup, started));
        }
        let startups: Vec<(String, bool)> = self
            .trackers
            .iter()
            .map(|(id, tr)| (id.clone(), self.startup(tr, now_ms)))
            .collect();
        for (id, startup) in startups {
            if let Some(tr) = self.trackers.get_mut(&id) {
                out.extend(tr.summary.take(&tr.container, startup, tr.started_ms));
            }
        }
        out
    }

    /// Marks every tracker that another, newer tracker of the same (namespace, pod, container) hides: a
    /// restarted container whose old cgroup is still there. Runs when the tracked set changes, not per sweep.
    fn shadow(&mut self) {
        // Series name → (container ID, rank): the later start wins, then the later discovery.
        type Rank = (Option<i64>, u64);
        let mut newest: HashMap<(&str, &str, &str), (&str, Rank)> =
            HashMap::with_capacity(self.trackers.len());
        for (id, tr) in &self.trackers {
            let c = &tr.container;
            let rank = (tr.started_ms, tr.serial);
            match newest.entry((&c.namespace, &c.pod, &c.container)) {
                Entry::Vacant(v) => {
                    v.insert((id, rank));
                }
                Entry::Occupied(mut o) => {
                    if rank > o.get().1 {
                        o.insert((id, rank));
                    }
                }
            }
        }
        let winners: std::collections::HashSet<String> =
            newest.into_values().map(|(id, _)| id.to_owned()).collect();
        for (id, tr) in &mut self.trackers {
            tr.shadowed = !winners.contains(id);
        }
    }

    /// Cumulative figures of every tracked container's latest sample, for `/metrics`. One entry per
    /// (namespace, pod, container): when a restarted container's old cgroup is still there, only the newer
    /// cgroup's figures are exported, so no series is ever duplicated.
    pub fn metrics(&self) -> Vec<ContainerMetrics> {
        self.trackers
            .values()
            .filter(|tr| !tr.shadowed)
            .filter_map(|tr| {
                let (s, _) = tr.prev.as_ref()?;
                Some(ContainerMetrics {
                    container: Arc::clone(&tr.container),
                    cpu_usage_usec: s.cpu.usage_usec,
                    working_set_bytes: s.working_set(),
                    nr_periods: s.cpu.nr_periods,
                    nr_throttled: s.cpu.nr_throttled,
                    oom_kills: s.memory_events.oom_kill,
                    cpu_pressure_some_usec: s.cpu_pressure.map(|p| p.some.total_usec),
                    memory_pressure_some_usec: s.memory_pressure.map(|p| p.some.total_usec),
                    memory_pressure_full_usec: s
                        .memory_pressure
                        .and_then(|p| p.full)
                        .map(|f| f.total_usec),
                })
            })
            .collect()
    }
}

fn oom_event(tr: &Tracker, sample: &RawSample, count: u64, now_ms: i64) -> UrgentEvent {
    UrgentEvent {
        container: (*tr.container).clone(),
        observed_ms: now_ms,
        kind: UrgentKind::OomKill {
            count,
            limit_bytes: sample.memory_max,
            peak_bytes: sample.memory_peak.unwrap_or(tr.summary.current_peak()),
        },
    }
}
