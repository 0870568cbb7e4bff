//! The edges: a client from kubeconfig flags, the read, the assembly with the wall clock, the rendering.

use std::time::{Duration, SystemTime};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tailor_core::time::Timestamp;

use crate::args::ReportArgs;
use crate::assemble::{Options, assemble};
use crate::fetch::{FetchError, Scope, fetch};
use crate::render::render;
use crate::report::Report;

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig could not be read or used.
    #[error("loading the kubeconfig")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// Neither a kubeconfig nor an in-cluster configuration was found.
    #[error("no kubeconfig and not running in a cluster")]
    Infer(#[from] kube::config::InferConfigError),
    /// The configuration did not make a client.
    #[error("building the Kubernetes client")]
    Client(#[from] kube::Error),
}

/// A client as kubectl would pick one: `--kubeconfig` file, else `$KUBECONFIG` / `~/.kube/config`, else the
/// in-cluster ServiceAccount (`Config::infer`, what `Client::try_default` uses); `--context` picks the
/// context. Returns the context's default namespace beside.
pub async fn client(args: &ReportArgs) -> Result<(Client, String), ClientError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            Config::from_custom_kubeconfig(Kubeconfig::read_from(path)?, &options).await?
        }
        (None, Some(_)) => Config::from_kubeconfig(&options).await?,
        (None, None) => Config::infer().await?,
    };
    let namespace = config.default_namespace.clone();
    Ok((Client::try_from(config)?, namespace))
}

/// The scope the flags ask for, `default_namespace` when neither `-n` nor `-A` is given.
pub fn scope(args: &ReportArgs, default_namespace: &str) -> Scope {
    match (&args.namespace, args.all_namespaces) {
        (_, true) => Scope::All,
        (Some(ns), false) => Scope::Namespace(ns.clone()),
        (None, false) => Scope::Namespace(default_namespace.to_owned()),
    }
}

/// The wall clock as the core's timestamp (the one place the CLI reads it).
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_unix_millis(ms)
}

/// Reads the cluster and builds the report for `scope` at `now`.
pub async fn report(
    client: &Client,
    scope: &Scope,
    checkpoint_namespace: &str,
    oom_window: Duration,
    now: Timestamp,
) -> Result<Report, FetchError> {
    let snapshot = fetch(client, scope, checkpoint_namespace).await?;
    Ok(assemble(&snapshot, Options { now, oom_window }))
}

/// `tailor report`: the rendered text for stdout.
pub async fn run_report(args: &ReportArgs) -> anyhow::Result<String> {
    let (client, default_namespace) = client(args).await?;
    let scope = scope(args, &default_namespace);
    tracing::debug!(?scope, "reading the cluster");
    let report = report(
        &client,
        &scope,
        &args.checkpoint_namespace,
        Duration::from_secs(args.oom_window_seconds),
        now(),
    )
    .await?;
    Ok(render(&report, args.output)?)
}
