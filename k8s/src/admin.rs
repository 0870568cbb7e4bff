//! The admin server every binary runs: `/live`, `/ready` (ready once every registered readiness handle has
//! reported, and unready again while shutting down) and `/metrics` (the binary's one prometheus-client
//! registry, rendered as OpenMetrics text).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

/// Where the admin server listens.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Address of the admin server (`/live`, `/ready`, `/metrics`).
    #[arg(
        long = "admin-addr",
        env = "TAILOR_ADMIN_ADDR",
        default_value = "0.0.0.0:9090"
    )]
    pub addr: SocketAddr,
}

/// Errors of the admin server.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The listen address could not be bound.
    #[error("binding the admin server to {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("admin server failed")]
    Serve(#[source] std::io::Error),
}

// === impl Readiness ===

/// The set of things that must be ready before `/ready` says so (watches that synced, a checkpoint restore).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    state: Arc<Mutex<ReadinessState>>,
}

#[derive(Debug, Default)]
struct ReadinessState {
    handles: BTreeMap<String, bool>,
    shutting_down: bool,
}

/// One component's readiness: starts unready; dropping it does not change it.
#[derive(Debug, Clone)]
pub struct ReadinessHandle {
    name: String,
    state: Arc<Mutex<ReadinessState>>,
}

impl Readiness {
    /// An empty set: ready until a handle is registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a component that starts unready.
    pub fn handle(&self, name: impl Into<String>) -> ReadinessHandle {
        let name = name.into();
        self.lock().handles.insert(name.clone(), false);
        ReadinessHandle {
            name,
            state: Arc::clone(&self.state),
        }
    }

    /// Whether every handle is ready and no shutdown has begun.
    pub fn is_ready(&self) -> bool {
        let state = self.lock();
        !state.shutting_down && state.handles.values().all(|ready| *ready)
    }

    /// The names of the handles that are not ready yet.
    pub fn pending(&self) -> Vec<String> {
        let state = self.lock();
        let mut names: Vec<String> = state
            .handles
            .iter()
            .filter(|(_, ready)| !**ready)
            .map(|(name, _)| name.clone())
            .collect();
        if state.shutting_down {
            names.push("shutting down".to_owned());
        }
        names
    }

    /// Turns `/ready` off for good: called when a shutdown signal arrives so traffic drains first.
    pub fn begin_shutdown(&self) {
        self.lock().shutting_down = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReadinessState> {
        // A panic while holding this lock cannot leave the map inconsistent, so keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ReadinessHandle {
    /// Marks the component ready.
    pub fn set_ready(&self) {
        self.set(true);
    }

    /// Marks the component unready again (e.g. a watch lost its connection and is re-listing).
    pub fn set_unready(&self) {
        self.set(false);
    }

    fn set(&self, ready: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.handles.insert(self.name.clone(), ready);
    }
}

// === impl router ===

#[derive(Debug, Clone)]
struct AdminState {
    readiness: Readiness,
    registry: Arc<Registry>,
}

/// The admin routes. The registry is the binary's only one, shared with the code that updates its metrics.
pub fn router(readiness: Readiness, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/live", get(|| async { "live\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            readiness,
            registry,
        })
}

async fn ready(State(state): State<AdminState>) -> Response {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = format!("not ready: {}\n", state.readiness.pending().join(", "));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Serves `router` on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "admin server listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(AdminError::Serve)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use prometheus_client::metrics::counter::Counter;
    use tower::ServiceExt;

    use super::*;

    async fn get(router: &Router, path: &str) -> (StatusCode, String, Option<String>) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            content_type,
        )
    }

    #[tokio::test]
    async fn live_is_always_ok() {
        let router = router(Readiness::new(), Arc::new(Registry::default()));
        assert_eq!(get(&router, "/live").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn ready_waits_for_every_handle_and_drops_on_shutdown() {
        let readiness = Readiness::new();
        let vpas = readiness.handle("vpa-watch");
        let pods = readiness.handle("pod-watch");
        let router = router(readiness.clone(), Arc::new(Registry::default()));

        let (status, body, _) = get(&router, "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body.contains("pod-watch") && body.contains("vpa-watch"),
            "{body}"
        );

        vpas.set_ready();
        let (status, body, _) = get(&router, "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body.contains("pod-watch") && !body.contains("vpa-watch"),
            "{body}"
        );

        pods.set_ready();
        assert_eq!(get(&router, "/ready").await.0, StatusCode::OK);

        pods.set_unready();
        assert_eq!(
            get(&router, "/ready").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        pods.set_ready();

        readiness.begin_shutdown();
        let (status, body, _) = get(&router, "/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("shutting down"));
    }

    #[tokio::test]
    async fn metrics_renders_the_registry_passed_in() {
        let mut registry = Registry::default();
        let counter = Counter::<u64>::default();
        registry.register(
            "tailor_test_events",
            "Events seen by the test",
            counter.clone(),
        );
        counter.inc_by(3);
        let router = router(Readiness::new(), Arc::new(registry));
        let (status, body, content_type) = get(&router, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("tailor_test_events_total 3"), "{body}");
        assert!(body.ends_with("# EOF\n"));
        assert!(content_type.is_some_and(|c| c.starts_with("application/openmetrics-text")));
    }

    #[tokio::test]
    async fn unknown_path_is_404() {
        let router = router(Readiness::new(), Arc::new(Registry::default()));
        assert_eq!(get(&router, "/nope").await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn serves_on_loopback_until_shutdown() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            "127.0.0.1:0".parse().expect("addr"),
            router(Readiness::new(), Arc::new(Registry::default())),
            async move {
                let _ = rx.await;
            },
        ));
        tx.send(()).expect("send");
        server.await.expect("join").expect("serve");
    }
}
