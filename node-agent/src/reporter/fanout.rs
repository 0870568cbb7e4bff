//! Every report to every recommender replica. The recommender runs as several replicas behind a headless
//! Service: one leader writes, the standbys keep the same state warm so a new leader starts with the full
//! history. For that each replica must see each report, so the reporter resolves the URL's host to all of its
//! addresses and runs one delivery lane per address — each with its own bounded buffer, order (urgent first),
//! retries and backoff, so a slow or unreachable replica never holds up the others. A report is built once and
//! shared by the lanes (`Arc`), so N lanes cost N pointers per report, not N copies.
//!
//! The name is resolved again every `resolve_interval`: a new replica gets a lane (it receives reports from
//! then on and restores older history from its checkpoint), a vanished one's lane gets the usual shutdown
//! grace to flush and ends. When the name does not resolve at all (no DNS, a plain address), one lane posts to
//! the URL as given, so the agent behaves as it did with a single recommender.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tailor_core::report::NodeReport;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::client::{ClientError, ReportClient, domain};
use super::depth::DepthBoard;
use super::{ReporterConfig, run_lane};
use crate::metrics::Metrics;

/// How long one resolution may take before the previous addresses are kept.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Turns a host name into addresses.
pub trait Resolve: Send + Sync + 'static {
    /// Every address of `host`, with `port`.
    fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Vec<SocketAddr>>> + Send;
}

/// The system resolver (for a headless Service: one A/AAAA record per ready replica).
#[derive(Debug, Clone, Copy, Default)]
pub struct Dns;

impl Resolve for Dns {
    async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: reqwest::Url,
    pub ca_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// Fan-out settings.
#[derive(Debug, Clone, Copy)]
pub struct FanoutConfig {
    /// Each lane's buffer, backoff and shutdown grace.
    pub reporter: ReporterConfig,
    /// How often the name is resolved again.
    pub resolve_interval: Duration,
    /// Reports queued between the fan-out and one lane (a lane that stops taking them loses the newest).
    pub lane_queue: usize,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            reporter: ReporterConfig::default(),
            resolve_interval: Duration::from_secs(30),
            lane_queue: 64,
        }
    }
}

/// One lane's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// One replica's address.
    Address(SocketAddr),
    /// The URL as given, resolved per connection (the name did not resolve here).
    Url,
}

struct Lane {
    tx: mpsc::Sender<Arc<NodeReport>>,
    task: JoinHandle<()>,
}

struct Lanes {
    endpoint: Endpoint,
    config: FanoutConfig,
    metrics: Metrics,
    board: DepthBoard,
    lanes: BTreeMap<Target, Lane>,
}

impl Lanes {
    fn client(&self, target: Target) -> Result<ReportClient, ClientError> {
        let e = &self.endpoint;
        match target {
            Target::Address(addr) => ReportClient::pinned(
                &e.url,
                addr,
                e.ca_file.as_deref(),
                e.token_file.clone(),
                e.timeout,
            ),
            Target::Url => ReportClient::new(
                e.url.clone(),
                e.ca_file.as_deref(),
                e.token_file.clone(),
                e.timeout,
            ),
        }
    }

    fn open(&mut self, target: Target) {
        let client = match self.client(target) {
            Ok(c) => c,
            Err(error) => {
                warn!(?target, %error, "cannot build a report client for an endpoint");
                return;
            }
        };
        let (tx, rx) = mpsc::channel(self.config.lane_queue.max(1));
        let task = tokio::spawn(run_lane(
            rx,
            client,
            self.config.reporter,
            self.metrics.clone(),
            self.board.slot(),
        ));
        self.lanes.insert(target, Lane { tx, task });
    }

    /// Makes the lanes match `found` (`None`: the name did not resolve; keep what there is).
    fn reconcile(&mut self, found: Option<BTreeSet<SocketAddr>>) {
        let wanted: BTreeSet<Target> = match found {
            Some(addrs) => addrs.into_iter().map(Target::Address).collect(),
            None if self.lanes.is_empty() => BTreeSet::from([Target::Url]),
            None => return,
        };
        let gone: Vec<Target> = self
            .lanes
            .keys()
            .filter(|t| !wanted.contains(t))
            .copied()
            .collect();
        for target in &gone {
            // Dropping the sender lets the lane flush what it holds within its grace period and end; the
            // detached task needs no further care.
            self.lanes.remove(target);
        }
        let added: Vec<Target> = wanted
            .into_iter()
            .filter(|t| !self.lanes.contains_key(t))
            .collect();
        for target in &added {
            self.open(*target);
        }
        if !gone.is_empty() || !added.is_empty() {
            info!(
                endpoints = ?self.lanes.keys().collect::<Vec<_>>(),
                added = added.len(),
                removed = gone.len(),
                "report endpoints changed"
            );
        }
    }

    fn offer(&self, report: &Arc<NodeReport>) {
        for (target, lane) in &self.lanes {
            match lane.tx.try_send(Arc::clone(report)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.metrics.reports_dropped.inc();
                    debug!(
                        ?target,
                        sequence = report.sequence,
                        "endpoint lane is not keeping up; report dropped for it"
                    );
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    debug!(?target, "endpoint lane ended");
                }
            }
        }
    }

    /// Closes every lane and waits for all of them to flush (concurrently, each within its grace period).
    async fn close(self) {
        let tasks: Vec<JoinHandle<()>> = self.lanes.into_values().map(|l| l.task).collect();
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// The addresses behind `url`: the address itself for a literal, every resolved one for a name, `None` when the
/// name does not resolve (in time).
async fn addresses(resolver: &impl Resolve, url: &reqwest::Url) -> Option<BTreeSet<SocketAddr>> {
    let port = url.port_or_known_default()?;
    let host = url.host_str()?;
    if domain(url).is_none() {
        let ip: IpAddr = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        return Some(BTreeSet::from([SocketAddr::new(ip, port)]));
    }
    match tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve(host, port)).await {
        Ok(Ok(addrs)) if !addrs.is_empty() => Some(addrs.into_iter().collect()),
        Ok(Ok(_)) => {
            debug!(host, "report endpoint name has no addresses");
            None
        }
        Ok(Err(error)) => {
            debug!(host, %error, "report endpoint name does not resolve");
            None
        }
        Err(_) => {
            debug!(host, "resolving the report endpoint timed out");
            None
        }
    }
}

/// Runs until `rx` closes (the agent is stopping), then lets every lane flush within its grace period.
pub async fn run(
    mut rx: mpsc::Receiver<NodeReport>,
    endpoint: Endpoint,
    resolver: impl Resolve,
    config: FanoutConfig,
    metrics: Metrics,
) {
    let url = endpoint.url.clone();
    let mut lanes = Lanes {
        board: DepthBoard::new(metrics.buffer_depth.clone()),
        endpoint,
        config,
        metrics,
        lanes: BTreeMap::new(),
    };
    lanes.reconcile(addresses(&resolver, &url).await);
    let mut tick = tokio::time::interval(config.resolve_interval.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(report) => lanes.offer(&Arc::new(report)),
                None => break,
            },
            _ = tick.tick() => lanes.reconcile(addresses(&resolver, &url).await),
        }
    }
    lanes.close().await;
}
