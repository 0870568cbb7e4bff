//! Flags of the admission webhook (each with an environment fallback). The webhook is off unless
//! `--webhook-addr` is given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Where and how the webhook serves.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Serve the mutating admission webhook (HTTPS, path `/mutate-v1-pod`) on this address. Off when unset.
    #[arg(long, env = "TAILOR_WEBHOOK_ADDR", requires_all = ["webhook_tls_cert", "webhook_tls_key"])]
    pub webhook_addr: Option<SocketAddr>,
    /// The webhook's serving certificate chain (PEM).
    #[arg(long, env = "TAILOR_WEBHOOK_TLS_CERT")]
    pub webhook_tls_cert: Option<PathBuf>,
    /// The webhook's private key (PEM).
    #[arg(long, env = "TAILOR_WEBHOOK_TLS_KEY")]
    pub webhook_tls_key: Option<PathBuf>,
    /// How long a review may wait for the owner watches to catch up with a just-created ReplicaSet or Job
    /// before the pod is let through unchanged, in milliseconds. Keep it well under the webhook's
    /// `timeoutSeconds`.
    #[arg(long, env = "TAILOR_WEBHOOK_OWNER_WAIT_MS", default_value_t = 2000)]
    pub webhook_owner_wait_ms: u64,
    /// Largest AdmissionReview body accepted, in bytes; larger ones are refused and the API server lets the
    /// pod through (`failurePolicy: Ignore`).
    #[arg(long, env = "TAILOR_WEBHOOK_MAX_BODY_BYTES", default_value_t = 8 << 20)]
    pub webhook_max_body_bytes: usize,
}

impl WebhookArgs {
    pub fn owner_wait(&self) -> Duration {
        Duration::from_millis(self.webhook_owner_wait_ms)
    }
}
