//! Wiring: admin server, watches, report endpoint, leader election, and the two loops (recommendation pass,
//! checkpoints). Each step is a named function; the loops only sequence them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use kube::Client;
use kube::api::{Api, ListParams};
use prometheus_client::registry::Registry;
use tailor_core::estimate::{MEMORY_LIMITS_ANNOTATION, encode_memory_limits};
use tailor_core::model::{AggregateState, ContainerKey, WorkloadKey};
use tailor_core::time::Timestamp;
use tailor_k8s::admin::{self, Readiness};
use tailor_k8s::crd::checkpoint::VerticalPodAutoscalerCheckpoint;
use tailor_k8s::leader::{self, Leadership};
use tailor_k8s::shutdown::{self, CancellationToken};
use tailor_k8s::telemetry;

use crate::args::Args;
use crate::ingest::auth::KubeTokenReviewer;
use crate::ingest::cert_reload::{CertError, ReloadingCert};
use crate::ingest::{self, Clock, IngestState, tls};
use crate::metrics::{Metrics, RecommendationLabels};
use crate::recommend::{self, RecommendConfig};
use crate::state::Shared;
use crate::stores::{self, Stores};
use crate::{checkpoint, import, status};

/// Everything the loops share.
struct Ctx {
    args: Args,
    client: Client,
    shared: Arc<Shared>,
    stores: Stores,
    metrics: Metrics,
    leadership: Leadership,
    clock: Clock,
    recommend: RecommendConfig,
    /// Workloads whose stored history was already looked for (restore happens once per appearance).
    restored: std::sync::Mutex<HashSet<WorkloadKey>>,
    /// VPAs (by UID) whose first recommendation has been timed.
    first_timed: std::sync::Mutex<HashSet<String>>,
}

/// Runs the recommender until SIGTERM/SIGINT.
pub async fn run(args: Args) -> anyhow::Result<()> {
    telemetry::init(&args.log)?;
    args.validate()?;
    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let readiness = Readiness::new();
    let shutdown = shutdown::on_signal({
        let readiness = readiness.clone();
        move || readiness.begin_shutdown()
    });
    serve(args, client, readiness, shutdown).await
}

/// Runs the recommender with `client` until `shutdown` is cancelled, then writes a last checkpoint and
/// releases the lease. `readiness` gets one handle per watch plus one for the checkpoint restore.
pub async fn serve(
    args: Args,
    client: Client,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    args.validate()?;
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry, args.max_recommendation_series);
    let admin_listener = tokio::net::TcpListener::bind(args.admin.addr)
        .await
        .with_context(|| format!("binding the admin server to {}", args.admin.addr))?;
    let admin_router = admin::router(readiness.clone(), Arc::new(registry));
    let admin = tokio::spawn(
        axum::serve(admin_listener, admin_router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );

    let shared = Arc::new(Shared::new(args.model_options()));
    let restored_ready = readiness.handle("checkpoints");
    let clock = ingest::system_clock();
    let feed = stores::PodFeed {
        shared: Arc::clone(&shared),
        metrics: metrics.clone(),
        clock: Arc::clone(&clock),
    };
    let stores = stores::start(&client, &readiness, &shutdown, feed);
    // Released only after the last checkpoint is written at shutdown, so that write still counts as the leader's.
    let release_lease = CancellationToken::new();
    let (leadership, lease_task) =
        leader::start(client.clone(), &args.leader, release_lease.clone()).await?;
    let ctx = Arc::new(Ctx {
        recommend: args.recommend_config(),
        args,
        client,
        shared,
        stores,
        metrics,
        leadership,
        clock,
        restored: std::sync::Mutex::new(HashSet::new()),
        first_timed: std::sync::Mutex::new(HashSet::new()),
    });

    restore_all(&ctx).await;
    restored_ready.set_ready();

    let server = tokio::spawn(serve_reports(Arc::clone(&ctx), shutdown.clone()));
    let passes = tokio::spawn(pass_loop(Arc::clone(&ctx), shutdown.clone()));
    let checkpoints = tokio::spawn(checkpoint_loop(Arc::clone(&ctx), shutdown.clone()));

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    let _ = passes.await;
    let _ = checkpoints.await;
    write_checkpoints(&ctx).await;
    release_lease.cancel();
    if let Some(task) = lease_task {
        let _ = task.await;
    }
    let _ = server.await;
    let _ = admin.await;
    Ok(())
}

fn now(ctx: &Ctx) -> Timestamp {
    (ctx.clock)()
}

async fn serve_reports(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    let args = &ctx.args;
    let policy = match args.auth_policy() {
        Ok(p) => p,
        Err(error) => {
            tracing::error!(%error, "report endpoint not started");
            return;
        }
    };
    let reviewer = KubeTokenReviewer::new(
        ctx.client.clone(),
        args.token_audiences.clone(),
        Duration::from_secs(30),
    );
    let state = IngestState {
        reviewer: Arc::new(reviewer),
        policy,
        shared: Arc::clone(&ctx.shared),
        metrics: ctx.metrics.clone(),
        clock: Arc::clone(&ctx.clock),
    };
    let router = ingest::router(state, args.max_report_bytes);
    let tcp = match tokio::net::TcpListener::bind(args.listen_addr).await {
        Ok(l) => l,
        Err(error) => {
            tracing::error!(%error, addr = %args.listen_addr, "cannot bind the report endpoint");
            return;
        }
    };
    let stop = shutdown.clone().cancelled_owned();
    let result = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match reloading_tls(&ctx, cert, key, &shutdown) {
            Ok(config) => {
                tracing::info!(addr = %args.listen_addr, "report endpoint listening (HTTPS)");
                axum::serve(tls::TlsListener::new(tcp, config), router)
                    .with_graceful_shutdown(stop)
                    .await
            }
            Err(error) => {
                tracing::error!(%error, "report endpoint not started");
                return;
            }
        },
        _ => {
            tracing::warn!(addr = %args.listen_addr, "report endpoint listening over plain HTTP (--insecure-http)");
            axum::serve(tcp, router).with_graceful_shutdown(stop).await
        }
    };
    if let Err(error) = result {
        tracing::error!(%error, "report endpoint failed");
    }
}

/// The endpoint's TLS configuration, following certificate rotations until `shutdown`.
fn reloading_tls(
    ctx: &Ctx,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: &CancellationToken,
) -> Result<Arc<rustls::ServerConfig>, CertError> {
    let reloading = ReloadingCert::load(cert, key)?;
    let config = reloading.server_config()?;
    let metrics = ctx.metrics.clone();
    tokio::spawn(reloading.watch(
        Duration::from_secs(ctx.args.tls_reload_interval_seconds),
        shutdown.clone(),
        move |ok| Metrics::write(&metrics.tls_reloads, ok),
    ));
    Ok(config)
}

// === restore ===

async fn restore_all(ctx: &Ctx) {
    let now = now(ctx);
    match checkpoint::load_all(&ctx.client, &ctx.args.checkpoint_namespace).await {
        Ok(configmaps) => {
            let mut restored = 0;
            for cm in &configmaps {
                restored += restore_configmap(ctx, cm, now);
            }
            tracing::info!(
                configmaps = configmaps.len(),
                containers = restored,
                "checkpoints restored"
            );
        }
        Err(error) => tracing::warn!(%error, "listing checkpoints; starting without history"),
    }
}

fn restore_configmap(
    ctx: &Ctx,
    cm: &k8s_openapi::api::core::v1::ConfigMap,
    now: Timestamp,
) -> usize {
    let cfg = ctx.shared.model().options().aggregate.clone();
    let mut windows: std::collections::HashMap<_, _> = checkpoint::windows_from_configmap(cm)
        .into_iter()
        .filter_map(|entry| {
            entry
                .map_err(|error| tracing::warn!(%error, "skipping stored memory windows"))
                .ok()
        })
        .collect();
    let mut count = 0;
    for entry in checkpoint::from_configmap(cm) {
        match entry {
            Ok((key, cp)) => match AggregateState::from_checkpoint(&cfg, &cp) {
                Ok(state) => {
                    ctx.restored
                        .lock()
                        .map(|mut r| r.insert(key.workload.clone()))
                        .ok();
                    if ctx.shared.model().has_history(&key) {
                        continue;
                    }
                    let mut model = ctx.shared.model();
                    if let Err(error) = model.restore(key.clone(), state, now) {
                        tracing::warn!(%key, %error, "restoring checkpoint");
                    } else {
                        if let Some(open) = windows.remove(&key) {
                            model.resume_windows(key, &open, now);
                        }
                        count += 1;
                    }
                }
                Err(error) => tracing::warn!(%key, %error, "checkpoint does not load"),
            },
            Err(error) => tracing::warn!(%error, "skipping checkpoint entry"),
        }
    }
    count
}

/// Looks for stored history of a workload that has none in memory: our checkpoint, else an upstream one.
async fn restore_workload(
    ctx: &Ctx,
    workload: &WorkloadKey,
    vpa: &tailor_k8s::crd::VerticalPodAutoscaler,
) {
    let first_time = ctx
        .restored
        .lock()
        .map(|mut r| r.insert(workload.clone()))
        .unwrap_or(false);
    if !first_time || ctx.shared.model().containers_of(workload).is_some() {
        return;
    }
    let now = now(ctx);
    match checkpoint::load_one(&ctx.client, &ctx.args.checkpoint_namespace, workload).await {
        Ok(Some(cm)) => {
            let n = restore_configmap(ctx, &cm, now);
            tracing::info!(%workload, containers = n, "history restored for a (re)appearing workload");
            return;
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%workload, %error, "reading checkpoint"),
    }
    if ctx.args.import_upstream_checkpoints {
        import_upstream(ctx, workload, vpa, now).await;
    }
}

async fn import_upstream(
    ctx: &Ctx,
    workload: &WorkloadKey,
    vpa: &tailor_k8s::crd::VerticalPodAutoscaler,
    now: Timestamp,
) {
    let Some(vpa_name) = vpa.metadata.name.as_deref() else {
        return;
    };
    let api: Api<VerticalPodAutoscalerCheckpoint> =
        Api::namespaced(ctx.client.clone(), &workload.namespace);
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 404 => return,
        Err(error) => {
            tracing::debug!(%error, "listing upstream checkpoints");
            return;
        }
    };
    let cfg = ctx.shared.model().options().aggregate.clone();
    for cp in list
        .iter()
        .filter(|cp| cp.spec.vpa_object_name.as_deref() == Some(vpa_name))
    {
        let Some(container) = cp.spec.container_name.clone() else {
            continue;
        };
        match import::convert(cp, &cfg, now) {
            Ok(state) => {
                let key = ContainerKey::new(workload.clone(), container);
                if let Err(error) = ctx.shared.model().restore(key.clone(), state, now) {
                    tracing::warn!(%key, %error, "importing upstream checkpoint");
                } else {
                    tracing::info!(%key, "upstream VPA checkpoint imported");
                }
            }
            Err(error) => {
                tracing::warn!(checkpoint = ?cp.metadata.name, %error, "upstream checkpoint not imported")
            }
        }
    }
}

// === recommendation pass ===

async fn pass_loop(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(
        ctx.args.recommendation_interval_seconds.max(1),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            () = ctx.shared.urgent.notified() => {}
        }
        let started = Instant::now();
        pass(&ctx).await;
        ctx.metrics
            .pass_duration
            .observe(started.elapsed().as_secs_f64());
    }
}

async fn pass(ctx: &Ctx) {
    let lookup = ctx.stores.clone();
    ctx.shared.pods_mut().resolve_pending(&lookup);
    let unparked = ingest::apply::unpark_all(&ctx.shared, now(ctx));
    ingest::record(&ctx.metrics, &ctx.shared, &unparked);
    if unparked.unparked > 0 {
        tracing::debug!(?unparked, "parked report entries taken up");
    }
    let served: Vec<_> = ctx
        .stores
        .vpas
        .state()
        .into_iter()
        .filter(|v| v.is_served_by(&ctx.args.recommender_name, ctx.args.serve_unnamed_vpas))
        .collect();
    for vpa in &served {
        if let Ok(workload) = recommend::target_workload(vpa) {
            restore_workload(ctx, &workload, vpa).await;
        }
    }
    let now = now(ctx);
    let largest = ctx.stores.largest_node();
    let mut updates = Vec::new();
    let mut limit_updates = Vec::new();
    let mut throttled = 0usize;
    {
        let model = ctx.shared.model();
        let pods = ctx.shared.pods();
        for vpa in &served {
            let outcome = recommend::compute(vpa, &model, &pods, largest, &ctx.recommend, now);
            export_gauges(ctx, vpa, &outcome);
            throttled += outcome.throttled.len();
            time_first_recommendation(ctx, vpa, &outcome, now);
            let want = (!outcome.memory_limits.is_empty())
                .then(|| encode_memory_limits(&outcome.memory_limits));
            let have = vpa
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(MEMORY_LIMITS_ANNOTATION));
            if have != want.as_ref() {
                limit_updates.push(status::LimitsUpdate {
                    namespace: vpa.metadata.namespace.clone().unwrap_or_default(),
                    name: vpa.metadata.name.clone().unwrap_or_default(),
                    value: want,
                });
            }
            if vpa.status.as_ref() != Some(&outcome.status) {
                updates.push(status::StatusUpdate {
                    namespace: vpa.metadata.namespace.clone().unwrap_or_default(),
                    name: vpa.metadata.name.clone().unwrap_or_default(),
                    status: outcome.status,
                });
            }
        }
        ctx.metrics
            .aggregates
            .set(i64::try_from(model.len()).unwrap_or(i64::MAX));
        ctx.metrics
            .throttled_containers
            .set(i64::try_from(throttled).unwrap_or(i64::MAX));
    }
    let leader = ctx.leadership.is_leader();
    ctx.metrics.leader.set(i64::from(leader));
    if updates.is_empty() && limit_updates.is_empty() {
        return;
    }
    if !leader || ctx.args.dry_run {
        tracing::debug!(
            changed = updates.len(),
            limits_changed = limit_updates.len(),
            leader,
            dry_run = ctx.args.dry_run,
            "status writes skipped"
        );
        return;
    }
    let written = status::write_all(
        &ctx.client,
        updates,
        ctx.args.write_concurrency,
        &ctx.metrics,
    )
    .await;
    // Limits after statuses: an updater that sees new limits also sees the requests they were computed with.
    let limits_written = status::write_limits(
        &ctx.client,
        limit_updates,
        ctx.args.write_concurrency,
        &ctx.metrics,
    )
    .await;
    tracing::debug!(written, limits_written, "VPA statuses written");
}

fn export_gauges(
    ctx: &Ctx,
    vpa: &tailor_k8s::crd::VerticalPodAutoscaler,
    outcome: &recommend::Outcome,
) {
    for c in &outcome.containers {
        let labels = |resource: &str| RecommendationLabels {
            namespace: vpa.metadata.namespace.clone().unwrap_or_default(),
            vpa: vpa.metadata.name.clone().unwrap_or_default(),
            container: c.container.clone(),
            resource: resource.to_owned(),
        };
        ctx.metrics
            .set_recommendation(labels("cpu"), c.recommendation.target.cpu.as_cores());
        ctx.metrics
            .set_recommendation(labels("memory"), c.recommendation.target.memory.as_f64());
    }
}

fn time_first_recommendation(
    ctx: &Ctx,
    vpa: &tailor_k8s::crd::VerticalPodAutoscaler,
    outcome: &recommend::Outcome,
    now: Timestamp,
) {
    let had = vpa
        .status
        .as_ref()
        .is_some_and(|s| s.recommendation.is_some());
    if had || outcome.status.recommendation.is_none() {
        return;
    }
    let (Some(uid), Some(created)) = (
        vpa.metadata.uid.clone(),
        vpa.metadata.creation_timestamp.as_ref(),
    ) else {
        return;
    };
    let first = ctx
        .first_timed
        .lock()
        .map(|mut s| s.insert(uid))
        .unwrap_or(false);
    if first {
        let seconds = (now.unix_millis() - created.0.as_millisecond()) as f64 / 1000.0;
        ctx.metrics
            .time_to_first_recommendation
            .observe(seconds.max(0.0));
    }
}

// === checkpoints ===

async fn checkpoint_loop(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(
        ctx.args.checkpoint_interval_seconds.max(1),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last_gc = Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        write_checkpoints(&ctx).await;
        if last_gc.elapsed() > Duration::from_secs(3600) {
            let removed = ctx.shared.model().collect_garbage(now(&ctx));
            tracing::info!(removed, "expired aggregates dropped");
            last_gc = Instant::now();
        }
    }
}

/// Writes the checkpoints of every workload changed since the last write (the leader only).
async fn write_checkpoints(ctx: &Ctx) {
    if !ctx.leadership.is_leader() || ctx.args.dry_run {
        return;
    }
    let now = now(ctx);
    let ns = &ctx.args.checkpoint_namespace;
    let items: Vec<_> = {
        let mut model = ctx.shared.model();
        let dirty = model.take_dirty_workloads();
        dirty
            .into_iter()
            .filter_map(|w| {
                let containers = model.containers_of(&w)?;
                match checkpoint::to_configmap(ns, &w, containers, now) {
                    Ok(cm) => Some((w, cm)),
                    Err(error) => {
                        tracing::warn!(workload = %w, %error, "serializing checkpoint");
                        None
                    }
                }
            })
            .collect()
    };
    if items.is_empty() {
        return;
    }
    let total = items.len();
    let failed = checkpoint::write_all(
        &ctx.client,
        ns,
        items,
        ctx.args.write_concurrency,
        &ctx.metrics,
    )
    .await;
    let mut model = ctx.shared.model();
    for w in &failed {
        model.mark_dirty(w);
    }
    tracing::debug!(total, failed = failed.len(), "checkpoints written");
}
