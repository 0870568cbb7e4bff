//! Router tests: bad tokens, bad payloads, foreign pods, duplicates, and one good report end to end.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use futures::future::BoxFuture;
use http::Request;
use http_body_util::BodyExt;
use prometheus_client::registry::Registry;
use tailor_core::model::{ContainerKey, WorkloadKey, WorkloadKind};
use tailor_core::report::*;
use tailor_core::time::Timestamp;
use tower::ServiceExt;

use super::auth::{AuthPolicy, Review, ReviewError, TokenReviewer};
use super::*;
use crate::model::ModelOptions;
use crate::pods::tests::{NoLookup, pod};

const T0: i64 = 1_800_000_000_000;
const SA: &str = "system:serviceaccount:tailor:tailor-node-agent";

/// Tokens: `good-a` (agent on node-a), `good-b` (node-b), `unbound`, `other-sa`; anything else is invalid;
/// `broken` makes the review itself fail.
struct FakeReviewer(HashMap<&'static str, Review>);

impl FakeReviewer {
    fn new() -> Self {
        let ok = |node: Option<&str>| Review::Authenticated {
            username: SA.into(),
            node: node.map(Into::into),
        };
        Self(HashMap::from([
            ("good-a", ok(Some("node-a"))),
            ("good-b", ok(Some("node-b"))),
            ("unbound", ok(None)),
            (
                "other-sa",
                Review::Authenticated {
                    username: "system:serviceaccount:default:x".into(),
                    node: Some("node-a".into()),
                },
            ),
        ]))
    }
}

impl TokenReviewer for FakeReviewer {
    fn review<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Review, ReviewError>> {
        Box::pin(async move {
            if token == "broken" {
                return Err(ReviewError(kube::Error::Api(
                    kube::core::Status::failure("down", "ServiceUnavailable")
                        .with_code(503)
                        .boxed(),
                )));
            }
            Ok(self
                .0
                .get(token)
                .cloned()
                .unwrap_or(Review::Unauthenticated))
        })
    }
}

struct Fixture {
    router: Router,
    shared: Arc<Shared>,
    metrics: Metrics,
    registry: Registry,
}

fn fixture() -> Fixture {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry, 100);
    let shared = Arc::new(Shared::new(ModelOptions::default()));
    {
        let mut pods = shared.pods_mut();
        pods.apply(&pod("uid-1", "node-a", "db"), &NoLookup);
        pods.apply(&pod("uid-2", "node-b", "db"), &NoLookup);
    }
    let state = IngestState {
        reviewer: Arc::new(FakeReviewer::new()),
        policy: AuthPolicy::service_account("tailor", "tailor-node-agent"),
        shared: Arc::clone(&shared),
        metrics: metrics.clone(),
        clock: Arc::new(|| Timestamp::from_unix_millis(T0 + 20_000)),
    };
    Fixture {
        router: router(state, 64 * 1024),
        shared,
        metrics,
        registry,
    }
}

fn container(pod_uid: &str, pod_name: &str) -> ContainerReport {
    ContainerReport {
        container: ContainerRef {
            namespace: "shop".into(),
            pod: pod_name.into(),
            pod_uid: pod_uid.into(),
            container: "app".into(),
            container_id: "c1".into(),
        },
        interval_start_ms: T0,
        interval_end_ms: T0 + 10_000,
        samples: 10,
        startup: false,
        started_ms: Some(T0 - 600_000),
        cpu: CpuSummary {
            usage_usec: 2_500_000,
            max_millicores: 300,
            histogram: BTreeMap::from([(cpu_bucket_for_millicores(250), 10)]),
            ..CpuSummary::default()
        },
        memory: MemorySummary {
            working_set_peak_bytes: 100 << 20,
            working_set_last_bytes: 90 << 20,
            current_peak_bytes: 120 << 20,
            ..MemorySummary::default()
        },
    }
}

fn report(node: &str, sequence: u64, containers: Vec<ContainerReport>) -> NodeReport {
    NodeReport {
        version: REPORT_VERSION,
        node: node.into(),
        agent_id: format!("agent-{node}"),
        sequence,
        created_ms: T0 + 10_000,
        kind: ReportKind::Periodic,
        containers,
        events: vec![],
    }
}

async fn post(router: &Router, token: Option<&str>, body: Vec<u8>) -> (StatusCode, String) {
    let mut req = Request::post(REPORTS_PATH).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let response = router
        .clone()
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json(r: &NodeReport) -> Vec<u8> {
    serde_json::to_vec(r).expect("serialize")
}

fn metrics_text(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry).expect("encode");
    out
}

fn db_app() -> ContainerKey {
    ContainerKey::new(
        WorkloadKey::new("shop", WorkloadKind::StatefulSet, "db"),
        "app",
    )
}

#[tokio::test]
async fn good_report_is_applied_once() {
    let f = fixture();
    let body = json(&report("node-a", 1, vec![container("uid-1", "db-uid-1")]));
    let (status, text) = post(&f.router, Some("good-a"), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"containers\":1"), "{text}");
    let samples = f
        .shared
        .model()
        .get(&db_app())
        .expect("aggregate")
        .steady
        .cpu
        .total_weight();
    assert!(samples > 0.0);

    let (status, text) = post(&f.router, Some("good-a"), body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("duplicate"), "{text}");
    let again = f
        .shared
        .model()
        .get(&db_app())
        .expect("aggregate")
        .steady
        .cpu
        .total_weight();
    assert_eq!(samples, again, "a retried report changes nothing");
    let m = metrics_text(&f.registry);
    assert!(
        m.contains("tailor_recommender_reports_total{result=\"Applied\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("tailor_recommender_reports_total{result=\"Duplicate\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let f = fixture();
    let body = json(&report("node-a", 1, vec![container("uid-1", "db-uid-1")]));
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("nonsense"), StatusCode::UNAUTHORIZED),
        (Some("other-sa"), StatusCode::FORBIDDEN),
        (Some("unbound"), StatusCode::FORBIDDEN),
        (Some("good-b"), StatusCode::FORBIDDEN),
        (Some("broken"), StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let (status, text) = post(&f.router, token, body.clone()).await;
        assert_eq!(status, want, "token {token:?}: {text}");
    }
    assert!(f.shared.model().is_empty(), "nothing applied");
    let m = metrics_text(&f.registry);
    for reason in [
        "MissingToken",
        "Unauthenticated",
        "Forbidden",
        "AuthUnavailable",
    ] {
        assert!(
            m.contains(&format!("reason=\"{reason}\"}} 1")),
            "{reason}: {m}"
        );
    }
    assert!(m.contains("reason=\"NodeMismatch\"} 2"), "{m}");
}

#[tokio::test]
async fn malformed_invalid_and_oversized_bodies_are_refused() {
    let f = fixture();
    let (status, _) = post(&f.router, Some("good-a"), b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let mut negative =
        serde_json::to_value(report("node-a", 1, vec![container("uid-1", "p")])).expect("value");
    negative["containers"][0]["memory"]["working_set_peak_bytes"] = serde_json::json!(-5);
    let (status, _) = post(
        &f.router,
        Some("good-a"),
        serde_json::to_vec(&negative).expect("json"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "negative numbers do not deserialize"
    );

    let mut absurd = report("node-a", 2, vec![container("uid-1", "p")]);
    absurd.containers[0].memory.working_set_peak_bytes = u64::MAX;
    absurd.containers[0].memory.current_peak_bytes = u64::MAX;
    let (status, text) = post(&f.router, Some("good-a"), json(&absurd)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");

    let mut inverted = report("node-a", 3, vec![container("uid-1", "p")]);
    inverted.containers[0].interval_end_ms = T0 - 1;
    assert_eq!(
        post(&f.router, Some("good-a"), json(&inverted)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let huge = report(
        "node-a",
        4,
        (0..400).map(|_| container("uid-1", "p")).collect(),
    );
    assert_eq!(
        post(&f.router, Some("good-a"), json(&huge)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    assert!(f.shared.model().is_empty(), "state untouched by bad input");
    let m = metrics_text(&f.registry);
    assert!(m.contains("reason=\"Malformed\"} 2"), "{m}");
    assert!(m.contains("reason=\"Invalid\"} 2"), "{m}");
    assert!(m.contains("reason=\"TooLarge\"} 1"), "{m}");
}

#[tokio::test]
async fn report_about_a_pod_on_another_node_is_refused_whole() {
    let f = fixture();
    // uid-2 runs on node-b: the node-a agent may not report it, and its own pod in the same report is not applied.
    let body = json(&report(
        "node-a",
        1,
        vec![
            container("uid-1", "db-uid-1"),
            container("uid-2", "db-uid-2"),
        ],
    ));
    let (status, text) = post(&f.router, Some("good-a"), body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("node-b"), "{text}");
    assert!(f.shared.model().is_empty());
    assert!(
        !f.shared.sequences().seen("agent-node-a", 1),
        "a refused report is not marked seen"
    );
}

#[tokio::test]
async fn oom_event_raises_memory_and_wakes_the_pass() {
    let f = fixture();
    let mut r = report("node-a", 1, vec![]);
    r.kind = ReportKind::Urgent;
    r.events.push(UrgentEvent {
        container: container("uid-1", "db-uid-1").container,
        observed_ms: T0 + 5_000,
        kind: UrgentKind::OomKill {
            count: 1,
            limit_bytes: Some(256 << 20),
            peak_bytes: 256 << 20,
        },
    });
    let woken = f.shared.urgent.notified();
    let (status, text) = post(&f.router, Some("good-a"), json(&r)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"ooms\":1"), "{text}");
    tokio::time::timeout(std::time::Duration::from_secs(1), woken)
        .await
        .expect("pass woken");
    let model = f.shared.model();
    let floor = model.get(&db_app()).and_then(|t| {
        t.steady
            .active_oom_floor(Timestamp::from_unix_millis(T0 + 6_000))
    });
    // The floor bumps the limit at the kill (256Mi) by the default ratio 1.2 or at least 100Mi.
    assert_eq!(floor.map(|b| b.get()), Some(356 << 20));
}

fn oom_event(observed_ms: i64) -> UrgentEvent {
    UrgentEvent {
        container: container("uid-1", "db-uid-1").container,
        observed_ms,
        kind: UrgentKind::OomKill {
            count: 1,
            limit_bytes: Some(256 << 20),
            peak_bytes: 256 << 20,
        },
    }
}

fn oom_floor(f: &Fixture) -> Option<i64> {
    let model = f.shared.model();
    model
        .get(&db_app())
        .and_then(|t| {
            t.steady
                .active_oom_floor(Timestamp::from_unix_millis(T0 + 20_000))
        })
        .map(|b| b.get())
}

#[tokio::test]
async fn a_lost_urgent_oom_is_recovered_from_the_periodic_count() {
    let f = fixture();
    let mut summary = container("uid-1", "db-uid-1");
    summary.memory.oom_kills = 1;
    summary.memory.limit_bytes = Some(256 << 20);
    let (status, text) = post(
        &f.router,
        Some("good-a"),
        json(&report("node-a", 2, vec![summary])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"recovered_ooms\":1") && text.contains("\"ooms\":1"),
        "{text}"
    );
    assert_eq!(
        oom_floor(&f),
        Some(356 << 20),
        "the limit at the kill, bumped"
    );
    assert!(metrics_text(&f.registry).contains("tailor_recommender_oom_kills_recovered_total 1"));

    // The urgent event shows up late after all: already counted.
    let mut late = report("node-a", 1, vec![]);
    late.kind = ReportKind::Urgent;
    late.events.push(oom_event(T0 + 5_000));
    let (status, text) = post(&f.router, Some("good-a"), json(&late)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"ooms\":0"), "{text}");
    assert!(metrics_text(&f.registry).contains("tailor_recommender_oom_events_total 1"));
}

#[tokio::test]
async fn an_oom_announced_urgently_is_not_counted_again_by_the_periodic_report() {
    let f = fixture();
    let mut urgent = report("node-a", 1, vec![]);
    urgent.kind = ReportKind::Urgent;
    urgent.events.push(oom_event(T0 + 5_000));
    let (status, text) = post(&f.router, Some("good-a"), json(&urgent)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let mut summary = container("uid-1", "db-uid-1");
    summary.memory.oom_kills = 1;
    let (status, text) = post(
        &f.router,
        Some("good-a"),
        json(&report("node-a", 2, vec![summary])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"ooms\":0") && text.contains("\"recovered_ooms\":0"),
        "{text}"
    );
    let m = metrics_text(&f.registry);
    assert!(m.contains("tailor_recommender_oom_events_total 1"), "{m}");
    assert!(
        m.contains("tailor_recommender_oom_kills_recovered_total 0"),
        "{m}"
    );
}

#[tokio::test]
async fn unbound_tokens_can_be_allowed_explicitly() {
    let mut f = fixture();
    let mut registry = Registry::default();
    let state = IngestState {
        reviewer: Arc::new(FakeReviewer::new()),
        policy: AuthPolicy {
            allow_unbound_tokens: true,
            ..AuthPolicy::service_account("tailor", "tailor-node-agent")
        },
        shared: Arc::clone(&f.shared),
        metrics: Metrics::register(&mut registry, 10),
        clock: Arc::new(|| Timestamp::from_unix_millis(T0)),
    };
    f.router = router(state, 64 * 1024);
    let body = json(&report("node-a", 1, vec![container("uid-1", "db-uid-1")]));
    assert_eq!(
        post(&f.router, Some("unbound"), body).await.0,
        StatusCode::OK
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever bytes arrive, the endpoint answers with a client error and the model stays empty.
    #[test]
    fn arbitrary_bodies_are_refused_without_effect(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let f = fixture();
            let (status, _) = post(&f.router, Some("good-a"), body).await;
            assert!(status.is_client_error(), "{status}");
            assert!(f.shared.model().is_empty());
        });
    }

    /// Mutating one number of a good report either still validates or is refused; it never panics.
    #[test]
    fn mutated_reports_never_panic(field in 0usize..6, value in proptest::prelude::any::<i64>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let f = fixture();
            let mut v = serde_json::to_value(report("node-a", 1, vec![container("uid-1", "db-uid-1")])).expect("value");
            let c = &mut v["containers"][0];
            let target = match field {
                0 => &mut c["interval_start_ms"],
                1 => &mut c["interval_end_ms"],
                2 => &mut c["samples"],
                3 => &mut c["cpu"]["usage_usec"],
                4 => &mut c["memory"]["working_set_peak_bytes"],
                _ => &mut v["sequence"],
            };
            *target = serde_json::json!(value);
            let (status, text) = post(&f.router, Some("good-a"), serde_json::to_vec(&v).expect("json")).await;
            assert!(status == StatusCode::OK || status.is_client_error(), "{status}: {text}");
        });
    }
}

mod parking;
