//! What Tailor remembers about usage: keys that name a workload's container across pod generations, samples,
//! the per-container memory-peak window, and the aggregate (CPU histogram and memory-peak histogram) that
//! recommendations are read from.

mod aggregate;
mod config;
mod container;
mod keys;
mod throttling;

pub use aggregate::{AggregateCheckpoint, AggregateState, OomFloor};
pub use config::AggregateConfig;
pub use container::{ContainerState, OpenWindow, SampleOutcome};
pub use keys::{ContainerKey, WorkloadKey, WorkloadKind};
pub use throttling::{MIN_THROTTLE_PERIODS, ThrottleTally, throttling_demand};

use crate::quantity::{Bytes, MilliCpu};
use crate::time::Timestamp;

/// One CPU measurement: average usage over an interval starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample {
    pub start: Timestamp,
    pub usage: MilliCpu,
}

/// One memory measurement (working set) taken at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySample {
    pub start: Timestamp,
    pub usage: Bytes,
}

/// Why the model refused an input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("OOM at {at} is older than the memory window that ends near {window_start}; ignored")]
    StaleOom {
        at: Timestamp,
        window_start: Timestamp,
    },
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] crate::histogram::HistogramError),
}

#[cfg(test)]
mod tests;
