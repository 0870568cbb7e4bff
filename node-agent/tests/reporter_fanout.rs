//! The reporter fanning reports out to every recommender replica behind one name (a headless Service): each
//! replica gets every report, periodic ones in order; one replica failing does not hold up the others and gets
//! its backlog when it is back; replicas that appear get a lane, replicas that vanish lose theirs; a name that
//! does not resolve falls back to posting to the URL. Receivers are axum servers on 127.0.0.1; the name is
//! resolved by a test resolver that answers with their addresses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use prometheus_client::registry::Registry;
use tailor_core::report::{NodeReport, REPORT_VERSION, ReportKind};
use tailor_node_agent::metrics::Metrics;
use tailor_node_agent::reporter::ReporterConfig;
use tailor_node_agent::reporter::fanout::{self, Endpoint, FanoutConfig, Resolve};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(u64, String)>>>,
    /// Answer 503 to the next N requests.
    fail_next: Arc<AtomicUsize>,
}

impl Receiver {
    fn sequences(&self) -> Vec<u64> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|(s, _)| *s)
            .collect()
    }

    fn hosts(&self) -> Vec<String> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, h)| h.clone())
            .collect()
    }
}

async fn receive(
    State(rx): State<Receiver>,
    headers: HeaderMap,
    body: axum::Json<NodeReport>,
) -> StatusCode {
    if rx.fail_next.load(Ordering::SeqCst) > 0 {
        rx.fail_next.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    rx.got.lock().expect("lock").push((body.0.sequence, host));
    StatusCode::OK
}

async fn start_receiver() -> (Receiver, SocketAddr) {
    let rx = Receiver::default();
    let app = Router::new()
        .route("/v1/reports", post(receive))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (rx, addr)
}

/// Answers with whatever addresses the test puts in, or an error when there are none.
#[derive(Clone, Default)]
struct TestResolver(Arc<Mutex<Vec<SocketAddr>>>);

impl TestResolver {
    fn set(&self, addrs: &[SocketAddr]) {
        *self.0.lock().expect("lock") = addrs.to_vec();
    }
}

impl Resolve for TestResolver {
    async fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
        assert_eq!(host, "recommender.tailor.test");
        let addrs = self.0.lock().expect("lock").clone();
        if addrs.is_empty() {
            return Err(std::io::Error::other("no such host"));
        }
        Ok(addrs)
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

fn config() -> FanoutConfig {
    FanoutConfig {
        reporter: ReporterConfig {
            buffer_capacity: 100,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            shutdown_grace: Duration::from_secs(2),
        },
        resolve_interval: Duration::from_millis(100),
        lane_queue: 64,
    }
}

fn endpoint(url: &str) -> Endpoint {
    Endpoint {
        url: url.parse().expect("url"),
        ca_file: None,
        token_file: None,
        timeout: Duration::from_secs(2),
    }
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const URL: &str = "http://recommender.tailor.test:8443/v1/reports";

#[tokio::test]
async fn every_replica_gets_every_report_in_order() {
    let ((a, a_addr), (b, b_addr)) = (start_receiver().await, start_receiver().await);
    let resolver = TestResolver::default();
    resolver.set(&[a_addr, b_addr]);
    let m = Metrics::register(&mut Registry::default());
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(fanout::run(
        rx,
        endpoint(URL),
        resolver,
        config(),
        m.clone(),
    ));
    for seq in 1..=5 {
        tx.send(report(seq, ReportKind::Periodic))
            .await
            .expect("send");
    }
    tx.send(report(6, ReportKind::Urgent)).await.expect("send");
    wait_until("both replicas have all six", || {
        a.sequences().len() == 6 && b.sequences().len() == 6
    })
    .await;
    for r in [&a, &b] {
        // Periodic reports in the order they were built; the urgent one may overtake those still buffered.
        let periodic: Vec<u64> = r.sequences().into_iter().filter(|s| *s != 6).collect();
        assert_eq!(periodic, [1, 2, 3, 4, 5]);
    }
    // The request names the Service, not the replica: a certificate for the name verifies.
    assert!(
        a.hosts()
            .iter()
            .all(|h| h.starts_with("recommender.tailor.test")),
        "{:?}",
        a.hosts()
    );
    assert_eq!(
        m.reports_sent.get(),
        12,
        "one delivery per report per replica"
    );
    drop(tx);
    task.await.expect("fan-out");
}

#[tokio::test]
async fn a_failing_replica_does_not_hold_up_the_other_and_gets_its_backlog() {
    let ((a, a_addr), (b, b_addr)) = (start_receiver().await, start_receiver().await);
    b.fail_next.store(usize::MAX / 2, Ordering::SeqCst);
    let resolver = TestResolver::default();
    resolver.set(&[a_addr, b_addr]);
    let m = Metrics::register(&mut Registry::default());
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(fanout::run(
        rx,
        endpoint(URL),
        resolver,
        config(),
        m.clone(),
    ));
    for seq in 1..=4 {
        tx.send(report(seq, ReportKind::Periodic))
            .await
            .expect("send");
    }
    wait_until("the healthy replica has all four", || {
        a.sequences().len() == 4
    })
    .await;
    assert!(b.sequences().is_empty());
    wait_until("the failing replica's backlog shows", || {
        m.buffer_depth.get() >= 1
    })
    .await;
    b.fail_next.store(0, Ordering::SeqCst);
    wait_until("the backlog reaches the recovered replica", || {
        b.sequences().len() == 4
    })
    .await;
    assert_eq!(b.sequences(), [1, 2, 3, 4]);
    wait_until("buffers empty", || m.buffer_depth.get() == 0).await;
    drop(tx);
    task.await.expect("fan-out");
}

#[tokio::test]
async fn replicas_that_appear_get_reports_and_vanished_ones_stop_getting_them() {
    let ((a, a_addr), (b, b_addr)) = (start_receiver().await, start_receiver().await);
    let resolver = TestResolver::default();
    resolver.set(&[a_addr]);
    let m = Metrics::register(&mut Registry::default());
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(fanout::run(
        rx,
        endpoint(URL),
        resolver.clone(),
        config(),
        m.clone(),
    ));
    tx.send(report(1, ReportKind::Periodic))
        .await
        .expect("send");
    wait_until("A has 1", || a.sequences() == [1]).await;

    resolver.set(&[a_addr, b_addr]);
    // Keep sending until the next resolution opened B's lane.
    let mut seq = 1;
    while b.sequences().is_empty() {
        seq += 1;
        tx.send(report(seq, ReportKind::Periodic))
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(seq < 200, "B never got a lane");
    }
    wait_until("A has every report", || a.sequences().len() as u64 == seq).await;
    assert!(
        !b.sequences().contains(&1),
        "a new replica starts from now on"
    );

    resolver.set(&[b_addr]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let a_before = a.sequences().len();
    let last = seq + 1;
    tx.send(report(last, ReportKind::Periodic))
        .await
        .expect("send");
    wait_until("B has the last report", || {
        b.sequences().last() == Some(&last)
    })
    .await;
    assert_eq!(
        a.sequences().len(),
        a_before,
        "a vanished replica gets nothing more"
    );
    drop(tx);
    task.await.expect("fan-out");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_falls_back_to_the_url() {
    let (a, a_addr) = start_receiver().await;
    // The resolver knows no address, so the lane posts to the URL and the system resolves `localhost`.
    let url = format!("http://localhost:{}/v1/reports", a_addr.port());
    let m = Metrics::register(&mut Registry::default());
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(fanout::run(rx, endpoint(&url), NoNames, config(), m));
    tx.send(report(1, ReportKind::Urgent)).await.expect("send");
    wait_until("the report arrives", || a.sequences() == [1]).await;
    drop(tx);
    task.await.expect("fan-out");
}

/// Resolves nothing, for any name.
struct NoNames;

impl Resolve for NoNames {
    async fn resolve(&self, _host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Err(std::io::Error::other("no such host"))
    }
}

#[tokio::test]
async fn an_address_literal_is_used_as_is() {
    let (a, a_addr) = start_receiver().await;
    let url = format!("http://{a_addr}/v1/reports");
    let m = Metrics::register(&mut Registry::default());
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(fanout::run(rx, endpoint(&url), NoNames, config(), m));
    tx.send(report(1, ReportKind::Periodic))
        .await
        .expect("send");
    wait_until("the report arrives", || a.sequences() == [1]).await;
    drop(tx);
    task.await.expect("fan-out");
}
