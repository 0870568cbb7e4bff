//! Tailor's updater: watches VPAs and their pods, plans with the pure planner in `tailor-core`, and applies
//! the decisions through `pods/{name}/resize` (and the Eviction API in the recreate modes).

pub mod actuator;
pub mod config;
pub mod controller;
pub mod convert;
pub mod metrics;
pub mod oom;
pub mod pass;
pub mod patch;
pub mod stores;
pub mod usage;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tailor_core::time::Timestamp;
use tailor_k8s::admin::{self, Readiness};
use tailor_k8s::{leader, shutdown};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::actuator::Actuator;
use crate::config::Args;
use crate::controller::{Controller, LoopConfig};
use crate::metrics::Metrics;
use crate::pass::UpdaterState;
use crate::stores::Stores;

/// Runs the updater until SIGTERM/SIGINT.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("building the Kubernetes client")?;
    let readiness = Readiness::new();
    let on_term = readiness.clone();
    let shutdown = shutdown::on_signal(move || on_term.begin_shutdown());
    run_until(client, args, readiness, shutdown).await
}

/// Runs the updater with `client` until `shutdown` is cancelled (tests embed it this way).
pub async fn run_until(
    client: kube::Client,
    args: Args,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let webhook_metrics = webhook::WebhookMetrics::register(&mut registry);
    let router = admin::router(readiness.clone(), Arc::new(registry));
    let admin_shutdown = shutdown.clone();
    let admin = tokio::spawn(admin::serve(args.admin.addr, router, async move {
        admin_shutdown.cancelled().await
    }));
    let (leadership, lease_task) = leader::start(client.clone(), &args.leader, shutdown.clone())
        .await
        .context("starting leader election")?;
    let wake = Arc::new(Notify::new());
    let stores = Stores::start(
        &client,
        args.namespace.as_deref(),
        &readiness,
        &shutdown,
        Arc::clone(&wake),
    );
    let webhook = spawn_webhook(&args, &stores, webhook_metrics, &shutdown);
    let working_sets = usage::WorkingSets::default();
    if args.working_set_interval_seconds > 0 {
        tokio::spawn(usage::poll(
            client.clone(),
            args.namespace.clone(),
            Duration::from_secs(args.working_set_interval_seconds),
            working_sets.clone(),
            shutdown.clone(),
        ));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let state = UpdaterState {
        config: args.planner_config(),
        rate: args.rate_limits(Timestamp::from_unix_millis(now_ms)),
        memory: HashMap::new(),
        evictions_enabled: args.enable_eviction,
    };
    let actuator = Actuator::new(
        client.clone(),
        metrics.clone(),
        args.leader.identity.clone(),
        args.dry_run,
        args.enable_eviction,
    );
    let loop_config = LoopConfig {
        interval: Duration::from_secs(args.interval_seconds.max(1)),
        min_interval: Duration::from_millis(args.min_interval_ms),
        concurrency: args.concurrency,
        dry_run: args.dry_run,
    };
    tracing::info!(
        dry_run = args.dry_run,
        evictions = args.enable_eviction,
        "tailor-updater starting"
    );
    Controller::new(stores, actuator, metrics, state, loop_config)
        .with_working_sets(working_sets)
        .run(wake, leadership, shutdown.clone())
        .await;
    if let Some(task) = lease_task {
        let _ = task.await;
    }
    if let Some(task) = webhook {
        let _ = task.await;
    }
    match admin.await {
        Ok(result) => result.context("admin server")?,
        Err(e) => tracing::warn!(error = %e, "admin server task"),
    }
    Ok(())
}

/// Starts the admission webhook when `--webhook-addr` is set. It serves on every replica, leader or not; a
/// failure is logged and leaves the updater running (the API server then lets pods through unchanged).
fn spawn_webhook(
    args: &Args,
    stores: &Stores,
    metrics: webhook::WebhookMetrics,
    shutdown: &CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    args.webhook.webhook_addr?;
    let state = Arc::new(webhook::WebhookState {
        cluster: webhook::ClusterView::from(stores),
        config: args.planner_config(),
        owner_wait: args.webhook.owner_wait(),
        metrics,
        dry_run: args.dry_run,
    });
    let (webhook_args, shutdown) = (args.webhook.clone(), shutdown.clone());
    Some(tokio::spawn(async move {
        if let Err(error) = webhook::serve(&webhook_args, state, shutdown).await {
            tracing::error!(error = %anyhow::Error::from(error), "admission webhook stopped");
        }
    }))
}
