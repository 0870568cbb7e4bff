//! The history of one workload container: every replica, every restart, every pod generation feeds the same
//! aggregate.

use std::time::Duration;

use super::{AggregateConfig, CpuSample, ModelError};
use crate::histogram::{DecayingHistogram, HistogramCheckpoint};
use crate::quantity::Bytes;
use crate::time::Timestamp;

/// A memory level the recommendation may not drop below until `until`: set by an OOM kill so that one kill moves
/// the target at once, instead of being one sample P90 can ignore (upstream issues #6420, #7867).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OomFloor {
    pub memory: Bytes,
    pub until: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateState {
    /// CPU usage in cores, one weighted sample per measurement.
    pub cpu: DecayingHistogram,
    /// Memory peaks in bytes, one per container per aggregation interval.
    pub memory_peaks: DecayingHistogram,
    /// Every memory sample, when [`AggregateConfig::memory_usage_histogram`] is on: what the request is sized from.
    pub memory_usage: Option<DecayingHistogram>,
    /// First, last and count of CPU samples: what confidence is computed from (upstream counts CPU only).
    pub first_sample_start: Option<Timestamp>,
    pub last_sample_start: Option<Timestamp>,
    pub total_samples: u64,
    pub created: Timestamp,
    pub oom_floor: Option<OomFloor>,
}

impl AggregateState {
    pub fn new(cfg: &AggregateConfig, now: Timestamp) -> Self {
        Self {
            cpu: DecayingHistogram::new(cfg.cpu_histogram, cfg.cpu_half_life),
            memory_peaks: DecayingHistogram::new(cfg.memory_histogram, cfg.memory_half_life),
            memory_usage: cfg
                .memory_usage_histogram
                .then(|| DecayingHistogram::new(cfg.memory_histogram, cfg.memory_half_life)),
            first_sample_start: None,
            last_sample_start: None,
            total_samples: 0,
            created: now,
            oom_floor: None,
        }
    }

    pub fn add_cpu_sample(&mut self, cfg: &AggregateConfig, sample: CpuSample) {
        self.add_cpu_weighted(sample, cfg.cpu_sample_weight);
    }

    /// A CPU sample with an explicit weight: a node-agent report carries many fine-grained samples, each worth a
    /// fraction of a one-minute sample.
    pub fn add_cpu_weighted(&mut self, sample: CpuSample, weight: f64) {
        self.cpu
            .add_sample(sample.usage.as_cores(), weight, sample.start);
        self.note_cpu_sample(sample.start, 1);
    }

    /// Counts `samples` CPU samples taken at `start` towards confidence without touching the histogram (used
    /// when a report already carries a histogram delta).
    pub fn note_cpu_sample(&mut self, start: Timestamp, samples: u64) {
        if self.first_sample_start.is_none_or(|f| start < f) {
            self.first_sample_start = Some(start);
        }
        if self.last_sample_start.is_none_or(|l| start > l) {
            self.last_sample_start = Some(start);
        }
        self.total_samples = self.total_samples.saturating_add(samples);
    }

    pub fn add_memory_peak(&mut self, at: Timestamp, peak: Bytes) {
        self.memory_peaks.add_sample(peak.as_f64(), 1.0, at);
    }

    /// One memory sample for the request histogram (a no-op unless it is kept).
    pub fn add_memory_usage(&mut self, at: Timestamp, usage: Bytes) {
        if let Some(h) = self.memory_usage.as_mut() {
            h.add_sample(usage.as_f64(), 1.0, at);
        }
    }

    /// The histogram memory requests are sized from: every sample when kept, else the peaks (upstream).
    pub fn memory_request_histogram(&self) -> &DecayingHistogram {
        self.memory_usage.as_ref().unwrap_or(&self.memory_peaks)
    }

    pub fn subtract_memory_peak(&mut self, at: Timestamp, peak: Bytes) {
        self.memory_peaks.subtract_sample(peak.as_f64(), 1.0, at);
    }

    /// Raises the OOM floor to `memory` until `now + hold` (never lowers a floor still in force).
    pub fn raise_oom_floor(&mut self, memory: Bytes, now: Timestamp, hold: Duration) {
        if hold.is_zero() {
            return;
        }
        let until = now.saturating_add(hold);
        self.oom_floor = Some(match self.oom_floor {
            Some(f) if f.until > now => OomFloor {
                memory: f.memory.max(memory),
                until: f.until.max(until),
            },
            _ => OomFloor { memory, until },
        });
    }

    /// The OOM floor if it still holds at `now`.
    pub fn active_oom_floor(&self, now: Timestamp) -> Option<Bytes> {
        self.oom_floor.filter(|f| f.until > now).map(|f| f.memory)
    }

    pub fn is_empty(&self) -> bool {
        self.cpu.is_empty() && self.memory_peaks.is_empty()
    }

    /// True when no sample has arrived for a whole history window: the aggregate can be dropped (its checkpoint
    /// stays until the same expiry).
    pub fn is_expired(&self, cfg: &AggregateConfig, now: Timestamp) -> bool {
        let last = self.last_sample_start.unwrap_or(self.created);
        now.since(last) > cfg.history_window()
    }

    /// Adds another aggregate's history (another recommender's checkpoint, or an imported one).
    pub fn merge(&mut self, other: &Self) -> Result<(), ModelError> {
        self.cpu.merge(&other.cpu)?;
        self.memory_peaks.merge(&other.memory_peaks)?;
        match (self.memory_usage.as_mut(), other.memory_usage.as_ref()) {
            (Some(a), Some(b)) => a.merge(b)?,
            (None, Some(b)) => self.memory_usage = Some(b.clone()),
            _ => {}
        }
        self.first_sample_start = min_opt(self.first_sample_start, other.first_sample_start);
        self.last_sample_start = self.last_sample_start.max(other.last_sample_start);
        self.total_samples = self.total_samples.saturating_add(other.total_samples);
        self.created = self.created.min(other.created);
        self.oom_floor = match (self.oom_floor, other.oom_floor) {
            (Some(a), Some(b)) => Some(OomFloor {
                memory: a.memory.max(b.memory),
                until: a.until.max(b.until),
            }),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    pub fn to_checkpoint(&self) -> AggregateCheckpoint {
        AggregateCheckpoint {
            cpu: self.cpu.to_checkpoint(),
            memory: self.memory_peaks.to_checkpoint(),
            memory_usage: self
                .memory_usage
                .as_ref()
                .map(DecayingHistogram::to_checkpoint),
            first_sample_start: self.first_sample_start,
            last_sample_start: self.last_sample_start,
            total_samples: self.total_samples,
            created: self.created,
            oom_floor: self.oom_floor,
        }
    }

    pub fn from_checkpoint(
        cfg: &AggregateConfig,
        cp: &AggregateCheckpoint,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            cpu: DecayingHistogram::from_checkpoint(cfg.cpu_histogram, cfg.cpu_half_life, &cp.cpu)?,
            memory_peaks: DecayingHistogram::from_checkpoint(
                cfg.memory_histogram,
                cfg.memory_half_life,
                &cp.memory,
            )?,
            // A checkpoint from before the usage histogram (or with it off) starts it empty: the request falls
            // back to the peaks until samples arrive, never below them.
            memory_usage: match (&cp.memory_usage, cfg.memory_usage_histogram) {
                (Some(h), true) => Some(DecayingHistogram::from_checkpoint(
                    cfg.memory_histogram,
                    cfg.memory_half_life,
                    h,
                )?),
                (None, true) => Some(DecayingHistogram::new(
                    cfg.memory_histogram,
                    cfg.memory_half_life,
                )),
                (_, false) => None,
            },
            first_sample_start: cp.first_sample_start,
            last_sample_start: cp.last_sample_start,
            total_samples: cp.total_samples,
            created: cp.created,
            oom_floor: cp.oom_floor,
        })
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// The stored form of an aggregate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AggregateCheckpoint {
    pub cpu: HistogramCheckpoint,
    pub memory: HistogramCheckpoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_usage: Option<HistogramCheckpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sample_start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sample_start: Option<Timestamp>,
    pub total_samples: u64,
    pub created: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_floor: Option<OomFloor>,
}
