//! The real agent loop and reporter against a test receiver (axum on 127.0.0.1 in the test): batched periodic
//! reports, an OOM kill sent at once, bearer tokens re-read after rotation, retries while the receiver fails,
//! a bounded buffer dropping the oldest, permanent rejections, and the last report on shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use prometheus_client::registry::Registry;
use tailor_core::report::{NodeReport, REPORT_VERSION, ReportKind, UrgentKind};
use tailor_node_agent::agent::{self, AgentConfig, AgentIo};
use tailor_node_agent::cgroup::FileMode;
use tailor_node_agent::discovery::{Driver, Qos};
use tailor_node_agent::fixture::{
    FixtureStats, FixtureTree, Runtime, container_id, pod_uid, write_stats,
};
use tailor_node_agent::metrics::Metrics;
use tailor_node_agent::pods::{ContainerInfo, PodIndex, PodInfo};
use tailor_node_agent::reporter::{self, ReporterConfig, client::ReportClient};
use tailor_node_agent::sampler::SamplerConfig;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Authorization header, body, arrival time.
type Received = (Option<String>, NodeReport, Instant);

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answer this status to the next N requests.
    fail_next: Arc<AtomicUsize>,
    fail_status: Arc<Mutex<Option<StatusCode>>>,
}

impl Receiver {
    fn reports(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

async fn receive(
    State(rx): State<Receiver>,
    headers: HeaderMap,
    body: axum::Json<NodeReport>,
) -> StatusCode {
    if rx.fail_next.load(Ordering::SeqCst) > 0 {
        rx.fail_next.fetch_sub(1, Ordering::SeqCst);
        return rx
            .fail_status
            .lock()
            .expect("lock")
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    }
    if body.0.validate().is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    rx.got
        .lock()
        .expect("lock")
        .push((auth, body.0, Instant::now()));
    StatusCode::ACCEPTED
}

async fn start_receiver() -> (Receiver, reqwest::Url) {
    let rx = Receiver::default();
    let app = Router::new()
        .route("/v1/reports", post(receive))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        rx,
        format!("http://{addr}/v1/reports").parse().expect("url"),
    )
}

fn metrics() -> Metrics {
    Metrics::register(&mut Registry::default())
}

async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn report(seq: u64, kind: ReportKind) -> NodeReport {
    NodeReport {
        version: REPORT_VERSION,
        node: "node-a".into(),
        agent_id: "agent-test".into(),
        sequence: seq,
        created_ms: 1_800_000_000_000,
        kind,
        containers: Vec::new(),
        events: Vec::new(),
    }
}

fn fast() -> ReporterConfig {
    ReporterConfig {
        buffer_capacity: 100,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sends_batches_and_an_immediate_oom_report() {
    let (receiver, url) = start_receiver().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let token = tmp.path().join("token");
    std::fs::write(&token, "token-one\n").expect("token");
    let cg = tmp.path().join("cgroup");
    let tree = FixtureTree::new(&cg, Driver::Systemd, Runtime::Containerd).expect("tree");

    let mut index = PodIndex::default();
    let mut dirs = Vec::new();
    for n in 0..3 {
        let (uid, id) = (pod_uid(n), container_id(0xa0, n));
        dirs.push(
            tree.add_container(&uid, Qos::Burstable, &id, &FixtureStats::default())
                .expect("container"),
        );
        tree.add_container(
            &uid,
            Qos::Burstable,
            &container_id(0x5a, n),
            &FixtureStats::default(),
        )
        .expect("sandbox");
        index.apply(PodInfo {
            uid,
            namespace: "shop".into(),
            name: format!("cart-{n}"),
            config_hash: None,
            qos_class: Some("Burstable".into()),
            containers: vec![ContainerInfo {
                name: "app".into(),
                id: Some(id),
                started_ms: None,
                last_oom_killed_id: None,
                last_oom_killed_ms: None,
            }],
        });
    }

    let m = metrics();
    let client =
        ReportClient::new(url, None, Some(token.clone()), Duration::from_secs(2)).expect("client");
    let (report_tx, report_rx) = mpsc::channel(16);
    let reporter = tokio::spawn(reporter::run(report_rx, client, fast(), m.clone()));
    let (_oom_tx, oom_rx) = mpsc::channel(4);
    let (stop_tx, stop_rx) = watch::channel(false);
    let config = AgentConfig {
        node_name: "node-a".into(),
        agent_id: "agent-test".into(),
        cgroup_root: cg.clone(),
        sample_interval: Duration::from_millis(100),
        report_interval: Duration::from_millis(1_500),
        rediscover_interval: Duration::from_secs(10),
        sampler: SamplerConfig {
            file_mode: FileMode::Reopen,
            ..SamplerConfig::default()
        },
        standalone: false,
    };
    let io = AgentIo {
        index: Arc::new(Mutex::new(index)),
        status_ooms: oom_rx,
        reports: Some(report_tx),
        metrics: m.clone(),
        shutdown: stop_rx,
    };
    let agent = tokio::spawn(agent::run(config, io));

    // First periodic batch: all three containers, sandboxes left out.
    wait_until("first periodic report", Duration::from_secs(5), || {
        !receiver.reports().is_empty()
    })
    .await;
    let first = receiver.reports()[0].clone();
    assert_eq!(first.0.as_deref(), Some("Bearer token-one"));
    assert_eq!(first.1.kind, ReportKind::Periodic);
    assert_eq!(first.1.containers.len(), 3);
    assert!(
        first
            .1
            .containers
            .iter()
            .all(|c| c.samples >= 5 && c.container.namespace == "shop")
    );

    // The token rotates; an OOM kill happens right after a periodic report went out.
    std::fs::write(&token, "token-two\n").expect("rotate");
    let oom_written = Instant::now();
    write_stats(
        &dirs[1],
        &FixtureStats {
            oom_kill: 1,
            ..FixtureStats::default()
        },
    )
    .expect("oom");
    wait_until("urgent report", Duration::from_secs(2), || {
        receiver
            .reports()
            .iter()
            .any(|(_, r, _)| r.kind == ReportKind::Urgent)
    })
    .await;
    let reports = receiver.reports();
    let (auth, urgent, at) = reports
        .iter()
        .find(|(_, r, _)| r.kind == ReportKind::Urgent)
        .expect("urgent")
        .clone();
    assert!(
        at - oom_written < Duration::from_secs(2),
        "OOM reached the receiver in {:?}",
        at - oom_written
    );
    assert_eq!(
        auth.as_deref(),
        Some("Bearer token-two"),
        "rotated token re-read"
    );
    assert!(urgent.containers.is_empty());
    assert_eq!(urgent.events.len(), 1);
    assert_eq!(urgent.events[0].container.pod, "cart-1");
    assert!(matches!(
        urgent.events[0].kind,
        UrgentKind::OomKill { count: 1, .. }
    ));

    // Shut down: a last periodic report goes out, sequence numbers strictly increase, and the OOM is also in
    // the periodic figures.
    wait_until("second periodic report", Duration::from_secs(5), || {
        receiver
            .reports()
            .iter()
            .filter(|(_, r, _)| r.kind == ReportKind::Periodic)
            .count()
            >= 2
    })
    .await;
    // Let a few samples accumulate after that report so the shutdown report has something to carry.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before_stop = receiver.reports().len();
    stop_tx.send(true).expect("stop");
    agent.await.expect("agent");
    reporter.await.expect("reporter");
    let all = receiver.reports();
    assert!(
        all.len() > before_stop,
        "a last report was flushed on shutdown"
    );
    let seqs: Vec<u64> = all.iter().map(|(_, r, _)| r.sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let oom_total: u64 = all
        .iter()
        .flat_map(|(_, r, _)| &r.containers)
        .map(|c| c.memory.oom_kills)
        .sum();
    assert_eq!(oom_total, 1);
    assert!(m.reports_sent.get() >= 4);
    assert_eq!(m.report_failures.get(), 0);
}

#[tokio::test]
async fn retries_with_backoff_until_the_receiver_is_back() {
    let (receiver, url) = start_receiver().await;
    receiver.fail_next.store(3, Ordering::SeqCst);
    let m = metrics();
    let client = ReportClient::new(url, None, None, Duration::from_secs(2)).expect("client");
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(reporter::run(rx, client, fast(), m.clone()));
    for seq in 1..=3 {
        tx.send(report(seq, ReportKind::Periodic))
            .await
            .expect("send");
    }
    wait_until("all three delivered", Duration::from_secs(5), || {
        receiver.reports().len() == 3
    })
    .await;
    let seqs: Vec<u64> = receiver
        .reports()
        .iter()
        .map(|(_, r, _)| r.sequence)
        .collect();
    assert_eq!(seqs, [1, 2, 3], "order kept across retries");
    assert_eq!(m.report_failures.get(), 3);
    assert_eq!(m.reports_dropped.get(), 0);
    drop(tx);
    task.await.expect("reporter");
}

#[tokio::test]
async fn full_buffer_drops_oldest_periodic_and_keeps_urgent() {
    let (receiver, url) = start_receiver().await;
    receiver.fail_next.store(usize::MAX / 2, Ordering::SeqCst);
    let m = metrics();
    let client = ReportClient::new(url, None, None, Duration::from_secs(2)).expect("client");
    let (tx, rx) = mpsc::channel(16);
    let config = ReporterConfig {
        buffer_capacity: 3,
        ..fast()
    };
    let task = tokio::spawn(reporter::run(rx, client, config, m.clone()));
    tx.send(report(1, ReportKind::Urgent)).await.expect("send");
    for seq in 2..=6 {
        tx.send(report(seq, ReportKind::Periodic))
            .await
            .expect("send");
    }
    wait_until("drops", Duration::from_secs(5), || {
        m.reports_dropped.get() == 3
    })
    .await;
    assert_eq!(m.buffer_depth.get(), 3);
    // The reporter may take all six off the channel before its first attempt; let one attempt fail first.
    wait_until("a failed attempt", Duration::from_secs(5), || {
        m.report_failures.get() > 0
    })
    .await;
    receiver.fail_next.store(0, Ordering::SeqCst);
    wait_until("delivery", Duration::from_secs(5), || {
        receiver.reports().len() == 3
    })
    .await;
    let seqs: Vec<u64> = receiver
        .reports()
        .iter()
        .map(|(_, r, _)| r.sequence)
        .collect();
    assert_eq!(
        seqs,
        [1, 5, 6],
        "urgent first, then the newest periodic reports"
    );
    assert!(m.report_failures.get() > 0);
    drop(tx);
    task.await.expect("reporter");
}

#[tokio::test]
async fn rejected_report_is_dropped_not_retried() {
    let (receiver, url) = start_receiver().await;
    *receiver.fail_status.lock().expect("lock") = Some(StatusCode::BAD_REQUEST);
    receiver.fail_next.store(1, Ordering::SeqCst);
    let m = metrics();
    let client = ReportClient::new(url, None, None, Duration::from_secs(2)).expect("client");
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(reporter::run(rx, client, fast(), m.clone()));
    tx.send(report(1, ReportKind::Periodic))
        .await
        .expect("send");
    tx.send(report(2, ReportKind::Periodic))
        .await
        .expect("send");
    drop(tx);
    task.await.expect("reporter");
    let seqs: Vec<u64> = receiver
        .reports()
        .iter()
        .map(|(_, r, _)| r.sequence)
        .collect();
    assert_eq!(seqs, [2]);
    assert_eq!(m.reports_rejected.get(), 1);
    assert_eq!(m.report_failures.get(), 0);
}

#[tokio::test]
async fn unreachable_receiver_counts_failures_and_gives_up_after_grace() {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url: reqwest::Url = format!("http://127.0.0.1:{port}/v1/reports")
        .parse()
        .expect("url");
    let m = metrics();
    let client = ReportClient::new(url, None, None, Duration::from_millis(200)).expect("client");
    let (tx, rx) = mpsc::channel(16);
    let config = ReporterConfig {
        shutdown_grace: Duration::from_millis(300),
        ..fast()
    };
    let task = tokio::spawn(reporter::run(rx, client, config, m.clone()));
    tx.send(report(1, ReportKind::Periodic))
        .await
        .expect("send");
    drop(tx);
    let started = Instant::now();
    task.await.expect("reporter");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown grace bounds the flush"
    );
    assert!(m.report_failures.get() >= 1);
    assert_eq!(m.buffer_depth.get(), 1);
}
