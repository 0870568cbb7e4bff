//! A usage trace as imported: one container's measurements at the source's own resolution.

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

/// One measurement; a trace may carry only CPU (Alibaba 2018) or only memory (Alibaba GenAI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub at: Timestamp,
    /// Average CPU use over the measurement interval.
    pub cpu: Option<MilliCpu>,
    /// Memory in use (working set) at the measurement.
    pub memory: Option<Bytes>,
}

/// What the workload was given before any autoscaler touched it: the static contender keeps it, every other one
/// starts from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provisioned {
    pub cpu: MilliCpu,
    pub memory: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Dataset the trace belongs to (results are pooled per dataset).
    pub dataset: String,
    /// Unique within the dataset.
    pub name: String,
    pub provisioned: Provisioned,
    /// Sorted by time; at most one point per timestamp.
    pub points: Vec<Point>,
}

impl Trace {
    pub fn has_cpu(&self) -> bool {
        self.points.iter().any(|p| p.cpu.is_some())
    }

    pub fn has_memory(&self) -> bool {
        self.points.iter().any(|p| p.memory.is_some())
    }

    /// Sorts by time and keeps the first of several points at the same instant.
    pub fn normalise(&mut self) {
        self.points.sort_by_key(|p| p.at);
        self.points.dedup_by_key(|p| p.at);
    }
}
