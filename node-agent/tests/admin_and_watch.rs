//! The admin router (in-process, `oneshot`) and the pod watch feed driven by synthetic watcher events:
//! `/ready` only after the initial list, `/metrics` in OpenMetrics with per-container series, OOM kills from pod
//! statuses reported once.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::Event;
use prometheus_client::registry::Registry;
use tailor_node_agent::admin::{AdminState, router};
use tailor_node_agent::cgroup::FileMode;
use tailor_node_agent::discovery::{Driver, resolve, walk};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id};
use tailor_node_agent::metrics::Metrics;
use tailor_node_agent::pods::PodIndex;
use tailor_node_agent::pods::watch::WatchFeed;
use tailor_node_agent::sampler::{Sampler, SamplerConfig};
use tower::ServiceExt;

const UID: &str = "5e1f0000-0000-4000-8000-000000000001";

fn pod(app_id: &str, last_oom: Option<&str>) -> Pod {
    let last_state = last_oom.map_or(serde_json::json!({}), |id| {
        serde_json::json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "containerID": format!("containerd://{id}")}})
    });
    serde_json::from_value(serde_json::json!({
        "metadata": {"uid": UID, "namespace": "shop", "name": "cart-0"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app"}]},
        "status": {"qosClass": "Guaranteed", "containerStatuses": [{
            "name": "app", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
            "containerID": format!("containerd://{app_id}"),
            "state": {"running": {"startedAt": "2026-11-23T03:00:00Z"}},
            "lastState": last_state
        }]}
    }))
    .expect("pod")
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String, String) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn ready_after_sync_and_metrics_per_container() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let ready = Arc::new(AtomicBool::new(false));
    let index = Arc::new(Mutex::new(PodIndex::default()));
    let app = router(AdminState {
        registry: Arc::new(registry),
        ready: Arc::clone(&ready),
    });

    assert_eq!(get(&app, "/live").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);

    let id = container_id(0xa0, 1);
    let mut feed = WatchFeed::new(Arc::clone(&index), Arc::clone(&ready));
    assert!(feed.handle(Event::Init).is_empty());
    assert!(feed.handle(Event::InitApply(pod(&id, None))).is_empty());
    assert_eq!(
        get(&app, "/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready mid-list"
    );
    feed.handle(Event::InitDone);
    assert_eq!(get(&app, "/ready").await.0, StatusCode::OK);

    // Sample one Guaranteed container on a cgroupfs tree and publish its figures.
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = FixtureTree::new(tmp.path(), Driver::Cgroupfs, Runtime::Containerd).expect("tree");
    tree.add_container(
        UID,
        tailor_node_agent::discovery::Qos::Guaranteed,
        &id,
        &FixtureStats::default(),
    )
    .expect("container");
    let res = resolve(
        &walk(tmp.path()).expect("walk"),
        &index.lock().expect("lock"),
    );
    assert_eq!(res.targets.len(), 1);
    let mut sampler = Sampler::new(SamplerConfig {
        file_mode: FileMode::Reopen,
        ..SamplerConfig::default()
    });
    sampler.sync(res.targets, 1_800_000_000_000);
    sampler.sweep(1_800_000_000_000, 0);
    metrics.set_containers(sampler.metrics());
    metrics.containers_tracked.set(1);

    let (status, ctype, body) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let labels = r#"{namespace="shop",pod="cart-0",container="app"}"#;
    for line in [
        format!("tailor_node_agent_container_cpu_usage_seconds_total{labels} 1.0"),
        format!(
            "tailor_node_agent_container_memory_working_set_bytes{labels} {}",
            160u64 << 20
        ),
        format!("tailor_node_agent_container_cpu_throttled_periods_total{labels} 2"),
        format!("tailor_node_agent_container_oom_kills_total{labels} 0"),
        format!("tailor_node_agent_container_memory_pressure_full_seconds_total{labels} 0.0004"),
        "tailor_node_agent_containers_tracked 1".to_owned(),
        "tailor_node_agent_parse_errors_total 0".to_owned(),
        "tailor_node_agent_report_buffer_depth 0".to_owned(),
    ] {
        assert!(body.contains(&line), "missing {line:?} in\n{body}");
    }
    assert!(body.contains("# TYPE tailor_node_agent_sample_duration_seconds histogram"));
    assert!(body.ends_with("# EOF\n"));

    // The container leaves: its series disappear on the next sweep.
    std::fs::remove_dir_all(tree.container_dir(
        UID,
        tailor_node_agent::discovery::Qos::Guaranteed,
        &id,
    ))
    .expect("remove");
    sampler.sweep(1_800_000_001_000, 1_000_000);
    metrics.set_containers(sampler.metrics());
    assert!(!get(&app, "/metrics").await.2.contains("cart-0"));
}

#[test]
fn status_oom_kills_are_reported_once_and_not_from_the_initial_list() {
    let index = Arc::new(Mutex::new(PodIndex::default()));
    let ready = Arc::new(AtomicBool::new(false));
    let mut feed = WatchFeed::new(Arc::clone(&index), ready);
    let (old, new) = (container_id(0xa0, 1), container_id(0xa0, 2));
    // An OOM kill from before the agent started arrives in the initial list: not news.
    feed.handle(Event::Init);
    feed.handle(Event::InitApply(pod(&old, Some("0000"))));
    assert!(feed.handle(Event::InitDone).is_empty());
    let ooms = feed.handle(Event::Apply(pod(&new, Some(&old))));
    assert_eq!(ooms.len(), 1);
    assert_eq!(
        (ooms[0].container.as_str(), ooms[0].container_id.as_str()),
        ("app", old.as_str())
    );
    assert_eq!(ooms[0].pod, "cart-0");
    assert!(
        feed.handle(Event::Apply(pod(&new, Some(&old)))).is_empty(),
        "same kill, same answer"
    );
    feed.handle(Event::Delete(pod(&new, None)));
    assert!(index.lock().expect("lock").is_empty());
}
