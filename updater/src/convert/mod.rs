//! The conversion layer: Kubernetes objects in, the planner's plain views out. Nothing here talks to the API.

pub mod cluster;
pub mod eviction;
pub mod pod;
pub mod quantity;
pub mod state;
pub mod vpa;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tailor_core::time::Timestamp;

/// A Kubernetes timestamp as the core's.
pub fn timestamp(t: &Time) -> Timestamp {
    Timestamp::from_unix_millis(t.0.as_millisecond())
}
