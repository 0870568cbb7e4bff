//! The sampler: one tracker per container cgroup, swept every interval.
//!
//! Time is passed in (`now_ms` wall clock for reports, `mono_usec` monotonic for rates), so tests drive it
//! with a fake clock and files they rewrite.

pub mod delta;
pub mod summary;

use std::collections::HashMap;
use std::sync::Arc;

use tailor_core::report::{ContainerRef, ContainerReport, UrgentEvent, UrgentKind};

use crate::cgroup::{CgroupFiles, FileMode, RawSample, ReadError};
use crate::discovery::Target;
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
    /// A throttling burst: at least this many periods in one sample...
    pub burst_min_periods: u64,
    /// ...of which at least this percentage throttled.
    pub burst_percent: u64,
    /// At most one burst event per container per this long.
    pub burst_cooldown_ms: i64,
    /// Read the slow-moving files (limits, `memory.peak`, PSI) on every this many samples (1 = always).
    pub slow_every: u32,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            file_mode: FileMode::Reopen,
            startup_ms: 5 * 60_000,
            max_millicores: 1_024_000,
            burst_min_periods: 5,
            burst_percent: 50,
            burst_cooldown_ms: 60_000,
            slow_every: 5,
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
}

impl Sampler {
    pub fn new(config: SamplerConfig) -> Self {
        Self {
            config,
            trackers: HashMap::new(),
            departed: Vec::new(),
            oom_reported: HashMap::new(),
            buf: Vec::with_capacity(8 * 1024),
            synced_once: false,
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
        self.synced_once = true;
        failed
    }

    fn startup(&self, tr: &Tracker, now_ms: i64) -> bool {
        tr.started_ms
            .or(tr.first_seen_ms)
            .is_some_and(|s| now_ms - s < self.config.startup_ms)
    }

    fn retire(&mut self, mut tr: Tracker, now_ms: i64) {
        if tr.summary.samples() > 0 {
            let startup = self.startup(&tr, now_ms);
            let summary = std::mem::take(&mut tr.summary);
            self.departed
                .push((tr.container, summary, startup, tr.started_ms));
        }
    }

    /// Samples every tracked container once.
    pub fn sweep(&mut self, now_ms: i64, mono_usec: u64) -> SweepOutcome {
        let mut out = SweepOutcome::default();
        let mut gone = Vec::new();
        let config = self.config;
        for (id, tr) in &mut self.trackers {
            let full = tr.count % config.slow_every.max(1) == 0;
            tr.count = tr.count.wrapping_add(1);
            let sample = match tr.files.sample(&mut self.buf, full) {
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
                    out.events.push(UrgentEvent {
                        container: (*tr.container).clone(),
                        observed_ms: now_ms,
                        kind: UrgentKind::OomKill {
                            count: d.oom_kills,
                            limit_bytes: sample.memory_max,
                            peak_bytes: sample.memory_peak.unwrap_or(tr.summary.current_peak()),
                        },
                    });
                }
                let t = d.throttling;
                let burst = t.nr_periods >= config.burst_min_periods
                    && t.nr_throttled.saturating_mul(100)
                        >= t.nr_periods.saturating_mul(config.burst_percent);
                let cooled = tr
                    .last_burst_ms
                    .is_none_or(|l| now_ms - l >= config.burst_cooldown_ms);
                if burst && cooled {
                    tr.last_burst_ms = Some(now_ms);
                    out.events.push(UrgentEvent {
                        container: (*tr.container).clone(),
                        observed_ms: now_ms,
                        kind: UrgentKind::ThrottlingBurst {
                            window_ms: i64::try_from(d.elapsed_usec / 1_000)
                                .unwrap_or(i64::MAX)
                                .max(1),
                            throttling: t,
                            limit_millicores: sample.cpu_max.and_then(|m| m.millicores()),
                        },
                    });
                }
            }
            tr.prev = Some((sample, mono_usec));
        }
        for id in gone {
            if let Some(tr) = self.trackers.remove(&id) {
                self.retire(tr, now_ms);
            }
        }
        // Forget OOM dedupe entries after ten minutes; the pod status reports a kill well within that.
        self.oom_reported.retain(|_, at| now_ms - *at < 600_000);
        out
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

    /// Cumulative figures of every tracked container's latest sample, for `/metrics`.
    pub fn metrics(&self) -> Vec<ContainerMetrics> {
        self.trackers
            .values()
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
