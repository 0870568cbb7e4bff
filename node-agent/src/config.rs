//! Command line and environment configuration (clap derive with `env` fallbacks).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::cgroup::FileMode;

/// How cgroup files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileModeArg {
    /// Keep files open on a real cgroup2 mount, re-open them elsewhere.
    Auto,
    KeepOpen,
    Reopen,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// tailor-node-agent: samples every container's cgroup v2 files on this node and reports to the recommender.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// This node's name (downward API `spec.nodeName`); selects the pods to watch.
    #[arg(long, env = "NODE_NAME", required_unless_present = "standalone")]
    pub node_name: Option<String>,

    /// This agent's pod name (downward API), part of the agent identity in reports.
    #[arg(long, env = "POD_NAME", default_value = "tailor-node-agent")]
    pub pod_name: String,

    /// Root of the host's cgroup v2 tree as mounted into the agent.
    #[arg(
        long,
        env = "TAILOR_CGROUP_ROOT",
        default_value = "/host/sys/fs/cgroup"
    )]
    pub cgroup_root: PathBuf,

    /// Sampling interval in milliseconds.
    #[arg(long, env = "TAILOR_SAMPLE_INTERVAL_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(50..))]
    pub sample_interval_ms: u64,

    /// Report interval in milliseconds.
    #[arg(long, env = "TAILOR_REPORT_INTERVAL_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub report_interval_ms: u64,

    /// Walk the cgroup tree at least this often (milliseconds), besides every pod change.
    #[arg(long, env = "TAILOR_REDISCOVER_INTERVAL_MS", default_value_t = 10_000)]
    pub rediscover_interval_ms: u64,

    /// A container counts as starting up for this many seconds after it started.
    #[arg(long, env = "TAILOR_STARTUP_WINDOW_SECONDS", default_value_t = 300)]
    pub startup_window_seconds: u64,

    /// Throttling burst: at least this many CFS periods within the burst window...
    #[arg(long, env = "TAILOR_BURST_MIN_PERIODS", default_value_t = 5)]
    pub burst_min_periods: u64,

    /// ...with at least this percentage of them throttled.
    #[arg(long, env = "TAILOR_BURST_PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub burst_percent: u64,

    /// Longest run of recent samples (milliseconds) a throttling burst may span; the newest sample alone always
    /// counts.
    #[arg(long, env = "TAILOR_BURST_WINDOW_MS", default_value_t = 10_000)]
    pub burst_window_ms: u64,

    /// Watch memory.events with inotify so OOM kills are reported at once (off: read it on every sample).
    #[arg(long, env = "TAILOR_WATCH_MEMORY_EVENTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_memory_events: bool,

    /// Recommender report endpoint, e.g. https://tailor-recommender.tailor-system.svc:8443/v1/reports.
    /// Without it the agent only exports metrics.
    #[arg(long, env = "TAILOR_RECOMMENDER_URL")]
    pub recommender_url: Option<reqwest::Url>,

    /// How often (milliseconds) the recommender URL's host is resolved again. Every report goes to every
    /// address it resolves to (a headless Service: each recommender replica, so standbys stay warm); 0 posts to
    /// the URL alone.
    #[arg(
        long,
        env = "TAILOR_RECOMMENDER_RESOLVE_INTERVAL_MS",
        default_value_t = 30_000
    )]
    pub recommender_resolve_interval_ms: u64,

    /// PEM bundle of the CA that signed the recommender's serving certificate.
    #[arg(long, env = "TAILOR_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Projected ServiceAccount token (audience tailor-recommender), re-read on every delivery.
    #[arg(long, env = "TAILOR_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Reports kept while the recommender is unreachable (oldest dropped first).
    #[arg(long, env = "TAILOR_REPORT_BUFFER", default_value_t = 360)]
    pub report_buffer: usize,

    /// Timeout of one report delivery in milliseconds.
    #[arg(long, env = "TAILOR_REPORT_TIMEOUT_MS", default_value_t = 5_000)]
    pub report_timeout_ms: u64,

    /// Address of the admin server (/metrics, /live, /ready).
    #[arg(long, env = "TAILOR_ADMIN_ADDR", default_value = "0.0.0.0:9100")]
    pub admin_addr: SocketAddr,

    /// Run without the Kubernetes API: track every container cgroup under the root, labelled by pod UID and
    /// container ID. For nodes where the API is unreachable and for trying the agent on a tree.
    #[arg(long, env = "TAILOR_STANDALONE")]
    pub standalone: bool,

    /// How cgroup files are read.
    #[arg(long, env = "TAILOR_FILE_MODE", value_enum, default_value_t = FileModeArg::Auto)]
    pub file_mode: FileModeArg,

    /// Log format.
    #[arg(long, env = "TAILOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

impl Args {
    pub fn sample_interval(&self) -> Duration {
        Duration::from_millis(self.sample_interval_ms)
    }

    pub fn report_interval(&self) -> Duration {
        Duration::from_millis(self.report_interval_ms)
    }

    /// The file mode to use for `self.cgroup_root`.
    pub fn file_mode(&self) -> FileMode {
        match self.file_mode {
            FileModeArg::Auto => crate::cgroup::detect_file_mode(&self.cgroup_root),
            FileModeArg::KeepOpen => FileMode::KeepOpen,
            FileModeArg::Reopen => FileMode::Reopen,
        }
    }
}

/// Logical CPUs of the host, from `/proc/stat` (not the agent's own cgroup quota, which
/// `available_parallelism` would reflect). Falls back to 1024 when unreadable.
pub fn host_cpus() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .map(|s| {
            s.lines()
                .filter(|l| {
                    l.strip_prefix("cpu")
                        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
                })
                .count() as u64
        })
        .filter(|&n| n > 0)
        .unwrap_or(1024)
}
