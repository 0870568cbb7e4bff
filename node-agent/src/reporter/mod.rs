//! Delivers reports to the recommender: a task that owns the bounded buffer, sends in order (urgent first),
//! retries with backoff and jitter, and flushes what it can on shutdown.

pub mod backoff;
pub mod buffer;
pub mod client;
pub mod depth;
pub mod fanout;

use std::borrow::Borrow;
use std::time::Duration;

use tailor_core::report::NodeReport;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use crate::metrics::Metrics;
use backoff::Backoff;
use buffer::ReportBuffer;
use client::{ReportClient, SendError};
use depth::DepthSlot;

/// Reporter settings.
#[derive(Debug, Clone, Copy)]
pub struct ReporterConfig {
    pub buffer_capacity: usize,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long to keep trying to deliver what is left after the agent was told to stop.
    pub shutdown_grace: Duration,
}

impl Default for ReporterConfig {
    fn default() -> Self {
        Self {
            buffer_capacity: 360,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Hands out per-agent sequence numbers, one per report built.
#[derive(Debug, Default)]
pub struct Sequence(u64);

impl Sequence {
    pub fn advance(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// Runs until `rx` closes (the agent is stopping), then tries to deliver the rest within the grace period.
pub async fn run(
    rx: mpsc::Receiver<NodeReport>,
    client: ReportClient,
    config: ReporterConfig,
    metrics: Metrics,
) {
    let depth = DepthSlot::solo(metrics.buffer_depth.clone());
    run_lane(rx, client, config, metrics, depth).await;
}

/// One endpoint's delivery: its own buffer, order, backoff and shutdown flush. `depth` receives the buffer's
/// length (the exported gauge shows the deepest endpoint's).
pub async fn run_lane<R: Borrow<NodeReport>>(
    mut rx: mpsc::Receiver<R>,
    client: ReportClient,
    config: ReporterConfig,
    metrics: Metrics,
    depth: DepthSlot,
) {
    let mut buffer = ReportBuffer::new(config.buffer_capacity);
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_max);
    let mut retry_at: Option<Instant> = None;
    loop {
        if retry_at.is_none() {
            retry_at = deliver(&mut buffer, &client, &mut backoff, &metrics, &depth).await;
        }
        let wait = retry_at;
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(report) => {
                    let urgent = report.borrow().kind == tailor_core::report::ReportKind::Urgent;
                    enqueue(&mut buffer, report, &metrics, &depth);
                    while let Ok(more) = rx.try_recv() {
                        enqueue(&mut buffer, more, &metrics, &depth);
                    }
                    // An urgent report skips the rest of the backoff wait: it is worth an early attempt.
                    if urgent {
                        retry_at = None;
                    }
                }
                None => break,
            },
            () = async { if let Some(at) = wait { sleep_until(at).await } else { std::future::pending().await } } => {
                retry_at = None;
            }
        }
    }
    let deadline = Instant::now() + config.shutdown_grace;
    while !buffer.is_empty() && Instant::now() < deadline {
        match tokio::time::timeout_at(
            deadline,
            deliver(&mut buffer, &client, &mut backoff, &metrics, &depth),
        )
        .await
        {
            Ok(None) => break,
            Ok(Some(at)) => tokio::time::sleep_until(at.min(deadline)).await,
            Err(_) => break,
        }
    }
    if buffer.is_empty() {
        info!(
            endpoint = client.endpoint(),
            "reporter flushed every report"
        );
    } else {
        warn!(
            endpoint = client.endpoint(),
            left = buffer.len(),
            "reporter stopped with undelivered reports"
        );
    }
}

fn enqueue<R: Borrow<NodeReport>>(
    buffer: &mut ReportBuffer<R>,
    report: R,
    metrics: &Metrics,
    depth: &DepthSlot,
) {
    if let Some(dropped) = buffer.push(report) {
        metrics.reports_dropped.inc();
        debug!(
            sequence = dropped.borrow().sequence,
            "report buffer full; dropped the oldest report"
        );
    }
    depth.set(buffer.len());
}

/// Sends buffered reports in order until the buffer is empty (returns `None`) or one fails (returns when to
/// retry).
async fn deliver<R: Borrow<NodeReport>>(
    buffer: &mut ReportBuffer<R>,
    client: &ReportClient,
    backoff: &mut Backoff,
    metrics: &Metrics,
    depth: &DepthSlot,
) -> Option<Instant> {
    while let Some(report) = buffer.front() {
        let report = report.borrow();
        match client.send(report).await {
            Ok(()) => {
                metrics.reports_sent.inc();
                backoff.reset();
                buffer.pop_front();
            }
            Err(SendError::Rejected(status)) => {
                metrics.reports_rejected.inc();
                warn!(endpoint = client.endpoint(), sequence = report.sequence, %status, "recommender rejected a report; dropping it");
                buffer.pop_front();
            }
            Err(SendError::Retry(reason)) => {
                metrics.report_failures.inc();
                let delay = backoff.next_delay(fastrand::f64());
                warn!(endpoint = client.endpoint(), sequence = report.sequence, %reason, retry_in_ms = delay.as_millis(), "report delivery failed");
                depth.set(buffer.len());
                return Some(Instant::now() + delay);
            }
        }
        depth.set(buffer.len());
    }
    None
}
