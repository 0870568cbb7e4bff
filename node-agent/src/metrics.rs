//! The agent's Prometheus metrics: its own health as ordinary metrics, and per-container figures rendered at
//! scrape time from the latest sweep (so containers that left vanish without bookkeeping).
//!
//! One [`Registry`] is created in `main` and passed in; nothing here is global.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::sampler::ContainerMetrics;

/// Label set of the urgent-event counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub kind: &'static str,
}

/// Handles to the agent's own metrics. Cheap to clone (every metric is reference-counted inside).
#[derive(Debug, Clone)]
pub struct Metrics {
    pub sample_duration: Histogram,
    pub containers_tracked: Gauge,
    pub unmatched_cgroups: Gauge,
    pub parse_errors: Counter,
    pub read_errors: Counter,
    pub urgent_events: Family<EventLabels, Counter>,
    pub reports_sent: Counter,
    pub report_failures: Counter,
    pub reports_dropped: Counter,
    pub reports_rejected: Counter,
    pub buffer_depth: Gauge,
    /// Latest per-container figures, replaced after every sweep.
    pub containers: Arc<Mutex<Vec<ContainerMetrics>>>,
}

impl Metrics {
    /// Creates the metrics and registers them (and the per-container collector) in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            // 100 µs .. ~1.6 s: a sweep of a few hundred containers takes a few milliseconds.
            sample_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
            containers_tracked: Gauge::default(),
            unmatched_cgroups: Gauge::default(),
            parse_errors: Counter::default(),
            read_errors: Counter::default(),
            urgent_events: Family::default(),
            reports_sent: Counter::default(),
            report_failures: Counter::default(),
            reports_dropped: Counter::default(),
            reports_rejected: Counter::default(),
            buffer_depth: Gauge::default(),
            containers: Arc::default(),
        };
        registry.register_with_unit(
            "tailor_node_agent_sample_duration",
            "Time to sample every tracked container once",
            Unit::Seconds,
            m.sample_duration.clone(),
        );
        registry.register(
            "tailor_node_agent_containers_tracked",
            "Containers being sampled",
            m.containers_tracked.clone(),
        );
        registry.register(
            "tailor_node_agent_unmatched_cgroups",
            "Container-like cgroups no pod on this node claims (sandboxes, exited containers)",
            m.unmatched_cgroups.clone(),
        );
        registry.register(
            "tailor_node_agent_parse_errors",
            "cgroup files with malformed content; the sample was skipped",
            m.parse_errors.clone(),
        );
        registry.register(
            "tailor_node_agent_read_errors",
            "cgroup files that could not be read for reasons other than the container leaving",
            m.read_errors.clone(),
        );
        registry.register(
            "tailor_node_agent_urgent_events",
            "OOM kills and throttling bursts sent at once",
            m.urgent_events.clone(),
        );
        registry.register(
            "tailor_node_agent_reports_sent",
            "Reports the recommender accepted",
            m.reports_sent.clone(),
        );
        registry.register(
            "tailor_node_agent_report_failures",
            "Report delivery attempts that failed and will be retried",
            m.report_failures.clone(),
        );
        registry.register(
            "tailor_node_agent_reports_dropped",
            "Reports dropped because the buffer was full (oldest first)",
            m.reports_dropped.clone(),
        );
        registry.register(
            "tailor_node_agent_reports_rejected",
            "Reports the recommender refused as invalid; not retried",
            m.reports_rejected.clone(),
        );
        registry.register(
            "tailor_node_agent_report_buffer_depth",
            "Reports waiting for delivery",
            m.buffer_depth.clone(),
        );
        registry.register_collector(Box::new(ContainerCollector {
            containers: Arc::clone(&m.containers),
        }));
        m
    }

    /// Replaces the per-container snapshot.
    pub fn set_containers(&self, snapshot: Vec<ContainerMetrics>) {
        let mut guard = self
            .containers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = snapshot;
    }
}

#[derive(Debug)]
struct ContainerCollector {
    containers: Arc<Mutex<Vec<ContainerMetrics>>>,
}

fn usec_to_seconds(usec: u64) -> f64 {
    // Precision loss only past 2^53 µs (285 years of CPU time).
    #[allow(clippy::cast_precision_loss)]
    let s = usec as f64 / 1e6;
    s
}

/// One per-container metric: name (the encoder appends unit and `_total`), help, unit, type, how to read the
/// value, and whether the value is in microseconds (exported as seconds).
type Series = (
    &'static str,
    &'static str,
    Option<Unit>,
    MetricType,
    fn(&ContainerMetrics) -> Option<u64>,
    bool,
);

const SERIES: [Series; 8] = [
    (
        "tailor_node_agent_container_cpu_usage",
        "CPU time used by the container (cpu.stat usage_usec)",
        Some(Unit::Seconds),
        MetricType::Counter,
        |c| Some(c.cpu_usage_usec),
        true,
    ),
    (
        "tailor_node_agent_container_memory_working_set",
        "Working set: memory.current minus inactive_file",
        Some(Unit::Bytes),
        MetricType::Gauge,
        |c| Some(c.working_set_bytes),
        false,
    ),
    (
        "tailor_node_agent_container_cpu_periods",
        "CFS enforcement periods that elapsed (cpu.stat nr_periods)",
        None,
        MetricType::Counter,
        |c| Some(c.nr_periods),
        false,
    ),
    (
        "tailor_node_agent_container_cpu_throttled_periods",
        "CFS periods in which the container was throttled (cpu.stat nr_throttled)",
        None,
        MetricType::Counter,
        |c| Some(c.nr_throttled),
        false,
    ),
    (
        "tailor_node_agent_container_oom_kills",
        "Processes of the container killed by the OOM killer (memory.events oom_kill)",
        None,
        MetricType::Counter,
        |c| Some(c.oom_kills),
        false,
    ),
    (
        "tailor_node_agent_container_cpu_pressure_some",
        "Time some tasks were stalled waiting for CPU (cpu.pressure some total)",
        Some(Unit::Seconds),
        MetricType::Counter,
        |c| c.cpu_pressure_some_usec,
        true,
    ),
    (
        "tailor_node_agent_container_memory_pressure_some",
        "Time some tasks were stalled on memory (memory.pressure some total)",
        Some(Unit::Seconds),
        MetricType::Counter,
        |c| c.memory_pressure_some_usec,
        true,
    ),
    (
        "tailor_node_agent_container_memory_pressure_full",
        "Time all tasks were stalled on memory (memory.pressure full total)",
        Some(Unit::Seconds),
        MetricType::Counter,
        |c| c.memory_pressure_full_usec,
        true,
    ),
];

impl Collector for ContainerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let containers = self
            .containers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, help, unit, kind, pick, usec) in &SERIES {
            let mut family = encoder.encode_descriptor(name, help, unit.as_ref(), *kind)?;
            for c in containers.iter() {
                let Some(v) = pick(c) else { continue };
                let labels = [
                    ("namespace", c.container.namespace.as_str()),
                    ("pod", c.container.pod.as_str()),
                    ("container", c.container.container.as_str()),
                ];
                let metric = family.encode_family(&labels)?;
                match (kind, usec) {
                    (MetricType::Counter, true) => {
                        ConstCounter::new(usec_to_seconds(v)).encode(metric)?
                    }
                    (MetricType::Counter, false) => ConstCounter::new(v).encode(metric)?,
                    _ => ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(metric)?,
                }
            }
        }
        Ok(())
    }
}
