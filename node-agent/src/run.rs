//! Wires the parts together: admin server, pod watch, reporter and sampling loop, until `shutdown` resolves.
//! `main.rs` calls this with the parsed arguments; end-to-end tests call it in-process the same way.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch as tokio_watch};
use tracing::info;

use crate::admin::{self, AdminState};
use crate::agent::{self, AgentConfig, AgentIo};
use crate::config::{Args, host_cpus};
use crate::metrics::Metrics;
use crate::pods::PodIndex;
use crate::pods::watch::{self, WatchFeed};
use crate::reporter::fanout::{self, Dns, Endpoint, FanoutConfig};
use crate::reporter::{self, ReporterConfig, client::ReportClient};
use crate::sampler::SamplerConfig;

/// Runs the agent. `client` is required unless `args.standalone`. Returns after `shutdown` resolved, the last
/// report was flushed (or the grace period ran out) and the admin server stopped.
pub async fn serve(
    args: Args,
    client: Option<kube::Client>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let ready = Arc::new(AtomicBool::new(args.standalone));
    let index = Arc::new(Mutex::new(PodIndex::default()));
    let (shutdown_tx, shutdown_rx) = tokio_watch::channel(false);

    let listener = tokio::net::TcpListener::bind(args.admin_addr)
        .await
        .with_context(|| format!("binding admin server to {}", args.admin_addr))?;
    let router = admin::router(AdminState {
        registry: Arc::new(registry),
        ready: Arc::clone(&ready),
    });
    let mut admin_shutdown = shutdown_rx.clone();
    let admin_task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = admin_shutdown.changed().await;
            })
            .await
    });

    let (oom_tx, oom_rx) = mpsc::channel(64);
    let node_name = args
        .node_name
        .clone()
        .unwrap_or_else(|| "standalone".to_owned());
    let watch_task = if args.standalone {
        None
    } else {
        let client = client.context("a Kubernetes client is needed unless --standalone")?;
        let feed = WatchFeed::new(Arc::clone(&index), Arc::clone(&ready));
        Some(tokio::spawn(watch::run(
            client,
            node_name.clone(),
            feed,
            oom_tx,
        )))
    };

    let (report_tx, reporter_task) = match &args.recommender_url {
        Some(url) => {
            let endpoint = Endpoint {
                url: url.clone(),
                ca_file: args.ca_file.clone(),
                token_file: args.token_file.clone(),
                timeout: Duration::from_millis(args.report_timeout_ms),
            };
            let config = ReporterConfig {
                buffer_capacity: args.report_buffer,
                ..ReporterConfig::default()
            };
            let (tx, rx) = mpsc::channel(64);
            let task = if args.recommender_resolve_interval_ms == 0 {
                let client = ReportClient::new(
                    endpoint.url,
                    endpoint.ca_file.as_deref(),
                    endpoint.token_file,
                    endpoint.timeout,
                )
                .context("building the report client")?;
                tokio::spawn(reporter::run(rx, client, config, metrics.clone()))
            } else {
                // Fail at start-up, not per lane, when the CA bundle is unusable.
                ReportClient::new(
                    endpoint.url.clone(),
                    endpoint.ca_file.as_deref(),
                    None,
                    endpoint.timeout,
                )
                .context("building the report client")?;
                let fanout = FanoutConfig {
                    reporter: config,
                    resolve_interval: Duration::from_millis(args.recommender_resolve_interval_ms),
                    ..FanoutConfig::default()
                };
                tokio::spawn(fanout::run(rx, endpoint, Dns, fanout, metrics.clone()))
            };
            (Some(tx), Some(task))
        }
        None => (None, None),
    };

    let config = AgentConfig {
        agent_id: format!("{}/{}", args.pod_name, agent::now_ms()),
        node_name,
        cgroup_root: args.cgroup_root.clone(),
        sample_interval: args.sample_interval(),
        report_interval: args.report_interval(),
        rediscover_interval: Duration::from_millis(args.rediscover_interval_ms),
        sampler: SamplerConfig {
            file_mode: args.file_mode(),
            startup_ms: i64::try_from(args.startup_window_seconds.saturating_mul(1_000))
                .unwrap_or(i64::MAX),
            max_millicores: host_cpus().saturating_mul(1_100),
            burst_min_periods: args.burst_min_periods,
            burst_percent: args.burst_percent,
            burst_window_ms: args.burst_window_ms,
            watch_events: args.watch_memory_events,
            ..SamplerConfig::default()
        },
        standalone: args.standalone,
    };
    tokio::spawn(async move {
        shutdown.await;
        info!("shutting down");
        let _ = shutdown_tx.send(true);
    });
    let io = AgentIo {
        index,
        status_ooms: oom_rx,
        reports: report_tx,
        metrics,
        shutdown: shutdown_rx,
    };
    agent::run(config, io).await;
    if let Some(task) = watch_task {
        task.abort();
    }
    if let Some(task) = reporter_task {
        task.await.context("reporter task")?;
    }
    admin_task
        .await
        .context("admin task")?
        .context("admin server")?;
    Ok(())
}
