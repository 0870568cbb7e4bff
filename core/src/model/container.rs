//! One running container's contribution to its aggregate: deduplicated CPU samples and one memory peak per
//! aggregation window (the peak is replaced in the histogram when a higher one arrives in the same window).

use std::time::Duration;

use super::{AggregateConfig, AggregateState, CpuSample, MemorySample, ModelError};
use crate::quantity::Bytes;
use crate::time::Timestamp;

/// Whether a sample changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOutcome {
    Accepted,
    /// Duplicate, out of order or negative: dropped without effect.
    Discarded,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerState {
    last_cpu_sample_start: Option<Timestamp>,
    last_memory_sample_start: Option<Timestamp>,
    /// End of the current memory aggregation window; the window's peak is stored at this time.
    window_end: Option<Timestamp>,
    memory_peak: Bytes,
    oom_peak: Bytes,
}

impl ContainerState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn window_end(&self) -> Option<Timestamp> {
        self.window_end
    }

    /// The larger of the window's usage peak and its OOM peak.
    pub fn max_memory_peak(&self) -> Bytes {
        self.memory_peak.max(self.oom_peak)
    }

    pub fn add_cpu_sample(
        &mut self,
        agg: &mut AggregateState,
        cfg: &AggregateConfig,
        sample: CpuSample,
    ) -> SampleOutcome {
        if sample.usage.get() < 0
            || self
                .last_cpu_sample_start
                .is_some_and(|l| sample.start <= l)
        {
            return SampleOutcome::Discarded;
        }
        self.last_cpu_sample_start = Some(sample.start);
        agg.add_cpu_sample(cfg, sample);
        SampleOutcome::Accepted
    }

    pub fn add_memory_sample(
        &mut self,
        agg: &mut AggregateState,
        cfg: &AggregateConfig,
        sample: MemorySample,
    ) -> SampleOutcome {
        self.add_memory(agg, cfg, sample, false)
    }

    /// Records an OOM kill at `at`. Upstream's bump: what was in use (the larger of the request and this
    /// window's peak) grows by the bump ratio or the minimum bump, and goes in as a memory peak. Tailor also
    /// counts the limit the container was killed at (the kill proves it needed more than the limit, not just the
    /// request) and, when `cfg.oom_floor_hold` is set, holds the bump as a floor. Returns the bumped amount.
    pub fn record_oom(
        &mut self,
        agg: &mut AggregateState,
        cfg: &AggregateConfig,
        at: Timestamp,
        request: Bytes,
        limit_at_kill: Option<Bytes>,
    ) -> Result<Bytes, ModelError> {
        let interval = cfg.memory_aggregation_interval;
        if let Some(last) = self.last_memory_sample_start {
            let window_start = last.saturating_sub(interval);
            if at < window_start {
                return Err(ModelError::StaleOom { at, window_start });
            }
        }
        let mut used = request.max(self.memory_peak);
        if !cfg.oom_floor_hold.is_zero() {
            used = used.max(limit_at_kill.unwrap_or(Bytes::ZERO));
        }
        let needed = used
            .saturating_add(cfg.oom_min_bump_up)
            .max(used.scale(cfg.oom_bump_up_ratio));
        self.add_memory(
            agg,
            cfg,
            MemorySample {
                start: at,
                usage: needed,
            },
            true,
        );
        agg.raise_oom_floor(needed, at, cfg.oom_floor_hold);
        Ok(needed)
    }

    fn add_memory(
        &mut self,
        agg: &mut AggregateState,
        cfg: &AggregateConfig,
        sample: MemorySample,
        is_oom: bool,
    ) -> SampleOutcome {
        let ts = sample.start;
        let before_last = self.last_memory_sample_start.is_some_and(|l| ts < l);
        if sample.usage.get() < 0 || (!is_oom && before_last) {
            return SampleOutcome::Discarded;
        }
        if !is_oom && self.last_memory_sample_start.is_none_or(|l| ts > l) {
            self.last_memory_sample_start = Some(ts);
        }
        if !is_oom {
            agg.add_memory_usage(ts, sample.usage);
        }
        let window_end = *self.window_end.get_or_insert(ts);
        let add_new_peak = if ts < window_end {
            let old = self.max_memory_peak();
            if old != Bytes::ZERO && sample.usage > old {
                agg.subtract_memory_peak(window_end, old);
                true
            } else {
                false
            }
        } else {
            // Move to the window containing `ts`: whole intervals past the old end, plus one.
            let interval = cfg.memory_aggregation_interval;
            let behind = ts.since(window_end);
            let steps =
                u32::try_from(behind.as_millis() / interval.as_millis().max(1)).unwrap_or(u32::MAX);
            let whole = interval.checked_mul(steps).unwrap_or(Duration::MAX);
            self.window_end = Some(window_end.saturating_add(whole.saturating_add(interval)));
            self.memory_peak = Bytes::ZERO;
            self.oom_peak = Bytes::ZERO;
            true
        };
        if add_new_peak {
            let end = self.window_end.unwrap_or(window_end);
            agg.add_memory_peak(end, sample.usage);
            if is_oom {
                self.oom_peak = sample.usage;
            } else {
                self.memory_peak = sample.usage;
            }
        }
        SampleOutcome::Accepted
    }
}

/// A container's memory aggregation window that is still open, as stored with a checkpoint. Restoring it lets the
/// samples that follow a restart replace the window's peak (as they would have without the restart) instead of
/// adding a second peak for the same window, while the peak seen before the restart — an OOM bump included —
/// stays in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenWindow {
    pub end: Timestamp,
    pub memory_peak: Bytes,
    pub oom_peak: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_memory_sample_start: Option<Timestamp>,
}

impl ContainerState {
    /// The memory window still open at `now`, if any.
    pub fn open_window(&self, now: Timestamp) -> Option<OpenWindow> {
        let end = self.window_end.filter(|end| *end > now)?;
        Some(OpenWindow {
            end,
            memory_peak: self.memory_peak,
            oom_peak: self.oom_peak,
            last_memory_sample_start: self.last_memory_sample_start,
        })
    }

    /// The state of a container resuming `window`, whose peak the restored histogram already holds.
    pub fn resume(window: OpenWindow) -> Self {
        Self {
            last_cpu_sample_start: None,
            last_memory_sample_start: window.last_memory_sample_start,
            window_end: Some(window.end),
            memory_peak: window.memory_peak,
            oom_peak: window.oom_peak,
        }
    }
}
