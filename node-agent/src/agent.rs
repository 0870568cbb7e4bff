//! The sampling loop: discovery when the pod index changes (and periodically), a sweep every interval, urgent
//! reports at once, periodic reports on their own cadence, a last report on shutdown.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fd::OwnedFd;
use tailor_core::report::{
    ContainerRef, ContainerReport, NodeReport, REPORT_VERSION, ReportKind, UrgentEvent, UrgentKind,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::discovery::{self, Resolution};
use crate::metrics::{EventLabels, Metrics};
use crate::pods::PodIndex;
use crate::pods::watch::{StatusOomKill, lock};
use crate::reporter::Sequence;
use crate::sampler::{Sampler, SamplerConfig};

/// Loop settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node_name: String,
    /// Identity of this agent process in reports (pod name plus start time, typically).
    pub agent_id: String,
    pub cgroup_root: PathBuf,
    pub sample_interval: Duration,
    pub report_interval: Duration,
    /// Walk the cgroup tree at least this often even when the pod index did not change (catches containers
    /// whose cgroup appeared after their status).
    pub rediscover_interval: Duration,
    pub sampler: SamplerConfig,
    /// Track every container cgroup without a pod index (no Kubernetes API).
    pub standalone: bool,
}

/// Wall-clock now in unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn event_kind(e: &UrgentEvent) -> &'static str {
    match e.kind {
        UrgentKind::OomKill { .. } => "oom_kill",
        UrgentKind::ThrottlingBurst { .. } => "throttling_burst",
    }
}

/// Everything the loop shares with the rest of the process.
#[derive(Debug)]
pub struct AgentIo {
    pub index: Arc<Mutex<PodIndex>>,
    /// OOM kills reported by pod statuses.
    pub status_ooms: mpsc::Receiver<StatusOomKill>,
    /// Where reports go; `None` when reporting is off.
    pub reports: Option<mpsc::Sender<NodeReport>>,
    pub metrics: Metrics,
    /// Flips to `true` when the agent must stop.
    pub shutdown: watch::Receiver<bool>,
}

struct Loop {
    config: AgentConfig,
    seq: Sequence,
    reports: Option<mpsc::Sender<NodeReport>>,
    metrics: Metrics,
}

impl Loop {
    fn report(
        &mut self,
        kind: ReportKind,
        containers: Vec<ContainerReport>,
        events: Vec<UrgentEvent>,
    ) -> Option<NodeReport> {
        // One bad entry must not sink the batch: drop entries that fail validation (only a bug or a corrupt
        // cgroup file can produce one) and a second summary of the same container (a cgroup that vanished and
        // came back within one interval), keeping the rest.
        let mut seen = std::collections::HashSet::new();
        let containers: Vec<ContainerReport> = containers
            .into_iter()
            .filter(|c| match c.validate() {
                Ok(()) => seen.insert((
                    c.container.pod_uid.clone(),
                    c.container.container_id.clone(),
                )),
                Err(e) => {
                    warn!(error = %e, "dropping an invalid container summary");
                    false
                }
            })
            .collect();
        let events: Vec<UrgentEvent> = events
            .into_iter()
            .filter(|e| match e.validate() {
                Ok(()) => true,
                Err(err) => {
                    warn!(error = %err, "dropping an invalid event");
                    false
                }
            })
            .collect();
        if containers.is_empty() && events.is_empty() {
            return None;
        }
        let report = NodeReport {
            version: REPORT_VERSION,
            node: self.config.node_name.clone(),
            agent_id: self.config.agent_id.clone(),
            sequence: self.seq.advance(),
            created_ms: now_ms(),
            kind,
            containers,
            events,
        };
        if let Err(e) = report.validate() {
            // Only a bug can get here (the sampler clamps every figure); say so loudly and drop the report.
            warn!(error = %e, "built an invalid report; dropping it");
            return None;
        }
        Some(report)
    }

    async fn send(&self, report: Option<NodeReport>) {
        if let (Some(tx), Some(r)) = (&self.reports, report)
            && tx.send(r).await.is_err()
        {
            debug!("reporter gone; report not sent");
        }
    }
}

/// Waits until the inotify descriptor is readable; never, without one.
async fn notified(
    fd: Option<&AsyncFd<OwnedFd>>,
) -> Option<tokio::io::unix::AsyncFdReadyGuard<'_, OwnedFd>> {
    match fd {
        Some(fd) => fd.readable().await.ok(),
        None => std::future::pending().await,
    }
}

/// Runs the sampling loop until shutdown, then sends a last periodic report and closes the report channel.
pub async fn run(config: AgentConfig, io: AgentIo) {
    let AgentIo {
        index,
        mut status_ooms,
        reports,
        metrics,
        mut shutdown,
    } = io;
    let mut sampler = Some(Sampler::new(config.sampler));
    // memory.events changes wake the loop between samples; without a registrable descriptor, poll instead.
    let watch_fd = sampler.as_mut().and_then(|s| {
        let fd = s.readiness_fd()?;
        // Deprecated because an arbitrary `AsRawFd` type could swap its descriptor while registered; an
        // `OwnedFd` cannot, and the replacement is `unsafe`, which this workspace forbids.
        #[allow(deprecated)]
        let registered = AsyncFd::with_interest(fd, Interest::READABLE);
        match registered {
            Ok(fd) => Some(fd),
            Err(e) => {
                warn!(error = %e, "cannot wait on inotify; memory.events is read on every sample");
                s.stop_watching();
                None
            }
        }
    });
    let mut ticker = tokio::time::interval(config.sample_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut next_report = started + config.report_interval;
    let mut last_discovery: Option<(u64, Instant)> = None;
    let mut l = Loop {
        config,
        seq: Sequence::default(),
        reports,
        metrics,
    };
    info!(root = %l.config.cgroup_root.display(), mode = ?l.config.sampler.file_mode, "sampling started");

    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            Some(oom) = status_ooms.recv() => {
                let container = ContainerRef {
                    namespace: oom.namespace,
                    pod: oom.pod,
                    pod_uid: oom.pod_uid,
                    container: oom.container,
                    container_id: oom.container_id,
                };
                let event = sampler.as_mut().and_then(|s| s.status_oom(container, now_ms()));
                if let Some(e) = event {
                    l.metrics.urgent_events.get_or_create(&EventLabels { kind: "oom_kill" }).inc();
                    let r = l.report(ReportKind::Urgent, Vec::new(), vec![e]);
                    l.send(r).await;
                }
                continue;
            }
            Some(mut ready) = notified(watch_fd.as_ref()) => {
                let events = sampler.as_mut().map(|s| s.notified(now_ms())).unwrap_or_default();
                // `notified` read the queue until it was empty.
                ready.clear_ready();
                if !events.is_empty() {
                    for e in &events {
                        l.metrics.urgent_events.get_or_create(&EventLabels { kind: event_kind(e) }).inc();
                    }
                    let r = l.report(ReportKind::Urgent, Vec::new(), events);
                    l.send(r).await;
                }
                continue;
            }
            _ = shutdown.changed() => break,
        }
        let Some(mut s) = sampler.take() else { break };
        let generation = lock(&index).generation();
        let rediscover = last_discovery
            .is_none_or(|(g, at)| g != generation || at.elapsed() >= l.config.rediscover_interval);
        let root = l.config.cgroup_root.clone();
        let standalone = l.config.standalone;
        let index2 = Arc::clone(&index);
        let mono_usec = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let now = now_ms();
        let joined = tokio::task::spawn_blocking(move || {
            let mut resolution: Option<Result<Resolution, discovery::DiscoveryError>> = None;
            if rediscover {
                let r = discovery::walk(&root).map(|found| {
                    if standalone {
                        discovery::standalone(&found)
                    } else {
                        discovery::resolve(&found, &lock(&index2))
                    }
                });
                if let Ok(res) = &r {
                    s.sync(res.targets.clone(), now);
                }
                resolution = Some(r);
            }
            let t0 = std::time::Instant::now();
            let outcome = s.sweep(now, mono_usec);
            let took = t0.elapsed();
            (s, resolution, outcome, took)
        })
        .await;
        let Ok((s, resolution, outcome, took)) = joined else {
            warn!("sampling task panicked; stopping");
            break;
        };
        match resolution {
            Some(Ok(res)) => {
                last_discovery = Some((generation, Instant::now()));
                l.metrics
                    .unmatched_cgroups
                    .set(i64::try_from(res.unmatched).unwrap_or(i64::MAX));
                if res.uid_mismatch > 0 {
                    warn!(
                        count = res.uid_mismatch,
                        "containers found under another pod's cgroup"
                    );
                }
            }
            Some(Err(e)) => {
                last_discovery = Some((generation, Instant::now()));
                warn!(error = %e, "cgroup discovery failed");
            }
            None => {}
        }
        l.metrics.sample_duration.observe(took.as_secs_f64());
        l.metrics
            .containers_tracked
            .set(i64::try_from(s.len()).unwrap_or(i64::MAX));
        l.metrics.parse_errors.inc_by(outcome.parse_errors as u64);
        l.metrics.read_errors.inc_by(outcome.io_errors as u64);
        l.metrics.set_containers(s.metrics());
        let mut s = s;
        if !outcome.events.is_empty() {
            for e in &outcome.events {
                l.metrics
                    .urgent_events
                    .get_or_create(&EventLabels {
                        kind: event_kind(e),
                    })
                    .inc();
            }
            let r = l.report(ReportKind::Urgent, Vec::new(), outcome.events);
            l.send(r).await;
        }
        if Instant::now() >= next_report {
            next_report = Instant::now() + l.config.report_interval;
            let r = l.report(ReportKind::Periodic, s.take_reports(now_ms()), Vec::new());
            l.send(r).await;
        }
        sampler = Some(s);
    }

    if let Some(mut s) = sampler {
        let r = l.report(ReportKind::Periodic, s.take_reports(now_ms()), Vec::new());
        l.send(r).await;
    }
    info!("sampling stopped");
}
