//! Command-line flags (each with an environment variable fallback).

use clap::Parser;
use tailor_core::plan::{PlannerConfig, RateLimits, TokenBucket};
use tailor_core::time::Timestamp;
use tailor_k8s::admin::AdminArgs;
use tailor_k8s::leader::LeaderArgs;
use tailor_k8s::telemetry::LogArgs;

/// Tailor's updater: applies VPA recommendations to running pods through in-place resize, and runs the startup
/// CPU boost.
#[derive(Debug, Clone, Parser)]
#[command(name = "tailor-updater", version, about)]
pub struct Args {
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub leader: LeaderArgs,
    #[command(flatten)]
    pub webhook: crate::webhook::WebhookArgs,
    /// Plan everything but write nothing to pods: log, emit "Would…" events and count
    /// `tailor_updater_would_resize_total`.
    #[arg(long, env = "TAILOR_DRY_RUN", default_value_t = false)]
    pub dry_run: bool,
    /// Allow evictions for `Recreate` and `InPlaceOrRecreate` (needs `pods/eviction` create). Without it those
    /// modes act as `Initial` and `InPlace`.
    #[arg(long, env = "TAILOR_ENABLE_EVICTION", default_value_t = false)]
    pub enable_eviction: bool,
    /// Watch only this namespace (default: all).
    #[arg(long, env = "TAILOR_NAMESPACE")]
    pub namespace: Option<String>,
    /// Longest time between passes, in seconds.
    #[arg(long, env = "TAILOR_INTERVAL_SECONDS", default_value_t = 15)]
    pub interval_seconds: u64,
    /// Shortest time between passes, in milliseconds (OOM wake-ups closer together are merged).
    #[arg(long, env = "TAILOR_MIN_INTERVAL_MS", default_value_t = 500)]
    pub min_interval_ms: u64,
    /// Writes in flight at once.
    #[arg(long, env = "TAILOR_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,
    /// Cluster-wide resizes allowed in a burst.
    #[arg(long, env = "TAILOR_GLOBAL_BURST", default_value_t = 20)]
    pub global_burst: u32,
    /// Cluster-wide: one more resize allowed every this many milliseconds (0 = unlimited).
    #[arg(long, env = "TAILOR_GLOBAL_INTERVAL_MS", default_value_t = 100)]
    pub global_interval_ms: i64,
    /// Per workload: resizes allowed in a burst.
    #[arg(long, env = "TAILOR_WORKLOAD_BURST", default_value_t = 2)]
    pub workload_burst: u32,
    /// Per workload: one more resize allowed every this many milliseconds (0 = unlimited).
    #[arg(long, env = "TAILOR_WORKLOAD_INTERVAL_MS", default_value_t = 10_000)]
    pub workload_interval_ms: i64,
    /// Resize up when the target exceeds the request by more than this percentage.
    #[arg(long, env = "TAILOR_UP_THRESHOLD_PERCENT", default_value_t = 10)]
    pub up_threshold_percent: u32,
    /// Resize down when the target is below the request by more than this percentage.
    #[arg(long, env = "TAILOR_DOWN_THRESHOLD_PERCENT", default_value_t = 20)]
    pub down_threshold_percent: u32,
    /// Seconds after a resize before an upward drift may trigger again.
    #[arg(long, env = "TAILOR_UP_COOLDOWN_SECONDS", default_value_t = 300)]
    pub up_cooldown_seconds: u32,
    /// Seconds after a resize before a downward drift may trigger.
    #[arg(long, env = "TAILOR_DOWN_COOLDOWN_SECONDS", default_value_t = 3600)]
    pub down_cooldown_seconds: u32,
    /// Seconds a Deferred resize may wait before it is shrunk, reverted or replaced by an eviction.
    #[arg(long, env = "TAILOR_DEFERRED_TIMEOUT_SECONDS", default_value_t = 300)]
    pub deferred_timeout_seconds: u32,
    /// Seconds after a Deferred resize timed out and was reverted before the same (or a larger) increase is
    /// tried again; smaller changes and OOM resizes go at once.
    #[arg(long, env = "TAILOR_DEFERRED_BACKOFF_SECONDS", default_value_t = 1800)]
    pub deferred_backoff_seconds: u32,
    /// Seconds after a pod was evicted because its resize failed during which no other pod of the same workload is
    /// evicted for that reason (they are shrunk or reverted instead): its replacement lands where the scheduler
    /// thinks it fits, which can be the node that just refused.
    #[arg(
        long,
        env = "TAILOR_FAILURE_EVICTION_HOLD_SECONDS",
        default_value_t = 1800
    )]
    pub failure_eviction_hold_seconds: u32,
    /// Seconds a resize may stay in progress.
    #[arg(
        long,
        env = "TAILOR_IN_PROGRESS_TIMEOUT_SECONDS",
        default_value_t = 3600
    )]
    pub in_progress_timeout_seconds: u32,
    /// Workloads with fewer live pods are never disrupted (container restarts or evictions).
    #[arg(long, env = "TAILOR_MIN_REPLICAS", default_value_t = 2)]
    pub min_replicas: u32,
    /// Never make a resize that restarts a container in `InPlace` mode.
    #[arg(long, env = "TAILOR_NO_RESTART_IN_PLACE", default_value_t = false)]
    pub no_restart_in_place: bool,
    /// Lower memory limits even without a known working set, relying on the kubelet's best-effort usage check
    /// (Kubernetes 1.34+). Off by default.
    #[arg(
        long,
        env = "TAILOR_TRUST_KUBELET_MEMORY_CHECK",
        default_value_t = false
    )]
    pub trust_kubelet_memory_check: bool,
    /// How often to read container working sets from the metrics API (`metrics.k8s.io`, needs `pods` list
    /// there); 0 turns it off. Without a fresh working set a memory limit is never lowered.
    #[arg(
        long,
        env = "TAILOR_WORKING_SET_INTERVAL_SECONDS",
        default_value_t = 30
    )]
    pub working_set_interval_seconds: u64,
    /// Hard maximum of a startup boost, in seconds.
    #[arg(long, env = "TAILOR_BOOST_MAX_SECONDS", default_value_t = 600)]
    pub boost_max_seconds: u32,
}

impl Args {
    pub fn planner_config(&self) -> PlannerConfig {
        let secs = |s: u32| i64::from(s) * 1000;
        PlannerConfig {
            up_threshold_permille: i64::from(self.up_threshold_percent) * 10,
            down_threshold_permille: i64::from(self.down_threshold_percent.min(99)) * 10,
            up_cooldown_ms: secs(self.up_cooldown_seconds),
            down_cooldown_ms: secs(self.down_cooldown_seconds),
            deferred_timeout_ms: secs(self.deferred_timeout_seconds),
            deferred_backoff_ms: secs(self.deferred_backoff_seconds),
            failure_eviction_hold_ms: secs(self.failure_eviction_hold_seconds),
            in_progress_timeout_ms: secs(self.in_progress_timeout_seconds),
            min_replicas: self.min_replicas,
            inplace_allows_restart: !self.no_restart_in_place,
            memory_limit_decrease_without_usage: self.trust_kubelet_memory_check,
            boost_max_duration_ms: secs(self.boost_max_seconds),
            ..PlannerConfig::default()
        }
    }

    pub fn rate_limits(&self, now: Timestamp) -> RateLimits {
        RateLimits::new(
            TokenBucket::new(self.global_burst, self.global_interval_ms, now),
            self.workload_burst,
            self.workload_interval_ms,
        )
    }
}

/// Parses flags from an argument list (the first item is the program name); for embedding and tests.
pub fn parse_args<I, T>(args: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Args::try_parse_from(args)
}
