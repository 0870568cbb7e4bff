//! Per-container accumulation between two reports.

use std::collections::BTreeMap;

use tailor_core::report::{
    ContainerRef, ContainerReport, CpuSummary, MemorySummary, PressureSummary,
    cpu_bucket_for_millicores,
};

use super::delta::{Delta, PressureDelta};
use crate::cgroup::RawSample;
use crate::cgroup::stats::Pressure;

/// What one container did since the last report.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    start_ms: Option<i64>,
    end_ms: i64,
    samples: u32,
    usage_usec: u64,
    max_millicores: u64,
    histogram: BTreeMap<u16, u32>,
    throttling: tailor_core::report::ThrottlingDelta,
    oom_kills: u64,
    working_set_peak: u64,
    current_peak: u64,
    cpu_pressure: Option<PressureSummary>,
    memory_pressure: Option<PressureSummary>,
    last: Option<RawSample>,
}

fn fold_pressure(acc: &mut Option<PressureSummary>, d: &PressureDelta, cur: Option<&Pressure>) {
    let Some(cur) = cur else { return };
    let p = acc.get_or_insert_with(PressureSummary::default);
    p.some_usec = p.some_usec.saturating_add(d.some_usec);
    p.full_usec = p.full_usec.saturating_add(d.full_usec);
    p.some_avg10_max_hundredths = p.some_avg10_max_hundredths.max(cur.some.avg10);
    p.full_avg10_max_hundredths = p
        .full_avg10_max_hundredths
        .max(cur.full.map_or(0, |f| f.avg10));
}

impl Summary {
    /// Folds one sample in. `delta` is `None` for a container's first sample (nothing to compare with yet),
    /// which still counts for the memory figures.
    pub fn add(&mut self, now_ms: i64, sample: &RawSample, delta: Option<&Delta>) {
        if self.start_ms.is_none() {
            // The interval covers the gap the first delta measures, not just the first sample instant.
            let gap_ms = delta.map_or(0, |d| i64::try_from(d.elapsed_usec / 1_000).unwrap_or(0));
            self.start_ms = Some(now_ms - gap_ms);
        }
        self.end_ms = now_ms;
        self.samples = self.samples.saturating_add(1);
        if let Some(d) = delta {
            self.usage_usec = self.usage_usec.saturating_add(d.usage_usec);
            if let Some(m) = d.millicores {
                self.max_millicores = self.max_millicores.max(m);
                *self
                    .histogram
                    .entry(cpu_bucket_for_millicores(m))
                    .or_insert(0) += 1;
            }
            let t = &mut self.throttling;
            t.nr_periods = t.nr_periods.saturating_add(d.throttling.nr_periods);
            t.nr_throttled = t.nr_throttled.saturating_add(d.throttling.nr_throttled);
            t.throttled_usec = t.throttled_usec.saturating_add(d.throttling.throttled_usec);
            self.oom_kills = self.oom_kills.saturating_add(d.oom_kills);
            fold_pressure(
                &mut self.cpu_pressure,
                &d.cpu_pressure,
                sample.cpu_pressure.as_ref(),
            );
            fold_pressure(
                &mut self.memory_pressure,
                &d.memory_pressure,
                sample.memory_pressure.as_ref(),
            );
        }
        let ws = sample.working_set();
        self.working_set_peak = self.working_set_peak.max(ws);
        self.current_peak = self.current_peak.max(sample.memory_current).max(ws);
        self.last = Some(*sample);
    }

    /// Counts OOM kills seen between samples (a `memory.events` change notification).
    pub fn add_oom_kills(&mut self, kills: u64) {
        self.oom_kills = self.oom_kills.saturating_add(kills);
    }

    /// Number of samples folded in since the last [`Summary::take`].
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Highest `memory.current` seen since the last report.
    pub fn current_peak(&self) -> u64 {
        self.current_peak
    }

    /// Builds the report entry and starts a new interval. `None` if nothing was sampled.
    pub fn take(
        &mut self,
        container: &ContainerRef,
        startup: bool,
        started_ms: Option<i64>,
    ) -> Option<ContainerReport> {
        let taken = std::mem::take(self);
        let (start_ms, last) = (taken.start_ms?, taken.last?);
        // A single sample has no width; give it one millisecond so the interval is well-formed.
        let end_ms = taken.end_ms.max(start_ms + 1);
        Some(ContainerReport {
            container: container.clone(),
            interval_start_ms: start_ms,
            interval_end_ms: end_ms,
            samples: taken.samples,
            startup,
            started_ms,
            cpu: CpuSummary {
                usage_usec: taken.usage_usec,
                max_millicores: taken.max_millicores,
                histogram: taken.histogram,
                throttling: taken.throttling,
                limit_millicores: last.cpu_max.and_then(|m| m.millicores()),
                pressure: taken.cpu_pressure,
            },
            memory: MemorySummary {
                working_set_peak_bytes: taken.working_set_peak,
                working_set_last_bytes: last.working_set(),
                current_peak_bytes: taken.current_peak,
                kernel_peak_bytes: last.memory_peak,
                anon_bytes: last.memory_stat.anon,
                file_bytes: last.memory_stat.file,
                limit_bytes: last.memory_max,
                oom_kills: taken.oom_kills,
                pressure: taken.memory_pressure,
            },
        })
    }
}
