//! The Grafana dashboard in `deploy/grafana/` may only query series the components really export: a renamed
//! metric would otherwise leave an empty panel that nobody notices until it is needed.

use std::collections::BTreeSet;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tailor_core::report::ContainerRef;
use tailor_node_agent::sampler::ContainerMetrics;
use tailor_recommender::metrics::{
    IngestLabels, IngestResult, Metrics as RecommenderMetrics, RecommendationLabels, RejectLabels,
    RejectReason,
};
use tailor_updater::metrics::{DecisionLabels, OutcomeLabels, WouldLabels};

/// Every series name the three components can export: sample names seen, plus those their `# TYPE` lines imply
/// for families that have no series yet.
fn exported() -> BTreeSet<String> {
    let mut registry = Registry::default();
    let agent = tailor_node_agent::metrics::Metrics::register(&mut registry);
    agent.set_containers(vec![ContainerMetrics {
        container: Arc::new(ContainerRef {
            namespace: "ns".into(),
            pod: "p".into(),
            pod_uid: "u".into(),
            container: "c".into(),
            container_id: "id".into(),
        }),
        cpu_usage_usec: 1,
        working_set_bytes: 1,
        nr_periods: 1,
        nr_throttled: 1,
        oom_kills: 0,
        cpu_pressure_some_usec: Some(1),
        memory_pressure_some_usec: Some(1),
        memory_pressure_full_usec: Some(1),
    }]);
    // A labelled family shows up only once it has a series: one each, with any label values.
    let recommender = tailor_recommender::metrics::Metrics::register(&mut registry, 10);
    recommender
        .reports
        .get_or_create(&IngestLabels {
            result: IngestResult::Applied,
        })
        .inc();
    recommender
        .rejected
        .get_or_create(&RejectLabels {
            reason: RejectReason::MissingToken,
        })
        .inc();
    for family in [&recommender.checkpoint_writes, &recommender.status_writes] {
        RecommenderMetrics::write(family, true);
    }
    recommender.set_recommendation(
        RecommendationLabels {
            namespace: "ns".into(),
            vpa: "v".into(),
            container: "c".into(),
            resource: "cpu".into(),
        },
        1.0,
    );
    let updater = tailor_updater::metrics::Metrics::register(&mut registry);
    updater
        .decisions
        .get_or_create(&DecisionLabels {
            kind: "k",
            reason: "r",
        })
        .inc();
    updater
        .actions
        .get_or_create(&OutcomeLabels {
            action: "resize",
            outcome: "applied",
        })
        .inc();
    updater
        .would_resize
        .get_or_create(&WouldLabels { action: "resize" })
        .inc();
    let _webhook = tailor_updater::webhook::WebhookMetrics::register(&mut registry);
    let mut text = String::new();
    encode(&mut text, &registry).expect("encoding");

    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            names.insert(name.to_owned());
        }
    }
    names
}

#[test]
fn every_series_the_dashboard_queries_is_exported() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/tailor-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let exported = exported();
    assert!(
        exported.contains("tailor_recommender_aggregates"),
        "the registry dump is read: {exported:?}"
    );

    let mut queried = BTreeSet::new();
    let mut stack = vec![&dashboard];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(expr)) = map.get("expr") {
                    queried.extend(series_in(expr));
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    assert!(
        queried.len() > 10,
        "the dashboard's queries were found: {queried:?}"
    );
    let missing: Vec<_> = queried.difference(&exported).collect();
    assert!(missing.is_empty(), "queried but not exported: {missing:?}");
}

/// Series names in a PromQL expression: the `tailor_…` identifiers.
fn series_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("tailor_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}
