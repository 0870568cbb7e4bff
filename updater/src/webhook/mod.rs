//! The mutating admission webhook: pods start at the size their VPA recommends, so a new pod never starts at
//! a stale size for the updater to correct in place.
//!
//! It serves every replica (not only the leader), reads the updater's reflector stores, sizes with the
//! planner's own rules ([`tailor_core::plan::size_at_creation`]), starts a workload's startup CPU boost at
//! creation where it can, and never refuses a pod: an unreadable
//! review, a missing VPA or owner, or any other problem answers "allowed, unchanged", and the
//! MutatingWebhookConfiguration's `failurePolicy: Ignore` covers the webhook being down.

pub mod config;
pub mod lookup;
pub mod metrics;
pub mod mutate;
pub mod review;
pub mod server;

#[cfg(test)]
mod boost_tests;
#[cfg(test)]
mod tests;

pub use config::WebhookArgs;
pub use lookup::ClusterView;
pub use metrics::WebhookMetrics;
pub use server::{MUTATE_PATH, WebhookError, WebhookState, review as review_body, router, serve};
