//! The API server's own refusal (Kubernetes 1.36+ `PodResizeValidator`: 403 with a `NodeCapacity` cause for a
//! resize whose requests exceed the node's allocatable) is final, like a kubelet `Infeasible`: the updater does
//! not send it again until the recommendation drops below the attempt.
//!
//! The updater's own headroom check never plans such a resize when it knows the node, so this test runs the
//! real controller with a node view that is blind (as when a node is not in its cache yet) against the real
//! API server, and counts the PATCH attempts through the updater's metrics.

mod sim_common;
mod updater_common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use prometheus_client::registry::Registry;
use serde_json::json;
use sim_common::Sim;
use tailor_core::time::Timestamp;
use tailor_k8s::admin::Readiness;
use tailor_k8s::shutdown::CancellationToken;
use tailor_tests::ControlPlane;
use tailor_updater::actuator::Actuator;
use tailor_updater::controller::{Controller, LoopConfig};
use tailor_updater::metrics::{DecisionLabels, Metrics, OutcomeLabels};
use tailor_updater::pass::UpdaterState;
use tailor_updater::stores::Stores;
use updater_common::*;

fn count(m: &Metrics, action: &'static str, outcome: &'static str) -> u64 {
    m.actions
        .get_or_create(&OutcomeLabels { action, outcome })
        .get()
}

fn decisions(m: &Metrics, kind: &'static str, reason: &'static str) -> u64 {
    m.decisions
        .get_or_create(&DecisionLabels { kind, reason })
        .get()
}

#[tokio::test]
async fn a_resize_refused_as_larger_than_the_node_is_not_retried() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-n1"], "2", "4Gi").await?;
    install_vpa_crd(&client).await?;
    let res = json!({"requests": {"cpu": "400m", "memory": "64Mi"}, "limits": {"cpu": "800m", "memory": "128Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(
        &client,
        deployment("huge", 1, res, "NotRequired", workload)?,
    )
    .await?;
    ready_pods(&client, "huge", 1).await?;
    // 3 CPUs on a node with 2 allocatable.
    create_vpa(
        &client,
        "huge",
        "huge",
        "InPlace",
        rec(("3", "64Mi"), ("2800m", "50Mi"), ("3200m", "100Mi")),
    )
    .await?;

    let token = CancellationToken::new();
    let _stop = token.clone().drop_guard();
    let mut stores = Stores::start(
        &client,
        Some(NS),
        &Readiness::new(),
        &token,
        Arc::new(tokio::sync::Notify::new()),
    );
    let (blind, _writer) = kube::runtime::reflector::store::<Node>();
    stores.nodes = blind;
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let args = tailor_updater::config::parse_args(["tailor-updater", "--up-cooldown-seconds=0"])?;
    let now = Timestamp::from_unix_millis(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?);
    let state = UpdaterState {
        config: args.planner_config(),
        rate: args.rate_limits(now),
        memory: HashMap::new(),
        evictions_enabled: false,
    };
    let actuator = Actuator::new(client.clone(), metrics.clone(), "e2e".into(), false, false);
    let loop_config = LoopConfig {
        interval: Duration::from_secs(1),
        min_interval: Duration::from_millis(100),
        concurrency: 4,
        dry_run: false,
    };
    let mut controller = Controller::new(stores, actuator, metrics.clone(), state, loop_config);

    // Pass until the first attempt is refused.
    let mut passes = 0;
    while count(&metrics, "resize", "infeasible") == 0 {
        ensure!(passes < 150, "no refused resize after {passes} passes");
        controller.pass_once().await;
        passes += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Twenty more passes: not one more PATCH.
    for _ in 0..20 {
        controller.pass_once().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = count(&metrics, "resize", "infeasible") + count(&metrics, "resize", "applied");
    let cached = decisions(&metrics, "skip", "infeasible_cached");
    ensure!(
        attempts == 1 && cached >= 20,
        "resize attempts {attempts}, infeasible_cached decisions {cached}"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let p = pods
        .list(&ListParams::default().labels("app=huge"))
        .await?
        .items
        .remove(0);
    ensure!(
        p.metadata.generation == Some(1)
            && spec_value(&p, "requests", "cpu").as_deref() == Some("400m"),
        "pod changed: generation {:?}",
        p.metadata.generation
    );
    let state = p
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("tailor.dev/resize-state"))
        .cloned()
        .unwrap_or_default();
    ensure!(state.contains("\"infeasible\""), "state {state:?}");
    let events: Api<Event> = Api::namespaced(client.clone(), NS);
    let failed: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("TailorActionFailed"))
        .filter_map(|e| e.note)
        .collect();
    ensure!(
        failed.iter().any(|n| n.contains("infeasible")),
        "events {failed:?}"
    );

    // A recommendation below the refused attempt is tried, and fits.
    set_recommendation(
        &client,
        "huge",
        rec(("1500m", "64Mi"), ("1400m", "50Mi"), ("1600m", "100Mi")),
    )
    .await?;
    let mut passes = 0;
    while count(&metrics, "resize", "applied") == 0 {
        ensure!(passes < 100, "no resize after the recommendation dropped");
        controller.pass_once().await;
        passes += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(
        count(&metrics, "resize", "infeasible") == 1,
        "refused again"
    );
    Ok(())
}
