//! The report's data: one row per VPA and container, per-resource figures, risk flags and totals. Every amount
//! is an integer in its base unit (millicores, bytes); JSON is these types serialized as they are, so the JSON
//! shape is defined here and nowhere else.

use serde::Serialize;
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use crate::amount::Amount;

/// The smallest and largest value of an amount across a workload's replicas (equal when all pods agree,
/// different during a rollout or while an in-place resize is half done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread<T> {
    /// Smallest value over the replicas that set it.
    pub min: T,
    /// Largest value over the replicas that set it.
    pub max: T,
}

impl<T: Amount> Spread<T> {
    /// The spread of `values`, or `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = T>) -> Option<Self> {
        values.into_iter().fold(None, |acc, v| {
            Some(match acc {
                None => Self { min: v, max: v },
                Some(s) => Self {
                    min: s.min.min(v),
                    max: s.max.max(v),
                },
            })
        })
    }

    /// `250m`, or `250m..500m` when the replicas differ.
    pub fn human(&self) -> String {
        if self.min == self.max {
            self.min.human()
        } else {
            format!("{}..{}", self.min.human(), self.max.human())
        }
    }
}

/// One resource of one container of one workload: what its pods have, what the VPA recommends, and the
/// difference summed over the replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRow<T> {
    /// `millicores` or `bytes`: the unit of every amount in this object.
    pub unit: &'static str,
    /// Whether the VPA's container policy lets Tailor set this resource.
    pub controlled: bool,
    /// Current requests over the replicas (`None` when no replica sets one).
    pub request: Option<Spread<T>>,
    /// Current limits over the replicas (`None` when no replica sets one).
    pub limit: Option<Spread<T>>,
    /// Replicas without a request for this resource (counted as requesting 0).
    pub replicas_without_request: u32,
    /// The VPA's recommended target (`None`: no recommendation for this container and resource).
    pub target: Option<T>,
    /// The VPA's lower bound.
    pub lower_bound: Option<T>,
    /// The VPA's upper bound.
    pub upper_bound: Option<T>,
    /// Tailor's recommended limit, when its recommender publishes one (memory only, opt-in
    /// `--memory-limit-policy from-peaks`, read from the VPA's `tailor.dev/memory-limits` annotation; always
    /// `None` for CPU).
    pub recommended_limit: Option<T>,
    /// Σ over replicas of the current request.
    pub requested_total: T,
    /// Σ over replicas of the target (replicas × target), when there is a target.
    pub recommended_total: Option<T>,
    /// `requested_total − recommended_total`: positive is a saving, negative an increase (under-provisioned).
    pub savings: Option<T>,
    /// The change as a whole percentage of `requested_total` (`None` without a target or without requests).
    pub change_percent: Option<i64>,
    /// Whether at least one replica requests less than the target.
    pub under_provisioned: bool,
    /// Whether at least one replica's limit is below `recommended_limit` when there is one, else below the
    /// target (CPU: throttling; memory: OOM kills).
    pub limit_below_target: bool,
}

/// Why a row deserves a second look before its recommendation is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "flag", rename_all = "kebab-case")]
pub enum Flag {
    /// Replicas whose container was OOM-killed within the look-back window (from pod status).
    OomKilled {
        /// Replicas with a recent OOM kill.
        pods: u32,
        /// When the most recent known kill finished (`None` when the status carries no time).
        last_ms: Option<i64>,
    },
    /// Tailor's recommender saw an OOM kill and holds the memory recommendation at or above this floor.
    OomFloor {
        /// The floor.
        memory_bytes: i64,
        /// Until when (unix ms).
        until_ms: i64,
    },
    /// Container restarts across the replicas (any reason; OOM kills are flagged separately).
    Restarts {
        /// Σ restartCount.
        count: u32,
    },
    /// Some replica requests less of `resource` than the target.
    UnderProvisioned {
        /// `cpu` or `memory`.
        resource: &'static str,
    },
    /// Some replica's CPU limit is below the target: it is likely throttled.
    CpuLimitBelowTarget,
    /// Measured: the recommender's `CPUThrottled` condition names this container, throttled in `percent` of
    /// its recent CFS periods.
    CpuThrottled {
        /// Throttled share of recent CFS periods, 0–100.
        percent: u8,
    },
    /// Some replica's memory limit is below the target: it is at risk of OOM kills. Only for containers
    /// without a recommended limit.
    MemoryLimitBelowTarget,
    /// Some replica's memory limit is below the limit Tailor recommends from observed peaks: it is at risk of
    /// OOM kills. Replaces `memory-limit-below-target` for containers with a recommended limit.
    MemoryLimitBelowRecommendedLimit,
    /// The VPA reports `LowConfidence`: little history behind the recommendation.
    LowConfidence,
    /// The VPA has no recommendation for this container yet.
    NoRecommendation,
    /// No running pod of the target workload was found.
    NoPods,
    /// The VPA's configuration is not supported (reason in `message`).
    ConfigUnsupported {
        /// Why.
        message: String,
    },
}

impl Flag {
    /// The short label the table and CSV show; `now` turns times into ages.
    pub fn label(&self, now: Timestamp) -> String {
        match self {
            Self::OomKilled { pods, last_ms } => match last_ms {
                Some(ms) => format!(
                    "oom-killed({pods} pod{}, {} ago)",
                    plural(*pods),
                    age(now, *ms)
                ),
                None => format!("oom-killed({pods} pod{})", plural(*pods)),
            },
            Self::OomFloor {
                memory_bytes,
                until_ms,
            } => format!(
                "oom-floor({} for {})",
                crate::amount::human_bytes(*memory_bytes),
                age(Timestamp::from_unix_millis(*until_ms), now.unix_millis())
            ),
            Self::Restarts { count } => format!("restarts({count})"),
            Self::UnderProvisioned { resource } => format!("under-provisioned:{resource}"),
            Self::CpuLimitBelowTarget => "cpu-limit-below-target".into(),
            Self::CpuThrottled { percent } => format!("cpu-throttled({percent}%)"),
            Self::MemoryLimitBelowTarget => "memory-limit-below-target".into(),
            Self::MemoryLimitBelowRecommendedLimit => "memory-limit-below-recommended-limit".into(),
            Self::LowConfidence => "low-confidence".into(),
            Self::NoRecommendation => "no-recommendation".into(),
            Self::NoPods => "no-pods".into(),
            Self::ConfigUnsupported { .. } => "config-unsupported".into(),
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `later − earlier_ms` as a short duration (`45s`, `12m`, `3h`, `2d`); never negative.
pub fn age(later: Timestamp, earlier_ms: i64) -> String {
    let secs = later.unix_millis().saturating_sub(earlier_ms).max(0) / 1000;
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Where a row's workload history stands in Tailor's recommender checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    /// CPU samples behind the histograms.
    pub samples: u64,
    /// First sample (unix ms).
    pub first_sample_ms: Option<i64>,
    /// Last sample (unix ms).
    pub last_sample_ms: Option<i64>,
}

/// One VPA container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Namespace of the VPA and its workload.
    pub namespace: String,
    /// The VPA's name.
    pub vpa: String,
    /// Kind of the target workload (`Deployment`, ...).
    pub workload_kind: String,
    /// Name of the target workload.
    pub workload_name: String,
    /// Container name.
    pub container: String,
    /// The VPA's update mode (`Off`, `InPlace`, ...), `Off` for a container whose policy is `Off`.
    pub mode: String,
    /// Running replicas found for the workload.
    pub replicas: u32,
    /// CPU figures.
    pub cpu: ResourceRow<MilliCpu>,
    /// Memory figures.
    pub memory: ResourceRow<Bytes>,
    /// Risk flags.
    pub flags: Vec<Flag>,
    /// Tailor's history for this container, when its checkpoint was readable.
    pub history: Option<History>,
}

/// Sums of one resource over every row with a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResourceTotals<T> {
    /// `millicores` or `bytes`.
    pub unit: &'static str,
    /// Σ current requests of the rows with a target.
    pub requested: T,
    /// Σ recommended.
    pub recommended: T,
    /// Net saving (`requested − recommended`); negative when the cluster needs more.
    pub savings: T,
    /// Σ of the increases alone (rows whose recommendation is above their requests), as a positive amount.
    pub increases: T,
}

/// Totals over the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Rows in the report.
    pub rows: u32,
    /// Rows with a recommendation.
    pub rows_with_recommendation: u32,
    /// CPU.
    pub cpu: ResourceTotals<MilliCpu>,
    /// Memory.
    pub memory: ResourceTotals<Bytes>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// When it was assembled (unix ms).
    pub generated_ms: i64,
    /// How far back an OOM kill counts as recent (seconds).
    pub oom_window_seconds: u64,
    /// The rows, sorted by namespace, workload, VPA and container.
    pub rows: Vec<Row>,
    /// Totals.
    pub totals: Totals,
    /// Problems met while reading the cluster that leave the report incomplete (e.g. checkpoints not readable).
    pub warnings: Vec<String>,
}
