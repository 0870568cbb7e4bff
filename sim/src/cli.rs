//! Command-line options of `tailor-sim-kubelet` and their conversion into a [`SimConfig`].

use crate::cgroup::files::WeightFormula;
use crate::kubelet::SimConfig;
use crate::naming::{CgroupDriver, Naming, Runtime};
use crate::node::{NodeBehaviour, NodeSpec};
use crate::pod::PodTimings;
use crate::quantity::{parse_bytes, parse_cpu_millis};
use crate::workload::Workload;
use std::path::PathBuf;
use std::time::Duration;

/// Simulated kubelet: registers simulated nodes, runs the pods bound to them with a cgroup v2 tree, and
/// carries out in-place resizes.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tailor-sim-kubelet", version)]
pub struct Args {
    /// Kubeconfig to use (default: in-cluster or $KUBECONFIG / ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Directory with one kubeconfig per node, `<node>.kubeconfig`, each for the identity `system:node:<node>`
    /// (least privilege: the Node authorizer and NodeRestriction then apply). Overrides --kubeconfig.
    #[arg(long, env = "SIM_NODE_KUBECONFIG_DIR")]
    pub node_kubeconfig_dir: Option<PathBuf>,
    /// Node names, comma separated. Overrides --nodes.
    #[arg(long, env = "SIM_NODE_NAMES", value_delimiter = ',')]
    pub node_names: Vec<String>,
    /// Number of nodes, named `<prefix>0`, `<prefix>1`, ...
    #[arg(long, env = "SIM_NODES", default_value_t = 2)]
    pub nodes: usize,
    #[arg(long, env = "SIM_NODE_PREFIX", default_value = "sim-node-")]
    pub node_prefix: String,
    /// CPU capacity per node (Kubernetes quantity).
    #[arg(long, env = "SIM_NODE_CPU", default_value = "4")]
    pub cpu: String,
    /// Memory capacity per node (Kubernetes quantity).
    #[arg(long, env = "SIM_NODE_MEMORY", default_value = "8Gi")]
    pub memory: String,
    #[arg(long, env = "SIM_MAX_PODS", default_value_t = 110)]
    pub max_pods: u64,
    /// CPU reserved for the system (capacity − allocatable).
    #[arg(long, env = "SIM_RESERVED_CPU", default_value = "0")]
    pub reserved_cpu: String,
    /// Memory reserved for the system (capacity − allocatable).
    #[arg(long, env = "SIM_RESERVED_MEMORY", default_value = "0")]
    pub reserved_memory: String,
    /// CPU the kubelet's resize admission holds back beyond allocatable (a test knob: resizes that fit per the
    /// API server go Deferred, or Infeasible above allocatable minus this).
    #[arg(long, env = "SIM_RESIZE_HOLD_CPU", default_value = "0")]
    pub resize_hold_cpu: String,
    /// Root of the simulated cgroup trees; node N writes under `<root>/<node name>`.
    #[arg(
        long,
        env = "SIM_CGROUP_ROOT",
        default_value = "/tmp/tailor-sim/cgroup"
    )]
    pub cgroup_root: PathBuf,
    #[arg(long, env = "SIM_CGROUP_DRIVER", value_enum, default_value_t = CgroupDriver::Systemd)]
    pub cgroup_driver: CgroupDriver,
    #[arg(long, env = "SIM_RUNTIME", value_enum, default_value_t = Runtime::Containerd)]
    pub runtime: Runtime,
    #[arg(long, env = "SIM_WEIGHT_FORMULA", value_enum, default_value_t = WeightFormula::Quadratic)]
    pub weight_formula: WeightFormula,
    /// Delay from a pod's binding to its containers starting.
    #[arg(long, env = "SIM_START_DELAY_MS", default_value_t = 1000)]
    pub start_delay_ms: u64,
    /// Delay from container start to Ready.
    #[arg(long, env = "SIM_READY_DELAY_MS", default_value_t = 2000)]
    pub ready_delay_ms: u64,
    /// First crash back-off (doubles per restart, capped at 5 minutes).
    #[arg(long, env = "SIM_CRASH_BACKOFF_MS", default_value_t = 10_000)]
    pub crash_backoff_ms: u64,
    /// Periodic retry of Deferred resizes (the kubelet's is 180 s).
    #[arg(long, env = "SIM_DEFERRED_RETRY_SECS", default_value_t = 180)]
    pub deferred_retry_secs: u64,
    /// Simulation step.
    #[arg(long, env = "SIM_TICK_MS", default_value_t = 1000)]
    pub tick_ms: u64,
    /// Seed for container IDs and seeded workload noise.
    #[arg(long, env = "SIM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Default workload model (JSON) for containers without a `sim.tailor.dev/workload` annotation.
    #[arg(
        long,
        env = "SIM_WORKLOAD",
        default_value = r#"{"kind":"constant","cpu":"50m","memory":"32Mi","page_cache":"4Mi"}"#
    )]
    pub workload: String,
    /// Read the default workload model from a JSON file instead.
    #[arg(long, env = "SIM_WORKLOAD_FILE")]
    pub workload_file: Option<PathBuf>,
    /// Write ground truth (JSON) here every tick.
    #[arg(long, env = "SIM_TRUTH_FILE")]
    pub truth_file: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, env = "SIM_LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}

/// A command-line value was invalid.
#[derive(Debug, thiserror::Error)]
#[error("--{flag}: {message}")]
pub struct ArgError {
    pub flag: &'static str,
    pub message: String,
}

fn arg_err(flag: &'static str, e: impl std::fmt::Display) -> ArgError {
    ArgError {
        flag,
        message: e.to_string(),
    }
}

impl Args {
    /// Parses options from an argument list (the first item is the program name).
    pub fn parse_from_iter<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        <Self as clap::Parser>::try_parse_from(args)
    }

    /// Validates the options and builds the simulation configuration.
    pub fn to_config(&self) -> Result<SimConfig, ArgError> {
        let cpu = parse_cpu_millis(&self.cpu).map_err(|e| arg_err("cpu", e))?;
        let memory = parse_bytes(&self.memory).map_err(|e| arg_err("memory", e))?;
        let reserved_cpu =
            parse_cpu_millis(&self.reserved_cpu).map_err(|e| arg_err("reserved-cpu", e))?;
        let reserved_memory =
            parse_bytes(&self.reserved_memory).map_err(|e| arg_err("reserved-memory", e))?;
        let resize_hold_cpu =
            parse_cpu_millis(&self.resize_hold_cpu).map_err(|e| arg_err("resize-hold-cpu", e))?;
        if cpu == 0 || memory == 0 {
            return Err(arg_err("cpu", "node capacity must be positive"));
        }
        let names: Vec<String> = if self.node_names.is_empty() {
            (0..self.nodes)
                .map(|i| format!("{}{i}", self.node_prefix))
                .collect()
        } else {
            self.node_names.clone()
        };
        if names.is_empty() || names.len() > 200 {
            return Err(arg_err("nodes", "between 1 and 200 nodes are supported"));
        }
        let workload_text = match &self.workload_file {
            Some(p) => std::fs::read_to_string(p).map_err(|e| arg_err("workload-file", e))?,
            None => self.workload.clone(),
        };
        let default_workload =
            Workload::from_json(&workload_text).map_err(|e| arg_err("workload", e))?;
        if self.tick_ms == 0 {
            return Err(arg_err("tick-ms", "must be positive"));
        }
        let nodes = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| NodeSpec {
                name,
                cpu_millis: cpu,
                memory_bytes: memory,
                max_pods: self.max_pods,
                index: u8::try_from(i + 1).unwrap_or(u8::MAX),
                reserved_cpu_millis: reserved_cpu,
                reserved_memory_bytes: reserved_memory,
                resize_hold_cpu_millis: resize_hold_cpu,
            })
            .collect();
        Ok(SimConfig {
            nodes,
            behaviour: NodeBehaviour {
                naming: Naming {
                    driver: self.cgroup_driver,
                    runtime: self.runtime,
                },
                weight_formula: self.weight_formula,
                timings: PodTimings {
                    start_delay_ms: self.start_delay_ms,
                    ready_delay_ms: self.ready_delay_ms,
                    backoff_base_ms: self.crash_backoff_ms,
                },
                default_workload,
                seed: self.seed,
                deferred_retry_ms: self.deferred_retry_secs * 1000,
            },
            cgroup_root: self.cgroup_root.clone(),
            tick: Duration::from_millis(self.tick_ms),
            lease_renew: Duration::from_secs(10),
            truth_file: self.truth_file.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_and_validation() {
        let a = Args::parse_from(["x"]);
        let c = a.to_config().expect("defaults are valid");
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(c.nodes[1].name, "sim-node-1");
        assert_eq!(c.nodes[0].cpu_millis, 4000);
        let a = Args::parse_from(["x", "--node-names", "a,b,c", "--cpu", "lots"]);
        assert!(a.to_config().is_err());
        let a = Args::parse_from([
            "x",
            "--node-names",
            "a,b,c",
            "--cgroup-driver",
            "cgroupfs",
            "--runtime",
            "crio",
        ]);
        let c = a.to_config().expect("valid");
        assert_eq!(c.nodes.len(), 3);
        assert_eq!(c.behaviour.naming.driver, CgroupDriver::Cgroupfs);
        assert!(
            Args::parse_from(["x", "--workload", "{}"])
                .to_config()
                .is_err()
        );
    }
}
