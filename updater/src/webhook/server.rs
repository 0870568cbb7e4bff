//! The HTTPS endpoint: one POST route that answers every AdmissionReview, and the review itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use kube::core::DynamicObject;
use kube::core::admission::AdmissionReview;
use tailor_core::plan::PlannerConfig;
use tokio_util::sync::CancellationToken;

use super::config::WebhookArgs;
use super::lookup::ClusterView;
use super::metrics::WebhookMetrics;
use super::mutate::{Outcome, Unchanged, mutate};
use super::review::{allow, allow_patched, allow_uid, parse};

/// The path the MutatingWebhookConfiguration points at.
pub const MUTATE_PATH: &str = "/mutate-v1-pod";

/// Everything a review reads.
#[derive(Debug, Clone)]
pub struct WebhookState {
    pub cluster: ClusterView,
    pub config: PlannerConfig,
    /// Longest wait for the owner watches (see [`ClusterView::workload`]).
    pub owner_wait: Duration,
    pub metrics: WebhookMetrics,
    /// `--dry-run`: decide and report (log, `outcome="would_mutate"`), but let every pod through unchanged.
    pub dry_run: bool,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook needs --webhook-tls-cert and --webhook-tls-key")]
    MissingTls,
    #[error(transparent)]
    Tls(#[from] tailor_k8s::cert_reload::CertError),
    #[error("binding {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving")]
    Serve(#[source] std::io::Error),
}

/// The webhook's router.
pub fn router(state: Arc<WebhookState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route(MUTATE_PATH, post(handle))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn handle(
    State(state): State<Arc<WebhookState>>,
    body: Bytes,
) -> axum::Json<AdmissionReview<DynamicObject>> {
    axum::Json(review(&state, &body).await)
}

/// Answers one AdmissionReview body. Always "allowed": a pod is either patched to its recommended size or let
/// through as it is, never refused.
pub async fn review(state: &WebhookState, body: &[u8]) -> AdmissionReview<DynamicObject> {
    let started = Instant::now();
    let answer = match parse(body) {
        Err(unread) => {
            let outcome = match unread.error {
                super::review::ReviewError::NotPodCreate => "unchanged",
                _ => "error",
            };
            if outcome == "error" {
                tracing::warn!(error = %unread.error, uid = %unread.uid, "letting an unreadable review through");
            }
            state.metrics.record(outcome, unread.error.as_str());
            allow_uid(unread.uid)
        }
        Ok(request) => {
            let outcome = decide(state, &request).await;
            let ns = request.namespace.as_deref().unwrap_or_default();
            match outcome {
                Outcome::Mutated(m) if state.dry_run => {
                    tracing::info!(namespace = ns, pod = %request.name, changes = %m.summary, "dry run: would size a new pod");
                    state.metrics.record("would_mutate", "recommendation");
                    allow(&request)
                }
                Outcome::Mutated(m) => {
                    tracing::info!(namespace = ns, pod = %request.name, changes = %m.summary, "sizing a new pod");
                    state.metrics.record("mutated", "recommendation");
                    allow_patched(&request, m.patch)
                }
                Outcome::Unchanged(why) => {
                    tracing::debug!(namespace = ns, pod = %request.name, reason = why.as_str(), "new pod unchanged");
                    state.metrics.record("unchanged", why.as_str());
                    allow(&request)
                }
            }
        }
    };
    state
        .metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    answer
}

async fn decide(
    state: &WebhookState,
    request: &kube::core::admission::AdmissionRequest<k8s_openapi::api::core::v1::Pod>,
) -> Outcome {
    let Some(pod) = request.object.as_ref() else {
        return Outcome::Unchanged(Unchanged::NoVpa);
    };
    // The pod's own namespace is empty at admission; the request carries it.
    let Some(ns) = request
        .namespace
        .as_deref()
        .or(pod.metadata.namespace.as_deref())
    else {
        return Outcome::Unchanged(Unchanged::NoVpa);
    };
    let Ok(workload) = state.cluster.workload(ns, pod, state.owner_wait).await else {
        return Outcome::Unchanged(Unchanged::UnknownOwner);
    };
    let Some(vpa) = state.cluster.vpa_for(&workload) else {
        return Outcome::Unchanged(Unchanged::NoVpa);
    };
    let key = crate::convert::cluster::target_key(ns, &workload.kind, &workload.name);
    // The namespace comes from the request (a pod's own is often empty at admission); sizing does not read it.
    mutate(
        pod,
        key,
        &vpa,
        &state.cluster.namespace(ns),
        &state.config,
        crate::controller::now(),
    )
}

/// Serves the webhook over HTTPS on `args.webhook_addr` until `shutdown`; returns at once when it is off.
pub async fn serve(
    args: &WebhookArgs,
    state: Arc<WebhookState>,
    shutdown: CancellationToken,
) -> Result<(), WebhookError> {
    let Some(addr) = args.webhook_addr else {
        return Ok(());
    };
    let (Some(cert), Some(key)) = (&args.webhook_tls_cert, &args.webhook_tls_key) else {
        return Err(WebhookError::MissingTls);
    };
    // cert-manager renews the Secret in place: the pair is re-read every 10 s and swapped once it loads.
    let reloading = tailor_k8s::cert_reload::ReloadingCert::load(cert, key)?;
    let tls = reloading.server_config()?;
    tokio::spawn(reloading.watch(std::time::Duration::from_secs(10), shutdown.clone(), |_| {}));
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebhookError::Bind { addr, source })?;
    tracing::info!(%addr, path = MUTATE_PATH, "admission webhook listening (HTTPS)");
    axum::serve(
        tailor_k8s::tls::TlsListener::new(tcp, tls),
        router(state, args.webhook_max_body_bytes),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .map_err(WebhookError::Serve)
}
