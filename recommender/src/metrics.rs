//! The recommender's metrics, registered into the binary's one registry under the `tailor_recommender` prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::ingest::parked::{DropReason, Drops};

/// Why a report was rejected (a closed set, so the label stays bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum RejectReason {
    /// No bearer token.
    MissingToken,
    /// The token did not authenticate.
    Unauthenticated,
    /// Authenticated, but not as the node-agent ServiceAccount.
    Forbidden,
    /// The token is not bound to a node, or to another node than the report names.
    NodeMismatch,
    /// The TokenReview call failed.
    AuthUnavailable,
    /// The body exceeded the size limit.
    TooLarge,
    /// The body was not a report.
    Malformed,
    /// The report failed validation.
    Invalid,
    /// The report is about a pod on another node.
    PodNotOnNode,
}

/// Labels of rejected reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RejectLabels {
    /// Why.
    pub reason: RejectReason,
}

/// What happened to an accepted report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum IngestResult {
    /// Applied to the model.
    Applied,
    /// Already seen (a retry); nothing changed.
    Duplicate,
}

/// Labels of accepted reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct IngestLabels {
    /// Applied or duplicate.
    pub result: IngestResult,
}

// The documented values (expired, overflow, foreign); the derive would write the variant names.
impl EncodeLabelValue for DropReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Labels of dropped parked entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ParkedDropLabels {
    /// expired, overflow or foreign.
    pub reason: DropReason,
}

/// Outcome of a write to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum WriteResult {
    /// Written.
    Success,
    /// The API call failed.
    Error,
}

/// Labels of API writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct WriteLabels {
    /// Success or error.
    pub result: WriteResult,
}

/// Labels of recommendation gauges: one VPA container resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RecommendationLabels {
    /// VPA namespace.
    pub namespace: String,
    /// VPA name.
    pub vpa: String,
    /// Container name.
    pub container: String,
    /// `cpu` (cores) or `memory` (bytes).
    pub resource: String,
}

/// Every metric the recommender exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Reports accepted, by result.
    pub reports: Family<IngestLabels, Counter>,
    /// Reports rejected, by reason.
    pub rejected: Family<RejectLabels, Counter>,
    /// Container summaries applied.
    pub container_reports: Counter,
    /// Report entries whose pod or workload was not known yet when they arrived (they are parked).
    pub unknown_pods: Counter,
    /// Report entries parked until their pod and its workload are known.
    pub parked: Gauge,
    /// Parked entries dropped unapplied, by reason.
    pub parked_dropped: Family<ParkedDropLabels, Counter>,
    /// OOM kills applied.
    pub oom_events: Counter,
    /// OOM kills known only from a periodic summary's count (their urgent event never arrived).
    pub ooms_recovered: Counter,
    /// Aggregates (workload containers) tracked.
    pub aggregates: Gauge,
    /// Containers of served VPAs that CPUThrottled names (at or above the throttling threshold).
    pub throttled_containers: Gauge,
    /// Checkpoint writes, by result.
    pub checkpoint_writes: Family<WriteLabels, Counter>,
    /// VPA status writes, by result.
    pub status_writes: Family<WriteLabels, Counter>,
    /// Seconds from a VPA's creation to its first recommendation.
    pub time_to_first_recommendation: Histogram,
    /// Duration of one recommendation pass.
    pub pass_duration: Histogram,
    /// Target recommendation per VPA container (cores or bytes); at most `max_series` series.
    pub recommendation: Family<RecommendationLabels, Gauge<f64, AtomicU64>>,
    /// Recommendation series not exported because of the cap.
    pub recommendation_series_dropped: Counter,
    /// Whether this replica holds the lease.
    pub leader: Gauge,
    /// Serving certificate reloads after its files changed, by result.
    pub tls_reloads: Family<WriteLabels, Counter>,
    max_series: usize,
    series: Arc<AtomicU64>,
}

impl Metrics {
    /// Creates the metrics and registers them under `tailor_recommender_`. At most `max_series` recommendation
    /// gauges are exported, so a huge cluster cannot blow up the scrape.
    pub fn register(registry: &mut Registry, max_series: usize) -> Self {
        let m = Self {
            reports: Family::default(),
            rejected: Family::default(),
            container_reports: Counter::default(),
            unknown_pods: Counter::default(),
            parked: Gauge::default(),
            parked_dropped: Family::default(),
            oom_events: Counter::default(),
            ooms_recovered: Counter::default(),
            aggregates: Gauge::default(),
            throttled_containers: Gauge::default(),
            checkpoint_writes: Family::default(),
            status_writes: Family::default(),
            time_to_first_recommendation: Histogram::new([
                1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
            ]),
            pass_duration: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 14),
            ),
            recommendation: Family::default(),
            recommendation_series_dropped: Counter::default(),
            leader: Gauge::default(),
            tls_reloads: Family::default(),
            max_series,
            series: Arc::new(AtomicU64::new(0)),
        };
        let r = registry.sub_registry_with_prefix("tailor_recommender");
        r.register(
            "reports",
            "Node-agent reports accepted, by result",
            m.reports.clone(),
        );
        r.register(
            "reports_rejected",
            "Node-agent reports rejected, by reason",
            m.rejected.clone(),
        );
        r.register(
            "container_reports",
            "Container summaries applied to the model",
            m.container_reports.clone(),
        );
        r.register(
            "unknown_pod_reports",
            "Report entries whose pod or its workload was not known yet on arrival; parked until it is",
            m.unknown_pods.clone(),
        );
        r.register(
            "parked_entries",
            "Report entries waiting for their pod and its workload to be known",
            m.parked.clone(),
        );
        r.register(
            "parked_entries_dropped",
            "Parked report entries dropped unapplied, by reason (expired, overflow, foreign)",
            m.parked_dropped.clone(),
        );
        // Every reason exported from the start, so a rate over it is defined before the first drop.
        for reason in DropReason::ALL {
            let _ = m.parked_dropped.get_or_create(&ParkedDropLabels { reason });
        }
        r.register(
            "oom_events",
            "OOM kills applied to the model",
            m.oom_events.clone(),
        );
        r.register(
            "tls_certificate_reloads",
            "Serving certificate reloads after its files changed, by result",
            m.tls_reloads.clone(),
        );
        r.register(
            "oom_kills_recovered",
            "OOM kills applied from a periodic summary's count because their urgent event never arrived",
            m.ooms_recovered.clone(),
        );
        r.register(
            "aggregates",
            "Workload containers tracked",
            m.aggregates.clone(),
        );
        r.register(
            "cpu_throttled_containers",
            "Containers of served VPAs throttled in at least the threshold share of their recent CFS periods",
            m.throttled_containers.clone(),
        );
        r.register(
            "checkpoint_writes",
            "Checkpoint writes, by result",
            m.checkpoint_writes.clone(),
        );
        r.register(
            "status_writes",
            "VPA status writes, by result",
            m.status_writes.clone(),
        );
        r.register_with_unit(
            "time_to_first_recommendation",
            "Time from a VPA's creation to its first recommendation",
            Unit::Seconds,
            m.time_to_first_recommendation.clone(),
        );
        r.register_with_unit(
            "pass_duration",
            "Duration of one recommendation pass over all VPAs",
            Unit::Seconds,
            m.pass_duration.clone(),
        );
        r.register(
            "recommendation_target",
            "Target recommendation per VPA container: cores for cpu, bytes for memory",
            m.recommendation.clone(),
        );
        r.register(
            "recommendation_series_dropped",
            "Recommendation gauges not exported because the series cap was reached",
            m.recommendation_series_dropped.clone(),
        );
        r.register(
            "leader",
            "1 when this replica holds the lease",
            m.leader.clone(),
        );
        m
    }

    /// Counts a rejected report.
    pub fn reject(&self, reason: RejectReason) {
        self.rejected.get_or_create(&RejectLabels { reason }).inc();
    }

    /// Counts an accepted report.
    pub fn accept(&self, result: IngestResult) {
        self.reports.get_or_create(&IngestLabels { result }).inc();
    }

    /// Exports how many entries are parked and counts those dropped since the last call.
    pub fn observe_parked(&self, held: usize, drops: Drops) {
        self.parked.set(i64::try_from(held).unwrap_or(i64::MAX));
        for reason in DropReason::ALL {
            let n = drops.get(reason);
            if n > 0 {
                self.parked_dropped
                    .get_or_create(&ParkedDropLabels { reason })
                    .inc_by(n);
            }
        }
    }

    /// Sets a recommendation gauge, unless that would create a series beyond the cap.
    pub fn set_recommendation(&self, labels: RecommendationLabels, value: f64) {
        if let Some(g) = self.recommendation.get(&labels) {
            g.set(value);
            return;
        }
        if self.series.load(Ordering::Relaxed) >= self.max_series as u64 {
            self.recommendation_series_dropped.inc();
            return;
        }
        self.series.fetch_add(1, Ordering::Relaxed);
        self.recommendation.get_or_create(&labels).set(value);
    }

    /// Removes the recommendation gauges of a deleted VPA.
    pub fn forget_recommendation(&self, labels: &RecommendationLabels) {
        if self.recommendation.remove(labels) {
            self.series.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts a write.
    pub fn write(family: &Family<WriteLabels, Counter>, ok: bool) {
        let result = if ok {
            WriteResult::Success
        } else {
            WriteResult::Error
        };
        family.get_or_create(&WriteLabels { result }).inc();
    }
}
