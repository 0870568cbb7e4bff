//! The updater's metrics, registered in the binary's one registry (passed in, never global).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A decision's kind and reason (both bounded enums in the planner).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub kind: &'static str,
    pub reason: &'static str,
}

/// How an attempted write ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `resize`, `revert`, `boost`, `unboost`, `evict`.
    pub action: &'static str,
    /// `applied`, `rejected`, `infeasible` (refused as larger than the node), `blocked`, `error`.
    pub outcome: &'static str,
}

/// What a dry run would have done.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WouldLabels {
    pub action: &'static str,
}

/// All updater metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub decisions: Family<DecisionLabels, Counter>,
    pub actions: Family<OutcomeLabels, Counter>,
    pub would_resize: Family<WouldLabels, Counter>,
    pub time_to_actual: Histogram,
    pub boosts_active: Gauge,
    pub pass_duration: Histogram,
    pub pods_planned: Gauge,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            decisions: Family::default(),
            actions: Family::default(),
            would_resize: Family::default(),
            time_to_actual: Histogram::new([
                0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
            ]),
            boosts_active: Gauge::default(),
            pass_duration: Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0]),
            pods_planned: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix("tailor_updater");
        r.register(
            "decisions",
            "Planner decisions by kind and reason",
            m.decisions.clone(),
        );
        r.register(
            "actions",
            "Writes attempted (resize, revert, boost, unboost, evict) by outcome",
            m.actions.clone(),
        );
        r.register(
            "would_resize",
            "Writes a dry run would have made",
            m.would_resize.clone(),
        );
        r.register_with_unit(
            "resize_time_to_actual",
            "Time from sending a resize until the kubelet reports it done",
            prometheus_client::registry::Unit::Seconds,
            m.time_to_actual.clone(),
        );
        r.register(
            "boosts_active",
            "Pods with an active startup CPU boost",
            m.boosts_active.clone(),
        );
        r.register_with_unit(
            "pass_duration",
            "Time to plan one pass over all pods",
            prometheus_client::registry::Unit::Seconds,
            m.pass_duration.clone(),
        );
        r.register(
            "pods_planned",
            "Pods covered by a VPA in the last pass",
            m.pods_planned.clone(),
        );
        m
    }
}
