//! The report endpoint certificate reloader lives in `tailor_k8s::cert_reload`, shared with the updater webhook.

pub use tailor_k8s::cert_reload::*;
