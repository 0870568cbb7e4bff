//! TLS for the report endpoint: the shared listener and PEM loading from `tailor_k8s::tls` (the updater's
//! admission webhook serves through the same code).

pub use tailor_k8s::tls::*;
