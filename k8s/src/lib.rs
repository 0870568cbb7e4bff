//! Kubernetes glue shared by Tailor's binaries: the upstream VPA API types, the admin server (`/live`,
//! `/ready`, `/metrics`), tracing set-up, shutdown signals, leader election, owner resolution, quantity
//! conversions and retries. Everything Kubernetes-specific lives here so `tailor-core` stays pure.

pub mod admin;
pub mod cert_reload;
pub mod crd;
pub mod leader;
pub mod owner;
pub mod quantity;
pub mod retry;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod watch;
