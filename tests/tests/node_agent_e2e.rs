//! The real node-agent (in-process, the same `run::serve` its binary calls) on a real control plane with a
//! simulated kubelet: it watches its node's pods as ServiceAccount `tailor-system/tailor-node-agent` with only
//! the RBAC shipped in `deploy/node-agent/rbac.yaml`, reads the simulator's cgroup v2 tree, and posts reports
//! with an audience-bound token to a test receiver. Shown: its per-container figures equal the simulator's
//! ground truth within 1 %, and an OOM kill reaches the receiver within 2 s of the kill.

mod sim_common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use axum::routing::post;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;
use sim_common::{Sim, create_pod, eventually, wait_ready};
use tailor_core::report::{NodeReport, ReportKind, UrgentKind};
use tailor_sim::truth::ContainerTruth;
use tailor_tests::ControlPlane;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const NODE: &str = "sim-a";
const NS: &str = "tailor-system";
const SA: &str = "tailor-node-agent";

type Received = Arc<Mutex<Vec<(NodeReport, Instant, Option<String>)>>>;

fn free_addr() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Creates the ClusterRole and binding exactly as shipped.
async fn apply_shipped_rbac(admin: &kube::Client) -> Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/node-agent/rbac.yaml"
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    for doc in text.split("\n---\n") {
        let value: serde_json::Value = serde_yaml::from_str(doc)?;
        match value["kind"].as_str() {
            Some("ClusterRole") => {
                let role: ClusterRole = serde_json::from_value(value)?;
                Api::<ClusterRole>::all(admin.clone())
                    .create(&PostParams::default(), &role)
                    .await?;
            }
            Some("ClusterRoleBinding") => {
                let binding: ClusterRoleBinding = serde_json::from_value(value)?;
                Api::<ClusterRoleBinding>::all(admin.clone())
                    .create(&PostParams::default(), &binding)
                    .await?;
            }
            other => anyhow::bail!("unexpected kind {other:?} in rbac.yaml"),
        }
    }
    Ok(())
}

/// A receiver for reports: records each with its arrival time and Authorization header.
async fn start_receiver() -> Result<(Received, String)> {
    let got: Received = Arc::default();
    let state = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/v1/reports",
        post(
            move |headers: axum::http::HeaderMap, body: axum::Json<NodeReport>| {
                let state = Arc::clone(&state);
                async move {
                    if body.0.validate().is_err() {
                        return axum::http::StatusCode::BAD_REQUEST;
                    }
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    state
                        .lock()
                        .expect("lock")
                        .push((body.0, Instant::now(), auth));
                    axum::http::StatusCode::ACCEPTED
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/reports", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((got, url))
}

/// A plain HTTP/1.0 GET against the agent's admin server: (status, body).
async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("status line")?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of one series in OpenMetrics text.
fn metric(body: &str, name: &str, pod: &str, container: &str) -> Option<f64> {
    let prefix =
        format!("{name}{{namespace=\"default\",pod=\"{pod}\",container=\"{container}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

fn truth_of(sim: &Sim, pod: &str) -> Option<ContainerTruth> {
    sim.view
        .truth()
        .into_iter()
        .flat_map(|n| n.containers)
        .find(|c| c.pod == pod && c.namespace == "default")
}

fn within_1pct(agent: f64, truth: f64) -> bool {
    (agent - truth).abs() <= truth.abs() * 0.01
}

#[tokio::test]
async fn agent_matches_ground_truth_and_reports_oom_within_two_seconds() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    apply_shipped_rbac(&admin).await?;
    let sim = Sim::start(&cp, &[NODE], "4", "8Gi").await?;

    // Start the agent first, so it sees the pods arrive like on a live node.
    let agent_client = cp.service_account_client(NS, SA).await?;
    let token = cp
        .service_account_token_for(NS, SA, &["tailor-recommender"])
        .await?;
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token)?;
    let (received, url) = start_receiver().await?;
    let admin_addr = free_addr()?;
    let args = <tailor_node_agent::config::Args as clap::Parser>::try_parse_from([
        "tailor-node-agent".to_owned(),
        format!("--node-name={NODE}"),
        format!("--cgroup-root={}", sim.node_root(NODE).display()),
        format!("--recommender-url={url}"),
        format!("--token-file={}", token_file.display()),
        format!("--admin-addr={admin_addr}"),
        "--sample-interval-ms=500".into(),
        "--report-interval-ms=2000".into(),
        "--log-format=text".into(),
    ])?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(tailor_node_agent::run::serve(
        args,
        Some(agent_client),
        async move {
            let _ = stop_rx.await;
        },
    ));
    eventually(
        "agent ready (pod watch synced)",
        Duration::from_secs(30),
        || async move {
            Ok(http_get(admin_addr, "/ready")
                .await
                .ok()
                .filter(|(s, _)| *s == 200))
        },
    )
    .await?;

    // A steady container (250m wanted, 200m limit: throttled) and one leaking into its memory limit.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    create_pod(&pods, json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "steady", "annotations": {"sim.tailor.dev/workload":
            r#"{"kind":"constant","cpu":"250m","memory":"64Mi","page_cache":"8Mi"}"#}},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "registry.invalid/steady:1",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}}}]}
    }))
    .await?;
    wait_ready(&pods, "steady").await?;
    create_pod(&pods, json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "leak", "annotations": {"sim.tailor.dev/workload":
            r#"{"kind":"leak","cpu":"50m","memory":"32Mi","leak_per_second":"24Mi"}"#}},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "registry.invalid/leak:1",
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}]}
    }))
    .await?;

    // OOM: watch the ground truth tick by tick; the urgent report must arrive within 2 s of the kill.
    let sim_ref = &sim;
    let killed_at = eventually(
        "leak container OOM-killed (truth)",
        Duration::from_secs(60),
        || async move {
            Ok(truth_of(sim_ref, "leak")
                .filter(|t| t.oom_kills > 0)
                .map(|_| Instant::now()))
        },
    )
    .await?;
    let received_ref = &received;
    let arrived = eventually("urgent OOM report", Duration::from_secs(5), || async move {
        let got = received_ref.lock().expect("lock");
        Ok(got
            .iter()
            .find(|(r, _, _)| {
                r.kind == ReportKind::Urgent
                    && r.events.iter().any(|e| {
                        e.container.pod == "leak" && matches!(e.kind, UrgentKind::OomKill { .. })
                    })
            })
            .map(|(_, at, _)| *at))
    })
    .await?;
    // The truth poll runs every 250 ms, so the kill happened up to 250 ms before `killed_at`.
    let latency = arrived.saturating_duration_since(killed_at) + Duration::from_millis(250);
    ensure!(
        latency <= Duration::from_secs(2),
        "OOM reached the receiver {latency:?} after the kill"
    );
    eprintln!("OOM kill → receiver: at most {latency:?}");

    // Per-container figures against the truth. Let the steady container run long enough that one simulator
    // tick (250 ms) of a cumulative counter is under 1 %, then compare each agent reading with the truth the
    // simulator wrote in the tick the agent read (the closest truth snapshot of the last two seconds).
    tokio::time::sleep(Duration::from_secs(30)).await;
    let mut history: Vec<ContainerTruth> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        history.extend(truth_of(&sim, "steady"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = http_get(admin_addr, "/metrics").await?;
    ensure!(status == 200, "metrics status {status}");
    history.extend(truth_of(&sim, "steady"));
    let cpu = metric(
        &body,
        "tailor_node_agent_container_cpu_usage_seconds_total",
        "steady",
        "app",
    )
    .context("cpu series")?;
    let ws = metric(
        &body,
        "tailor_node_agent_container_memory_working_set_bytes",
        "steady",
        "app",
    )
    .context("working set series")?;
    let throttled = metric(
        &body,
        "tailor_node_agent_container_cpu_throttled_periods_total",
        "steady",
        "app",
    )
    .context("throttled series")?;
    let closest = history
        .iter()
        .min_by(|a, b| {
            let da = (a.cpu_usage_usec as f64 / 1e6 - cpu).abs();
            let db = (b.cpu_usage_usec as f64 / 1e6 - cpu).abs();
            da.total_cmp(&db)
        })
        .context("truth history")?;
    eprintln!(
        "agent cpu {cpu} s vs truth {} s; working set {ws} vs {}; throttled periods {throttled} vs {}",
        closest.cpu_usage_usec as f64 / 1e6,
        closest.working_set,
        closest.nr_throttled
    );
    ensure!(
        closest.cpu_usage_usec > 5_000_000,
        "steady ran too little: {closest:?}"
    );
    ensure!(
        within_1pct(cpu, closest.cpu_usage_usec as f64 / 1e6),
        "cpu {cpu} vs truth {closest:?}"
    );
    ensure!(
        within_1pct(ws, closest.working_set as f64),
        "working set {ws} vs truth {closest:?}"
    );
    ensure!(
        closest.nr_throttled > 0,
        "the 200m limit should throttle a 250m demand: {closest:?}"
    );
    ensure!(
        within_1pct(throttled, closest.nr_throttled as f64),
        "throttled {throttled} vs truth {closest:?}"
    );

    // Reports: the steady container's latest summary agrees with the truth too (rate over the interval,
    // limits), and every report carried the audience-bound token.
    let reports = received.lock().expect("lock").clone();
    ensure!(
        reports
            .iter()
            .all(|(_, _, auth)| auth.as_deref() == Some(&format!("Bearer {token}"))),
        "token"
    );
    let last = reports
        .iter()
        .rev()
        .flat_map(|(r, _, _)| &r.containers)
        .find(|c| c.container.pod == "steady")
        .context("steady in a periodic report")?;
    let truth = truth_of(&sim, "steady").context("truth")?;
    ensure!(
        last.cpu.limit_millicores == truth.cpu_limit_millis,
        "cpu limit {last:?} vs {truth:?}"
    );
    ensure!(
        last.memory.limit_bytes == truth.memory_max,
        "memory limit {last:?} vs {truth:?}"
    );
    ensure!(
        within_1pct(
            last.memory.working_set_last_bytes as f64,
            truth.working_set as f64
        ),
        "{last:?}"
    );
    let rate = last.cpu.usage_usec as f64 * 1000.0
        / ((last.interval_end_ms - last.interval_start_ms) as f64 * 1000.0);
    eprintln!(
        "steady: reported rate {rate:.1}m over {} samples, truth rate {}m",
        last.samples, truth.cpu_rate_millis
    );
    ensure!(
        !last.startup || last.started_ms.is_some(),
        "start-up flag needs a start time"
    );

    let _ = stop_tx.send(());
    agent.await??;
    Ok(())
}
