//! The HTTPS endpoint node-agents post reports to: `POST /v1/reports`.
//!
//! Each request is authenticated (TokenReview; only the node-agent ServiceAccount), size-bounded, parsed,
//! validated, de-duplicated by `(agent_id, sequence)` and checked against the pod index (a report about a pod
//! on another node is refused) before anything touches the model. Every refusal has a status code, a short
//! reason in the body and a `tailor_recommender_reports_rejected_total{reason}` count. An accepted report is
//! never sent again, so entries about a pod the recommender cannot attribute yet are parked, not dropped
//! ([`parked`]).

pub mod apply;
pub mod auth;
pub mod cert_reload;
pub mod dedup;
pub mod oom;
pub mod parked;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tailor_core::report::NodeReport;
use tailor_core::time::Timestamp;

use self::apply::Applied;
use self::auth::{AuthPolicy, Review, TokenReviewer};
use crate::metrics::{IngestResult, Metrics, RejectReason};
use crate::state::Shared;

/// The path reports are posted to.
pub const REPORTS_PATH: &str = "/v1/reports";

/// A clock: the one place ingestion reads the time (tests pass a fixed one).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_unix_millis(ms)
    })
}

/// Everything the endpoint needs.
#[derive(Clone)]
pub struct IngestState {
    /// Checks tokens.
    pub reviewer: Arc<dyn TokenReviewer>,
    /// Who may report.
    pub policy: AuthPolicy,
    /// Model, pods and sequence numbers.
    pub shared: Arc<Shared>,
    /// Metrics.
    pub metrics: Metrics,
    /// The time source.
    pub clock: Clock,
}

impl std::fmt::Debug for IngestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestState")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The ingestion routes, with bodies limited to `max_body_bytes`.
pub fn router(state: IngestState, max_body_bytes: usize) -> Router {
    Router::new()
        .route(REPORTS_PATH, post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

fn reject(
    metrics: &Metrics,
    reason: RejectReason,
    status: StatusCode,
    detail: impl std::fmt::Display,
) -> Response {
    metrics.reject(reason);
    tracing::debug!(?reason, %detail, "report rejected");
    (status, format!("{detail}\n")).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

async fn receive(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let m = &state.metrics;
    let Some(token) = bearer(&headers) else {
        return reject(
            m,
            RejectReason::MissingToken,
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
        );
    };
    let token_node = match state.reviewer.review(token).await {
        Err(error) => {
            tracing::warn!(error = %error, source = ?std::error::Error::source(&error), "token review failed");
            return reject(
                m,
                RejectReason::AuthUnavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot review token",
            );
        }
        Ok(Review::Unauthenticated) => {
            return reject(
                m,
                RejectReason::Unauthenticated,
                StatusCode::UNAUTHORIZED,
                "token not valid",
            );
        }
        Ok(Review::Authenticated { username, .. }) if username != state.policy.username => {
            return reject(
                m,
                RejectReason::Forbidden,
                StatusCode::FORBIDDEN,
                "not the node-agent service account",
            );
        }
        Ok(Review::Authenticated { node, .. }) => node,
    };
    if token_node.is_none() && !state.policy.allow_unbound_tokens {
        return reject(
            m,
            RejectReason::NodeMismatch,
            StatusCode::FORBIDDEN,
            "token is not bound to a node",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return reject(
                m,
                RejectReason::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "report too large",
            );
        }
        Err(rejection) => {
            return reject(
                m,
                RejectReason::Malformed,
                StatusCode::BAD_REQUEST,
                rejection.body_text(),
            );
        }
    };
    let report: NodeReport = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(error) => return reject(m, RejectReason::Malformed, StatusCode::BAD_REQUEST, error),
    };
    if let Err(error) = report.validate() {
        return reject(
            m,
            RejectReason::Invalid,
            StatusCode::UNPROCESSABLE_ENTITY,
            error,
        );
    }
    if let Some(node) = &token_node
        && *node != report.node
    {
        let detail = format!(
            "token is bound to node {node}, report is from {}",
            report.node
        );
        return reject(m, RejectReason::NodeMismatch, StatusCode::FORBIDDEN, detail);
    }
    if state
        .shared
        .sequences()
        .seen(&report.agent_id, report.sequence)
    {
        m.accept(IngestResult::Duplicate);
        return (
            StatusCode::OK,
            axum::Json(serde_json::json!({"duplicate": true})),
        )
            .into_response();
    }
    let now = (state.clock)();
    match apply::apply(&state.shared, &report, now) {
        Err(foreign) => reject(
            m,
            RejectReason::PodNotOnNode,
            StatusCode::FORBIDDEN,
            foreign,
        ),
        Ok(applied) => {
            state
                .shared
                .sequences()
                .record(&report.agent_id, report.sequence, now.unix_millis());
            m.accept(IngestResult::Applied);
            record(m, &state.shared, &applied);
            // A parked OOM kill wakes the pass too: it retries owner resolution, which is what the kill waits for.
            if applied.ooms > 0 || applied.parked_ooms > 0 {
                state.shared.urgent.notify_one();
            }
            (StatusCode::OK, axum::Json(applied)).into_response()
        }
    }
}

/// Counts what applying a report or parked entries did, and exports the state of the parked entries.
pub fn record(metrics: &Metrics, shared: &Shared, applied: &Applied) {
    metrics.container_reports.inc_by(applied.containers as u64);
    metrics.unknown_pods.inc_by(applied.parked as u64);
    metrics.ooms_recovered.inc_by(applied.recovered_ooms as u64);
    metrics.oom_events.inc_by(applied.ooms as u64);
    let (held, drops) = {
        let mut parked = shared.parked();
        (parked.len(), parked.take_drops())
    };
    metrics.observe_parked(held, drops);
}

#[cfg(test)]
mod tests;
