//! Ground truth: what the simulator wrote into each container's cgroup, so node-agent tests can compare their
//! readings (within 1%) against it. Available as values and as a JSON file rewritten atomically every tick.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One running container's truth at the last tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerTruth {
    pub namespace: String,
    pub pod: String,
    pub pod_uid: String,
    pub container: String,
    pub container_id: String,
    pub cgroup_path: String,
    pub cpu_usage_usec: u64,
    /// CPU rate granted over the last tick (after throttling), in millicores.
    pub cpu_rate_millis: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_usec: u64,
    pub memory_current: u64,
    /// `memory.current - inactive_file`.
    pub working_set: u64,
    pub memory_peak: u64,
    pub memory_max: Option<u64>,
    pub cpu_limit_millis: Option<u64>,
    /// OOM kills across all instances of this container.
    pub oom_kills: u64,
    pub restart_count: i32,
}

/// Truth for one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTruth {
    pub node: String,
    pub containers: Vec<ContainerTruth>,
}

/// Writes the truth of all nodes to `path` atomically (temp file + rename).
pub fn write_truth(path: &Path, nodes: &[NodeTruth]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(nodes).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

/// Reads a truth file written by [`write_truth`].
pub fn read_truth(path: &Path) -> std::io::Result<Vec<NodeTruth>> {
    let body = std::fs::read(path)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}
