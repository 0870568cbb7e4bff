use std::time::Duration;

use crate::histogram::HistogramOptions;
use crate::quantity::Bytes;

/// How samples become history. [`AggregateConfig::upstream`] is upstream VPA's, so the same samples give the same
/// histograms; the default is Tailor's (a 15-minute CPU half-life and the OOM floor).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateConfig {
    pub cpu_histogram: HistogramOptions,
    pub memory_histogram: HistogramOptions,
    pub cpu_half_life: Duration,
    pub memory_half_life: Duration,
    /// Each container contributes one memory peak per interval (`--memory-aggregation-interval`).
    pub memory_aggregation_interval: Duration,
    /// Intervals of history kept before an idle aggregate expires.
    pub memory_aggregation_interval_count: u32,
    /// Weight of one CPU sample (upstream's `minSampleWeight`; constant since VPA 1.4).
    pub cpu_sample_weight: f64,
    /// OOM bump: the memory that was in use grows by this ratio...
    pub oom_bump_up_ratio: f64,
    /// ...or by at least this much.
    pub oom_min_bump_up: Bytes,
    /// Tailor: the OOM bump also holds as a floor under the memory recommendation for this long (zero turns the
    /// floor off and leaves only upstream's single histogram sample).
    pub oom_floor_hold: Duration,
    /// Tailor: also keep a histogram of every memory sample (the working set minute by minute), and size the memory
    /// *request* from it while the per-interval peaks size the *limit* (see
    /// [`crate::estimate::MemoryLimitPolicy`]). A request at a high percentile of daily peaks (upstream) sits far
    /// above typical use when the peaks are rare; with the limit guarding the peaks, the request can follow use.
    pub memory_usage_histogram: bool,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        Self {
            cpu_histogram: HistogramOptions::cpu_default(),
            memory_histogram: HistogramOptions::memory_default(),
            // Tailor: 15 minutes, not upstream's day. An in-place CPU resize restarts nothing, so the request can
            // follow the level of demand through the day instead of holding a day's high percentile; with the
            // target tracking that closely, a 5 % margin leaves less CPU above the request than upstream's 15 % on a
            // day's history. `make eval-sweep` scores the alternatives (docs/eval/README.md).
            cpu_half_life: Duration::from_secs(15 * 60),
            memory_half_life: Duration::from_secs(24 * 3600),
            memory_aggregation_interval: Duration::from_secs(24 * 3600),
            memory_aggregation_interval_count: 8,
            cpu_sample_weight: 0.1,
            oom_bump_up_ratio: 1.2,
            oom_min_bump_up: Bytes(100 * 1024 * 1024),
            oom_floor_hold: Duration::from_secs(24 * 3600),
            memory_usage_histogram: false,
        }
    }
}

impl AggregateConfig {
    /// Exactly upstream VPA: a day's CPU half-life, no OOM floor, no memory usage histogram.
    pub fn upstream() -> Self {
        Self {
            cpu_half_life: Duration::from_secs(24 * 3600),
            oom_floor_hold: Duration::ZERO,
            memory_usage_histogram: false,
            ..Self::default()
        }
    }

    /// How long history is kept without new samples.
    pub fn history_window(&self) -> Duration {
        self.memory_aggregation_interval * self.memory_aggregation_interval_count
    }
}
