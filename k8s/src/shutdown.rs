//! SIGTERM/SIGINT handling: one cancellation token every task watches.

pub use tokio_util::sync::CancellationToken;

/// Which signal ended the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM (Kubernetes is stopping the pod).
    Term,
    /// SIGINT (Ctrl-C).
    Int,
}

/// Waits for SIGTERM or SIGINT.
pub async fn signal() -> std::io::Result<Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => Ok(Signal::Term),
        _ = int.recv() => Ok(Signal::Int),
    }
}

/// Spawns a task that cancels the returned token at the first SIGTERM/SIGINT (and calls `on_signal` first,
/// e.g. to turn readiness off). If the handlers cannot be installed, the token is cancelled at once: running
/// without a way to stop gracefully would lose state at the next kill.
pub fn on_signal(on_signal: impl FnOnce() + Send + 'static) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        match signal().await {
            Ok(signal) => tracing::info!(?signal, "shutdown signal received"),
            Err(error) => tracing::error!(%error, "cannot install signal handlers; shutting down"),
        }
        on_signal();
        cancel.cancel();
    });
    token
}
