//! Tunables of the planner. Defaults follow the research notes: VPA's 5-minute Deferred and 1-hour InProgress
//! bounds, VPA's 10-minute OOM window and its 1.2×/100 MiB OOM bump, and up-fast/down-slow hysteresis.

/// Planner settings; all durations are milliseconds and all ratios thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannerConfig {
    /// Resize up when the target exceeds the request by more than this (100 = 10 %).
    pub up_threshold_permille: i64,
    /// Resize down when the target is below the request by more than this.
    pub down_threshold_permille: i64,
    /// Time after a resize (or pod start) before an upward drift may trigger again.
    pub up_cooldown_ms: i64,
    /// Time after a resize (or pod start) before a downward drift may trigger.
    pub down_cooldown_ms: i64,
    /// An OOM kill that finished within this window triggers a resize at once.
    pub oom_window_ms: i64,
    /// After an OOM kill, memory grows to at least the old value times this ratio …
    pub oom_bump_permille: i64,
    /// … and by at least this many bytes.
    pub oom_min_bump_bytes: i64,
    /// How long the memory an OOM resize set stays a floor under the recommendation (the recommender needs
    /// time to learn from the kill; without the floor the next pass would size the pod straight back down).
    pub oom_floor_ms: i64,
    /// OOM kills finishing this soon after an OOM resize happened at the old size (the kubelet had not applied
    /// the new one yet) and do not bump again.
    pub oom_settle_ms: i64,
    /// How long a `Deferred` resize may wait before it is shrunk, reverted or replaced by an eviction.
    pub deferred_timeout_ms: i64,
    /// After a `Deferred` resize timed out and was reverted, the same (or a larger) increase is not tried again
    /// for this long: the kubelet saw less room than the API server's figures show, and retrying at once would
    /// park capacity again every `deferred_timeout_ms`. Smaller changes and OOM resizes are not held back.
    pub deferred_backoff_ms: i64,
    /// After a pod of a workload was evicted because its resize failed (Deferred past its bound, Infeasible, stuck),
    /// no other pod of that workload is evicted for a failed resize for this long; they are shrunk or reverted
    /// instead. The replacement pod lands where the scheduler's figures say it fits, which is where the kubelet
    /// just refused: evicting again would restart the workload every `deferred_timeout_ms` for nothing.
    pub failure_eviction_hold_ms: i64,
    /// How long a `PodResizeInProgress` may last.
    pub in_progress_timeout_ms: i64,
    /// Back-off after an actuation `Error`.
    pub error_backoff_ms: i64,
    /// A memory limit is lowered only to at least working set × (1 + margin) …
    pub memory_limit_margin_permille: i64,
    /// … and working set plus at least this many bytes.
    pub memory_limit_margin_min_bytes: i64,
    /// Lower memory limits even when the working set is unknown, relying on the kubelet's own usage check
    /// (Kubernetes 1.34+; a refusal comes back as `PodResizeInProgress`/`Error` and is reverted). Off by default:
    /// the kubelet's check is best-effort and a limit below usage can OOM-kill.
    pub memory_limit_decrease_without_usage: bool,
    /// Workloads with fewer live pods are never disrupted (VPA `--min-replicas`).
    pub min_replicas: u32,
    /// Whether `InPlace` mode may make a resize that restarts a container (never an eviction).
    pub inplace_allows_restart: bool,
    /// A boost ends at the latest this long after it began, Ready or not.
    pub boost_max_duration_ms: i64,
    /// The kubelet treats CPU requests below this as equal to it (cpu.shares ≥ 2).
    pub cpu_request_floor_m: i64,
    /// The kubelet treats CPU limits below this as equal to it (quota ≥ 1 ms per 100 ms).
    pub cpu_limit_floor_m: i64,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        const MINUTE: i64 = 60_000;
        Self {
            up_threshold_permille: 100,
            down_threshold_permille: 200,
            up_cooldown_ms: 5 * MINUTE,
            down_cooldown_ms: 60 * MINUTE,
            oom_window_ms: 10 * MINUTE,
            oom_bump_permille: 1200,
            oom_min_bump_bytes: 100 * 1024 * 1024,
            oom_floor_ms: 12 * 60 * MINUTE,
            oom_settle_ms: 10_000,
            deferred_timeout_ms: 5 * MINUTE,
            deferred_backoff_ms: 30 * MINUTE,
            failure_eviction_hold_ms: 30 * MINUTE,
            in_progress_timeout_ms: 60 * MINUTE,
            error_backoff_ms: 5 * MINUTE,
            memory_limit_margin_permille: 100,
            memory_limit_margin_min_bytes: 32 * 1024 * 1024,
            memory_limit_decrease_without_usage: false,
            min_replicas: 2,
            inplace_allows_restart: true,
            boost_max_duration_ms: 10 * MINUTE,
            cpu_request_floor_m: 2,
            cpu_limit_floor_m: 10,
        }
    }
}
