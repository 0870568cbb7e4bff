//! Wire types of the node-agent → recommender reports, and their validation.
//!
//! One [`NodeReport`] is one HTTP request body (JSON). A node-agent sends a periodic report every few seconds
//! (batched: every container it tracks on its node) and an urgent report at once when a container is OOM-killed
//! or throttled hard. The recommender de-duplicates by `(agent_id, sequence)`: `agent_id` is fixed for the life of
//! one agent process and `sequence` grows by one per report that agent builds, so a retried report keeps its
//! number and a restarted agent starts a new sequence under a new `agent_id`.
//!
//! Units are in the field names: `_usec` microseconds, `_ms` unix milliseconds, `_bytes` bytes, `_millicores`
//! thousandths of a core. Counters and sizes are unsigned, so a negative value fails to deserialize; everything
//! else that is impossible or absurd is caught by [`NodeReport::validate`], which the receiver must call.
//!
//! CPU usage is summarised as a histogram delta over the upstream VPA CPU bucket layout (first bucket 0.01 core
//! wide, each next bucket 5 % wider, 176 buckets, see [`cpu_bucket_for_millicores`]). Each per-interval usage
//! sample adds weight 1 to the bucket its rate falls in; the recommender applies its own weighting (for example
//! by request) and decay when it merges the delta. Shipping the bucket delta instead of raw samples keeps a report
//! at a few dozen integers per container whatever the sampling interval.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Version of this wire format. Bumped on any change a version-1 reader would misread.
pub const REPORT_VERSION: u32 = 1;

/// Width of the first CPU histogram bucket in millicores (upstream VPA: 0.01 core).
pub const CPU_HISTOGRAM_FIRST_BUCKET_MILLICORES: f64 = 10.0;
/// Ratio between the widths of neighbouring CPU histogram buckets (upstream VPA: 1.05).
pub const CPU_HISTOGRAM_RATIO: f64 = 1.05;
/// Number of CPU histogram buckets (upstream VPA: 176, covering up to 1000 cores).
pub const CPU_HISTOGRAM_BUCKETS: u16 = 176;

/// Upper bounds the validator treats as absurd. They are far beyond any real node, so they only reject garbage.
pub mod limits {
    /// Containers in one report.
    pub const MAX_CONTAINERS: usize = 20_000;
    /// Urgent events in one report.
    pub const MAX_EVENTS: usize = 20_000;
    /// Cores a single container can use (largest machines today have well under this).
    pub const MAX_CORES: u64 = 4_096;
    /// Memory of one container: 64 TiB.
    pub const MAX_MEMORY_BYTES: u64 = 64 << 40;
    /// Longest interval one container summary may cover: one hour.
    pub const MAX_INTERVAL_MS: i64 = 3_600_000;
    /// Earliest plausible timestamp: 2020-01-01T00:00:00Z.
    pub const MIN_TIMESTAMP_MS: i64 = 1_577_836_800_000;
    /// Latest plausible timestamp: 2200-01-01T00:00:00Z.
    pub const MAX_TIMESTAMP_MS: i64 = 7_258_118_400_000;
    /// Longest name (Kubernetes allows 253 for namespaces/pods as DNS subdomains; 63 for container names).
    pub const MAX_NAME_LEN: usize = 253;
    /// OOM kills of one container in one interval.
    pub const MAX_OOM_KILLS: u64 = 1_000_000;
    /// PSI averages are percentages in hundredths: 100.00 % is 10 000.
    pub const MAX_PSI_AVG_HUNDREDTHS: u32 = 10_000;
}

/// One report from one node-agent: the body of one POST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Wire format version, [`REPORT_VERSION`] when written by this code.
    pub version: u32,
    /// Node name (the agent's `spec.nodeName`).
    pub node: String,
    /// Identity of the agent process (its pod UID plus start time, say); fixed for the life of the process.
    pub agent_id: String,
    /// Per-agent sequence number, starting at 1, one per report built (not per send attempt).
    pub sequence: u64,
    /// When the agent built the report.
    pub created_ms: i64,
    /// Periodic batch or urgent event.
    pub kind: ReportKind,
    /// Per-container summaries of every tracked container (periodic reports). Urgent reports carry only
    /// `events`; the figures of the interval they fall in follow in the next periodic report.
    #[serde(default)]
    pub containers: Vec<ContainerReport>,
    /// Events that made the agent send at once. Empty in a periodic report unless events happened in its window.
    #[serde(default)]
    pub events: Vec<UrgentEvent>,
}

/// Why a report was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// The regular batch (default every 10 s).
    Periodic,
    /// Sent at once because of an OOM kill or a throttling burst.
    Urgent,
}

/// Which container a summary or event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContainerRef {
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// UID of the API pod object (for a static pod: its mirror pod's UID).
    pub pod_uid: String,
    /// Container name in the pod spec.
    pub container: String,
    /// Runtime container ID without the `containerd://` style prefix. A restart gives a new ID.
    pub container_id: String,
}

/// Summary of one container over `[interval_start_ms, interval_end_ms)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerReport {
    pub container: ContainerRef,
    pub interval_start_ms: i64,
    pub interval_end_ms: i64,
    /// Number of successful samples folded into this summary.
    pub samples: u32,
    /// The container was still in its start-up phase at the end of the interval (first minutes after it
    /// started, configurable on the agent). Start-up usage belongs to the boost, not the steady-state histogram.
    pub startup: bool,
    /// When the container started, if the agent knows (from the pod status).
    #[serde(default)]
    pub started_ms: Option<i64>,
    pub cpu: CpuSummary,
    pub memory: MemorySummary,
}

/// CPU usage and throttling over the interval.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuSummary {
    /// Δ`usage_usec` of `cpu.stat` over the interval.
    pub usage_usec: u64,
    /// Highest per-sample usage rate seen.
    pub max_millicores: u64,
    /// Per-sample usage rates as a sparse delta over the VPA CPU bucket layout: bucket index → number of samples.
    #[serde(default)]
    pub histogram: BTreeMap<u16, u32>,
    /// Throttling deltas of `cpu.stat` (zero when the container has no CPU limit).
    #[serde(default)]
    pub throttling: ThrottlingDelta,
    /// `cpu.max` at the end of the interval in millicores; `None` for `max` (no limit).
    #[serde(default)]
    pub limit_millicores: Option<u64>,
    /// `cpu.pressure` over the interval, when the kernel exposes it.
    #[serde(default)]
    pub pressure: Option<PressureSummary>,
}

/// Deltas of the CFS bandwidth counters in `cpu.stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThrottlingDelta {
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_usec: u64,
}

/// Memory figures over the interval.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemorySummary {
    /// Highest working set (`memory.current − inactive_file`, floored at 0) seen in a sample.
    pub working_set_peak_bytes: u64,
    /// Working set at the last sample.
    pub working_set_last_bytes: u64,
    /// Highest `memory.current` seen in a sample.
    pub current_peak_bytes: u64,
    /// The kernel's `memory.peak` (max since the cgroup was created) at the last sample, where the kernel has it.
    #[serde(default)]
    pub kernel_peak_bytes: Option<u64>,
    /// `anon` of `memory.stat` at the last sample.
    pub anon_bytes: u64,
    /// `file` of `memory.stat` at the last sample.
    pub file_bytes: u64,
    /// `memory.max` at the last sample; `None` for `max` (no limit).
    #[serde(default)]
    pub limit_bytes: Option<u64>,
    /// Δ`oom_kill` of `memory.events` over the interval.
    pub oom_kills: u64,
    /// `memory.pressure` over the interval, when the kernel exposes it.
    #[serde(default)]
    pub pressure: Option<PressureSummary>,
}

/// PSI over the interval: stall-time deltas plus the highest 10 s average seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PressureSummary {
    /// Δ`some total` in µs.
    pub some_usec: u64,
    /// Δ`full total` in µs (0 where the kernel has no `full` line).
    pub full_usec: u64,
    /// Highest `some avg10` seen, in hundredths of a percent (13.40 % is 1340).
    pub some_avg10_max_hundredths: u32,
    /// Highest `full avg10` seen, in hundredths of a percent.
    pub full_avg10_max_hundredths: u32,
}

/// Something the recommender should hear about at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrgentEvent {
    pub container: ContainerRef,
    /// When the agent saw it (the sample time).
    pub observed_ms: i64,
    pub kind: UrgentKind,
}

/// The kind of urgent event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UrgentKind {
    /// `memory.events` `oom_kill` went up.
    OomKill {
        /// Δ`oom_kill` seen in this sample.
        count: u64,
        /// `memory.max` at the time, `None` for no limit.
        limit_bytes: Option<u64>,
        /// The kernel's `memory.peak` where it has it, otherwise the highest `memory.current` the agent saw.
        peak_bytes: u64,
    },
    /// The container was throttled in at least the configured share of CFS periods over `window_ms`.
    ThrottlingBurst {
        window_ms: i64,
        throttling: ThrottlingDelta,
        /// `cpu.max` in millicores, `None` for no limit.
        limit_millicores: Option<u64>,
    },
}

/// Why a report was rejected. Names the offending container or field so the receiver can log it usefully.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportError {
    #[error("unsupported report version {found} (this reader understands {REPORT_VERSION})")]
    UnsupportedVersion { found: u32 },
    #[error("field {field} is empty")]
    Empty { field: &'static str },
    #[error("field {field} is {len} bytes long, more than {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("sequence number must start at 1, got 0")]
    ZeroSequence,
    #[error("{what} has {count} entries, more than {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("timestamp {field} = {value} ms is outside the plausible range")]
    ImplausibleTimestamp { field: &'static str, value: i64 },
    #[error("{container}: interval end {end_ms} is not after its start {start_ms}")]
    InvertedInterval {
        container: String,
        start_ms: i64,
        end_ms: i64,
    },
    #[error("{container}: interval of {len_ms} ms is longer than {max_ms} ms")]
    IntervalTooLong {
        container: String,
        len_ms: i64,
        max_ms: i64,
    },
    #[error("{container}: {field} = {value} is beyond any real machine")]
    Absurd {
        container: String,
        field: &'static str,
        value: u64,
    },
    #[error(
        "{container}: histogram bucket {index} does not exist (layout has {CPU_HISTOGRAM_BUCKETS})"
    )]
    BadBucket { container: String, index: u16 },
    #[error("{container}: histogram holds {weight} samples but the summary counts {samples}")]
    HistogramMismatch {
        container: String,
        weight: u64,
        samples: u32,
    },
    #[error("{container}: {throttled} throttled periods out of only {periods}")]
    ThrottledExceedsPeriods {
        container: String,
        throttled: u64,
        periods: u64,
    },
    #[error("{container}: working set {working_set} exceeds memory.current peak {current}")]
    WorkingSetAboveCurrent {
        container: String,
        working_set: u64,
        current: u64,
    },
    #[error("{container}: {field} is a zero-width or negative window")]
    BadWindow {
        container: String,
        field: &'static str,
    },
    #[error("{container}: reported twice in one report")]
    DuplicateContainer { container: String },
}

impl ContainerRef {
    fn label(&self) -> String {
        format!(
            "{}/{}/{} ({})",
            self.namespace, self.pod, self.container, self.container_id
        )
    }

    fn validate(&self) -> Result<(), ReportError> {
        for (field, value, max) in [
            ("namespace", &self.namespace, 63),
            ("pod", &self.pod, limits::MAX_NAME_LEN),
            ("pod_uid", &self.pod_uid, 64),
            ("container", &self.container, 63),
            ("container_id", &self.container_id, 128),
        ] {
            if value.is_empty() {
                return Err(ReportError::Empty { field });
            }
            if value.len() > max {
                return Err(ReportError::TooLong {
                    field,
                    len: value.len(),
                    max,
                });
            }
        }
        Ok(())
    }
}

fn check_timestamp(field: &'static str, value: i64) -> Result<(), ReportError> {
    if (limits::MIN_TIMESTAMP_MS..=limits::MAX_TIMESTAMP_MS).contains(&value) {
        Ok(())
    } else {
        Err(ReportError::ImplausibleTimestamp { field, value })
    }
}

fn check_max(
    container: &str,
    field: &'static str,
    value: u64,
    max: u64,
) -> Result<(), ReportError> {
    if value > max {
        return Err(ReportError::Absurd {
            container: container.to_owned(),
            field,
            value,
        });
    }
    Ok(())
}

fn check_throttling(
    container: &str,
    t: &ThrottlingDelta,
    window_usec: u64,
) -> Result<(), ReportError> {
    if t.nr_throttled > t.nr_periods {
        return Err(ReportError::ThrottledExceedsPeriods {
            container: container.to_owned(),
            throttled: t.nr_throttled,
            periods: t.nr_periods,
        });
    }
    // Periods are at least 1 ms long (the kernel's minimum cpu.max period), and throttled time is summed over
    // runqueues, so it is bounded by the window times the core count.
    check_max(
        container,
        "throttling.nr_periods",
        t.nr_periods,
        window_usec / 1_000 + 1,
    )?;
    check_max(
        container,
        "throttling.throttled_usec",
        t.throttled_usec,
        window_usec.saturating_mul(limits::MAX_CORES),
    )
}

fn check_pressure(
    container: &str,
    p: &PressureSummary,
    window_usec: u64,
) -> Result<(), ReportError> {
    // Stall time is wall time (not summed over CPUs), so it cannot exceed the window by much; allow 10 % slack
    // for the sample times not lining up exactly with the kernel's accounting.
    let max = window_usec
        .saturating_add(window_usec / 10)
        .saturating_add(1_000_000);
    check_max(container, "pressure.some_usec", p.some_usec, max)?;
    check_max(container, "pressure.full_usec", p.full_usec, max)?;
    let max_avg = u64::from(limits::MAX_PSI_AVG_HUNDREDTHS);
    check_max(
        container,
        "pressure.some_avg10",
        u64::from(p.some_avg10_max_hundredths),
        max_avg,
    )?;
    check_max(
        container,
        "pressure.full_avg10",
        u64::from(p.full_avg10_max_hundredths),
        max_avg,
    )
}

impl ContainerReport {
    /// Checks one container summary on its own.
    pub fn validate(&self) -> Result<(), ReportError> {
        self.container.validate()?;
        let name = self.container.label();
        check_timestamp("interval_start_ms", self.interval_start_ms)?;
        check_timestamp("interval_end_ms", self.interval_end_ms)?;
        if let Some(started) = self.started_ms {
            check_timestamp("started_ms", started)?;
        }
        let len_ms = self.interval_end_ms - self.interval_start_ms;
        if len_ms <= 0 {
            return Err(ReportError::InvertedInterval {
                container: name,
                start_ms: self.interval_start_ms,
                end_ms: self.interval_end_ms,
            });
        }
        if len_ms > limits::MAX_INTERVAL_MS {
            return Err(ReportError::IntervalTooLong {
                container: name,
                len_ms,
                max_ms: limits::MAX_INTERVAL_MS,
            });
        }
        // len_ms is in (0, MAX_INTERVAL_MS] here, so the conversion cannot fail; saturate to be safe anyway.
        let window_usec = u64::try_from(len_ms)
            .unwrap_or(u64::MAX)
            .saturating_mul(1_000);
        // A little slack for sample times that straddle the interval edges.
        let window_usec_slack = window_usec
            .saturating_add(window_usec / 10)
            .saturating_add(1_000_000);

        let cpu = &self.cpu;
        check_max(
            &name,
            "cpu.usage_usec",
            cpu.usage_usec,
            window_usec_slack.saturating_mul(limits::MAX_CORES),
        )?;
        check_max(
            &name,
            "cpu.max_millicores",
            cpu.max_millicores,
            limits::MAX_CORES * 1_000,
        )?;
        if let Some(limit) = cpu.limit_millicores {
            check_max(
                &name,
                "cpu.limit_millicores",
                limit,
                limits::MAX_CORES * 1_000,
            )?;
        }
        let mut weight: u64 = 0;
        for (&index, &w) in &cpu.histogram {
            if index >= CPU_HISTOGRAM_BUCKETS {
                return Err(ReportError::BadBucket {
                    container: name,
                    index,
                });
            }
            weight = weight.saturating_add(u64::from(w));
        }
        if weight > u64::from(self.samples) {
            return Err(ReportError::HistogramMismatch {
                container: name,
                weight,
                samples: self.samples,
            });
        }
        check_throttling(&name, &cpu.throttling, window_usec_slack)?;
        if let Some(p) = &cpu.pressure {
            check_pressure(&name, p, window_usec)?;
        }

        let mem = &self.memory;
        for (field, value) in [
            ("memory.working_set_peak_bytes", mem.working_set_peak_bytes),
            ("memory.working_set_last_bytes", mem.working_set_last_bytes),
            ("memory.current_peak_bytes", mem.current_peak_bytes),
            (
                "memory.kernel_peak_bytes",
                mem.kernel_peak_bytes.unwrap_or(0),
            ),
            ("memory.anon_bytes", mem.anon_bytes),
            ("memory.file_bytes", mem.file_bytes),
            ("memory.limit_bytes", mem.limit_bytes.unwrap_or(0)),
        ] {
            check_max(&name, field, value, limits::MAX_MEMORY_BYTES)?;
        }
        if mem.working_set_peak_bytes > mem.current_peak_bytes {
            return Err(ReportError::WorkingSetAboveCurrent {
                container: name,
                working_set: mem.working_set_peak_bytes,
                current: mem.current_peak_bytes,
            });
        }
        check_max(
            &name,
            "memory.oom_kills",
            mem.oom_kills,
            limits::MAX_OOM_KILLS,
        )?;
        if let Some(p) = &mem.pressure {
            check_pressure(&name, p, window_usec)?;
        }
        Ok(())
    }
}

impl UrgentEvent {
    /// Checks one event on its own.
    pub fn validate(&self) -> Result<(), ReportError> {
        self.container.validate()?;
        let name = self.container.label();
        check_timestamp("observed_ms", self.observed_ms)?;
        match &self.kind {
            UrgentKind::OomKill {
                count,
                limit_bytes,
                peak_bytes,
            } => {
                if *count == 0 {
                    return Err(ReportError::Absurd {
                        container: name,
                        field: "oom_kill.count",
                        value: 0,
                    });
                }
                check_max(&name, "oom_kill.count", *count, limits::MAX_OOM_KILLS)?;
                check_max(
                    &name,
                    "oom_kill.limit_bytes",
                    limit_bytes.unwrap_or(0),
                    limits::MAX_MEMORY_BYTES,
                )?;
                check_max(
                    &name,
                    "oom_kill.peak_bytes",
                    *peak_bytes,
                    limits::MAX_MEMORY_BYTES,
                )
            }
            UrgentKind::ThrottlingBurst {
                window_ms,
                throttling,
                limit_millicores,
            } => {
                if *window_ms <= 0 || *window_ms > limits::MAX_INTERVAL_MS {
                    return Err(ReportError::BadWindow {
                        container: name,
                        field: "throttling_burst.window_ms",
                    });
                }
                let window_usec = u64::try_from(*window_ms)
                    .unwrap_or(u64::MAX)
                    .saturating_mul(1_000);
                let window_usec = window_usec
                    .saturating_add(window_usec / 10)
                    .saturating_add(1_000_000);
                check_throttling(&name, throttling, window_usec)?;
                check_max(
                    &name,
                    "throttling_burst.limit_millicores",
                    limit_millicores.unwrap_or(0),
                    limits::MAX_CORES * 1_000,
                )
            }
        }
    }
}

impl NodeReport {
    /// Checks the whole report: header, every container summary, every event, and that no container appears
    /// twice. The receiver must call this before using any figure.
    pub fn validate(&self) -> Result<(), ReportError> {
        if self.version != REPORT_VERSION {
            return Err(ReportError::UnsupportedVersion {
                found: self.version,
            });
        }
        for (field, value) in [("node", &self.node), ("agent_id", &self.agent_id)] {
            if value.is_empty() {
                return Err(ReportError::Empty { field });
            }
            if value.len() > limits::MAX_NAME_LEN {
                return Err(ReportError::TooLong {
                    field,
                    len: value.len(),
                    max: limits::MAX_NAME_LEN,
                });
            }
        }
        if self.sequence == 0 {
            return Err(ReportError::ZeroSequence);
        }
        check_timestamp("created_ms", self.created_ms)?;
        if self.containers.len() > limits::MAX_CONTAINERS {
            return Err(ReportError::TooMany {
                what: "containers",
                count: self.containers.len(),
                max: limits::MAX_CONTAINERS,
            });
        }
        if self.events.len() > limits::MAX_EVENTS {
            return Err(ReportError::TooMany {
                what: "events",
                count: self.events.len(),
                max: limits::MAX_EVENTS,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.containers {
            c.validate()?;
            if !seen.insert((&c.container.pod_uid, &c.container.container_id)) {
                return Err(ReportError::DuplicateContainer {
                    container: c.container.label(),
                });
            }
        }
        for e in &self.events {
            e.validate()?;
        }
        Ok(())
    }
}

/// The CPU histogram bucket a usage rate falls in, with the upstream VPA exponential layout: bucket `i` starts at
/// `first × (ratioⁱ − 1) / (ratio − 1)`; rates below the first bucket's width go to bucket 0 and rates beyond the
/// last bucket's start go to the last bucket.
pub fn cpu_bucket_for_millicores(millicores: u64) -> u16 {
    // u64 → f64 loses precision only above 2^53 millicores, far beyond the last bucket, where we clamp anyway.
    #[allow(clippy::cast_precision_loss)]
    let value = millicores as f64;
    if value < CPU_HISTOGRAM_FIRST_BUCKET_MILLICORES {
        return 0;
    }
    let ratio = CPU_HISTOGRAM_RATIO;
    let raw =
        ((value * (ratio - 1.0) / CPU_HISTOGRAM_FIRST_BUCKET_MILLICORES) + 1.0).ln() / ratio.ln();
    let last = CPU_HISTOGRAM_BUCKETS - 1;
    // Float → int casts saturate in Rust, and `raw` is finite and positive here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bucket = raw.floor() as u64;
    u16::try_from(bucket).map_or(last, |b| b.min(last))
}

/// Start of CPU histogram bucket `index` in millicores (fractional), for receivers and tests.
pub fn cpu_bucket_start_millicores(index: u16) -> f64 {
    let ratio = CPU_HISTOGRAM_RATIO;
    CPU_HISTOGRAM_FIRST_BUCKET_MILLICORES * (ratio.powi(i32::from(index)) - 1.0) / (ratio - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn cref(c: &str, id: &str) -> ContainerRef {
        ContainerRef {
            namespace: "default".into(),
            pod: "web-0".into(),
            pod_uid: "0f0e0d0c-0000-4000-8000-000000000001".into(),
            container: c.into(),
            container_id: id.into(),
        }
    }

    fn container(c: &str, id: &str) -> ContainerReport {
        ContainerReport {
            container: cref(c, id),
            interval_start_ms: T0,
            interval_end_ms: T0 + 10_000,
            samples: 10,
            startup: false,
            started_ms: Some(T0 - 60_000),
            cpu: CpuSummary {
                usage_usec: 2_500_000,
                max_millicores: 400,
                histogram: BTreeMap::from([
                    (cpu_bucket_for_millicores(250), 9),
                    (cpu_bucket_for_millicores(400), 1),
                ]),
                throttling: ThrottlingDelta {
                    nr_periods: 100,
                    nr_throttled: 3,
                    throttled_usec: 4_000,
                },
                limit_millicores: Some(500),
                pressure: Some(PressureSummary {
                    some_usec: 20_000,
                    full_usec: 0,
                    some_avg10_max_hundredths: 120,
                    full_avg10_max_hundredths: 0,
                }),
            },
            memory: MemorySummary {
                working_set_peak_bytes: 100 << 20,
                working_set_last_bytes: 90 << 20,
                current_peak_bytes: 120 << 20,
                kernel_peak_bytes: Some(130 << 20),
                anon_bytes: 80 << 20,
                file_bytes: 30 << 20,
                limit_bytes: Some(256 << 20),
                oom_kills: 0,
                pressure: None,
            },
        }
    }

    fn report() -> NodeReport {
        NodeReport {
            version: REPORT_VERSION,
            node: "node-a".into(),
            agent_id: "agent-1".into(),
            sequence: 7,
            created_ms: T0 + 10_001,
            kind: ReportKind::Periodic,
            containers: vec![container("app", "aa"), container("sidecar", "bb")],
            events: vec![UrgentEvent {
                container: cref("app", "aa"),
                observed_ms: T0 + 5_000,
                kind: UrgentKind::OomKill {
                    count: 1,
                    limit_bytes: Some(256 << 20),
                    peak_bytes: 256 << 20,
                },
            }],
        }
    }

    #[test]
    fn valid_report_round_trips_through_json() {
        let r = report();
        assert_eq!(r.validate(), Ok(()));
        let json = serde_json::to_string(&r).expect("serialize");
        let back: NodeReport = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, r);
        assert!(json.contains("\"type\":\"oom_kill\""), "{json}");
    }

    #[test]
    fn negative_counters_fail_to_deserialize() {
        let mut v = serde_json::to_value(report()).expect("to value");
        v["containers"][0]["cpu"]["usage_usec"] = serde_json::json!(-1);
        assert!(serde_json::from_value::<NodeReport>(v).is_err());
    }

    #[test]
    fn rejects_bad_headers() {
        let mut r = report();
        r.version = 2;
        assert_eq!(
            r.validate(),
            Err(ReportError::UnsupportedVersion { found: 2 })
        );
        let mut r = report();
        r.sequence = 0;
        assert_eq!(r.validate(), Err(ReportError::ZeroSequence));
        let mut r = report();
        r.node.clear();
        assert_eq!(r.validate(), Err(ReportError::Empty { field: "node" }));
        let mut r = report();
        r.created_ms = 0;
        assert!(matches!(
            r.validate(),
            Err(ReportError::ImplausibleTimestamp {
                field: "created_ms",
                ..
            })
        ));
    }

    #[test]
    fn rejects_absurd_container_figures() {
        type Mutation = fn(&mut ContainerReport);
        let cases: Vec<(Mutation, &str)> = vec![
            (
                |c| c.interval_end_ms = c.interval_start_ms,
                "InvertedInterval",
            ),
            (
                |c| c.interval_end_ms = c.interval_start_ms + 7_200_000,
                "IntervalTooLong",
            ),
            (|c| c.cpu.usage_usec = u64::MAX, "Absurd"),
            (|c| c.cpu.max_millicores = 10_000_000, "Absurd"),
            (|c| _ = c.cpu.histogram.insert(176, 1), "BadBucket"),
            (|c| _ = c.cpu.histogram.insert(3, 100), "HistogramMismatch"),
            (
                |c| c.cpu.throttling.nr_throttled = 101,
                "ThrottledExceedsPeriods",
            ),
            (
                |c| c.memory.current_peak_bytes = 1,
                "WorkingSetAboveCurrent",
            ),
            (|c| c.memory.anon_bytes = u64::MAX, "Absurd"),
            (|c| c.memory.oom_kills = u64::MAX, "Absurd"),
            (|c| c.container.container_id.clear(), "Empty"),
            (|c| c.container.namespace = "x".repeat(64), "TooLong"),
            (
                |c| {
                    c.cpu.pressure = Some(PressureSummary {
                        some_avg10_max_hundredths: 10_001,
                        ..PressureSummary::default()
                    })
                },
                "Absurd",
            ),
        ];
        for (mutate, want) in cases {
            let mut c = container("app", "aa");
            mutate(&mut c);
            let err = c.validate().expect_err(want);
            assert!(
                format!("{err:?}").starts_with(want),
                "want {want}, got {err:?}"
            );
        }
    }

    #[test]
    fn rejects_duplicate_containers_and_bad_events() {
        let mut r = report();
        r.containers.push(container("app", "aa"));
        assert!(matches!(
            r.validate(),
            Err(ReportError::DuplicateContainer { .. })
        ));

        let mut r = report();
        r.events[0].kind = UrgentKind::OomKill {
            count: 0,
            limit_bytes: None,
            peak_bytes: 1,
        };
        assert!(matches!(
            r.validate(),
            Err(ReportError::Absurd {
                field: "oom_kill.count",
                ..
            })
        ));

        let mut r = report();
        r.events[0].kind = UrgentKind::ThrottlingBurst {
            window_ms: 0,
            throttling: ThrottlingDelta::default(),
            limit_millicores: Some(100),
        };
        assert!(matches!(r.validate(), Err(ReportError::BadWindow { .. })));
    }

    #[test]
    fn cpu_buckets_follow_the_vpa_layout() {
        assert_eq!(cpu_bucket_for_millicores(0), 0);
        assert_eq!(cpu_bucket_for_millicores(9), 0);
        // Bucket 1 starts at 10 m, bucket 2 at 20.5 m.
        assert_eq!(cpu_bucket_for_millicores(10), 1);
        assert_eq!(cpu_bucket_for_millicores(20), 1);
        assert_eq!(cpu_bucket_for_millicores(21), 2);
        assert_eq!(
            cpu_bucket_for_millicores(u64::MAX),
            CPU_HISTOGRAM_BUCKETS - 1
        );
        for i in 1..CPU_HISTOGRAM_BUCKETS {
            let start = cpu_bucket_start_millicores(i);
            // A value just past a bucket start lands in that bucket.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let probe = start.ceil() as u64 + 1;
            let b = cpu_bucket_for_millicores(probe);
            assert!(
                b == i || (b == i + 1 && cpu_bucket_start_millicores(i + 1) <= probe as f64),
                "bucket {i}"
            );
        }
        // The last bucket starts near 1000 cores, like upstream's maxValue.
        assert!(cpu_bucket_start_millicores(CPU_HISTOGRAM_BUCKETS - 1) > 900_000.0);
    }
}
