//! Entries about pods the recommender cannot attribute yet: parked instead of dropped, then applied exactly once
//! when the pod watch, a later report or the recommendation pass makes the pod attributable.

use futures::stream;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::runtime::watcher;
use tailor_k8s::admin::Readiness;
use tailor_k8s::owner::OwnerLookup;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::stores::{PodFeed, Stores, feed_pods};

/// The fixture's clock.
const NOW: i64 = T0 + 20_000;

/// Runs the real pod watch handler over one added or changed pod.
async fn pod_watch_applies(f: &Fixture, pod: Pod) {
    let feed = PodFeed {
        shared: Arc::clone(&f.shared),
        metrics: f.metrics.clone(),
        clock: Arc::new(|| Timestamp::from_unix_millis(NOW)),
    };
    feed_pods(
        stream::iter([Ok(watcher::Event::Apply(pod))]),
        Stores::empty(),
        feed,
        Readiness::new().handle("pods"),
        CancellationToken::new(),
    )
    .await;
}

fn oom_of(pod_uid: &str, observed_ms: i64) -> UrgentEvent {
    UrgentEvent {
        container: container(pod_uid, &format!("db-{pod_uid}")).container,
        observed_ms,
        kind: UrgentKind::OomKill {
            count: 1,
            limit_bytes: Some(256 << 20),
            peak_bytes: 256 << 20,
        },
    }
}

fn urgent(node: &str, sequence: u64, events: Vec<UrgentEvent>) -> NodeReport {
    NodeReport {
        kind: ReportKind::Urgent,
        events,
        ..report(node, sequence, vec![])
    }
}

fn cpu_weight(f: &Fixture, key: &ContainerKey) -> f64 {
    f.shared
        .model()
        .get(key)
        .map_or(0.0, |t| t.steady.cpu.total_weight())
}

fn has(m: &str, line: &str) -> bool {
    m.lines().any(|l| l == line)
}

#[tokio::test]
async fn unknown_pods_are_parked_not_fatal() {
    let f = fixture();
    let body = json(&report(
        "node-a",
        1,
        vec![container("uid-1", "db-uid-1"), container("uid-new", "new")],
    ));
    let (status, text) = post(&f.router, Some("good-a"), body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("\"containers\":1")
            && text.contains("\"parked\":1")
            && text.contains("\"skipped\":0"),
        "{text}"
    );
    assert_eq!(f.shared.parked().len(), 1);
    let m = metrics_text(&f.registry);
    assert!(has(&m, "tailor_recommender_parked_entries 1"), "{m}");
    assert!(
        has(&m, "tailor_recommender_unknown_pod_reports_total 1"),
        "{m}"
    );
    for reason in ["expired", "overflow", "foreign"] {
        let line =
            format!("tailor_recommender_parked_entries_dropped_total{{reason=\"{reason}\"}} 0");
        assert!(has(&m, &line), "{line}: {m}");
    }
}

#[tokio::test]
async fn a_new_pods_first_interval_and_startup_oom_apply_once_it_is_known() {
    let f = fixture();
    // The pod OOMs at start-up: the urgent event and then the summary of that interval (which counts the kill
    // again) arrive before the pod watch has told the recommender about the pod.
    let woken = f.shared.urgent.notified();
    let (status, text) = post(
        &f.router,
        Some("good-a"),
        json(&urgent("node-a", 1, vec![oom_of("uid-3", T0 + 5_000)])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"ooms\":0") && text.contains("\"parked_ooms\":1"),
        "{text}"
    );
    tokio::time::timeout(std::time::Duration::from_secs(1), woken)
        .await
        .expect("a parked OOM wakes the pass, which retries owner resolution");
    let mut summary = container("uid-3", "db-uid-3");
    summary.memory.oom_kills = 1;
    summary.memory.limit_bytes = Some(256 << 20);
    let periodic = report("node-a", 2, vec![summary]);
    let (status, text) = post(&f.router, Some("good-a"), json(&periodic)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"containers\":0") && text.contains("\"parked\":1"),
        "{text}"
    );
    assert!(f.shared.model().is_empty(), "nothing applied yet");

    pod_watch_applies(&f, pod("uid-3", "node-a", "db")).await;
    assert!(
        cpu_weight(&f, &db_app()) > 0.0,
        "the first interval applied"
    );
    assert_eq!(oom_floor(&f), Some(356 << 20), "the start-up OOM recorded");
    assert!(f.shared.parked().is_empty());
    let m = metrics_text(&f.registry);
    for line in [
        "tailor_recommender_container_reports_total 1",
        "tailor_recommender_oom_events_total 1",
        "tailor_recommender_oom_kills_recovered_total 0",
        "tailor_recommender_parked_entries 0",
    ] {
        assert!(has(&m, line), "{line}: {m}");
    }

    // Taken up once: another pod update or pass finds nothing, a retried report is a duplicate, and the same
    // interval under a new sequence number is refused as covered.
    let weight = cpu_weight(&f, &db_app());
    pod_watch_applies(&f, pod("uid-3", "node-a", "db")).await;
    let again = apply::unpark_all(&f.shared, Timestamp::from_unix_millis(NOW));
    assert_eq!(again, apply::Applied::default());
    let (_, text) = post(
        &f.router,
        Some("good-a"),
        json(&urgent("node-a", 1, vec![oom_of("uid-3", T0 + 5_000)])),
    )
    .await;
    assert!(text.contains("duplicate"), "{text}");
    let (_, text) = post(
        &f.router,
        Some("good-a"),
        json(&NodeReport {
            sequence: 3,
            ..periodic
        }),
    )
    .await;
    assert!(
        text.contains("\"containers\":0") && text.contains("\"skipped\":1"),
        "{text}"
    );
    assert_eq!(cpu_weight(&f, &db_app()), weight);
    let m = metrics_text(&f.registry);
    assert!(
        has(&m, "tailor_recommender_oom_events_total 1"),
        "exactly one OOM: {m}"
    );
    assert!(
        has(&m, "tailor_recommender_container_reports_total 1"),
        "{m}"
    );
}

#[tokio::test]
async fn a_later_report_takes_up_the_parked_interval_first() {
    let f = fixture();
    let first = report("node-a", 1, vec![container("uid-3", "db-uid-3")]);
    let (_, text) = post(&f.router, Some("good-a"), json(&first)).await;
    assert!(text.contains("\"parked\":1"), "{text}");
    // The pod becomes known, and the agent's next interval arrives before the watch handler takes the parked one
    // up: the parked interval must still go first, or it would be refused as covered by the later one.
    f.shared
        .pods_mut()
        .apply(&pod("uid-3", "node-a", "db"), &NoLookup);
    let mut next = container("uid-3", "db-uid-3");
    next.interval_start_ms = T0 + 10_000;
    next.interval_end_ms = T0 + 20_000;
    let (status, text) = post(
        &f.router,
        Some("good-a"),
        json(&report("node-a", 2, vec![next])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"containers\":2")
            && text.contains("\"unparked\":1")
            && text.contains("\"skipped\":0"),
        "{text}"
    );
}

/// Resolves ReplicaSet `web-abc` to Deployment `web`, as the owner stores do once their watch has it.
struct Resolved;

impl OwnerLookup for Resolved {
    fn owner_references(&self, kind: &str, _: &str, name: &str) -> Option<Vec<OwnerReference>> {
        (kind == "ReplicaSet" && name == "web-abc").then(|| {
            vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "web".into(),
                uid: "d".into(),
                controller: Some(true),
                block_owner_deletion: None,
            }]
        })
    }
}

#[tokio::test]
async fn entries_wait_for_the_owner_and_the_pass_applies_them() {
    let f = fixture();
    let mut p = pod("uid-4", "node-a", "web");
    p.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web-abc".into(),
        uid: "rs".into(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    // Known pod, owner not resolvable yet (the ReplicaSet watch lags).
    pod_watch_applies(&f, p).await;
    assert!(
        f.shared
            .pods()
            .get("uid-4")
            .is_some_and(|p| p.workload.is_none())
    );
    let r = report("node-a", 1, vec![container("uid-4", "web-uid-4")]);
    let (_, text) = post(&f.router, Some("good-a"), json(&r)).await;
    assert!(text.contains("\"parked\":1"), "{text}");

    // What the pass does first: retry owner resolution, then take parked entries up.
    f.shared.pods_mut().resolve_pending(&Resolved);
    let applied = apply::unpark_all(&f.shared, Timestamp::from_unix_millis(NOW));
    assert_eq!((applied.containers, applied.unparked), (1, 1));
    let web = ContainerKey::new(
        WorkloadKey::new("shop", WorkloadKind::Deployment, "web"),
        "app",
    );
    assert!(cpu_weight(&f, &web) > 0.0);
    assert!(f.shared.parked().is_empty());
}

#[tokio::test]
async fn parked_entries_of_a_pod_on_another_node_are_dropped() {
    let f = fixture();
    let r = NodeReport {
        events: vec![oom_of("uid-5", T0 + 5_000)],
        ..report("node-a", 1, vec![container("uid-5", "db-uid-5")])
    };
    let (_, text) = post(&f.router, Some("good-a"), json(&r)).await;
    assert!(text.contains("\"parked\":2"), "{text}");
    // The pod turns out to run on node-b: node-a's agent could not have seen it.
    pod_watch_applies(&f, pod("uid-5", "node-b", "db")).await;
    assert!(f.shared.model().is_empty());
    assert!(f.shared.parked().is_empty());
    let m = metrics_text(&f.registry);
    assert!(
        has(
            &m,
            "tailor_recommender_parked_entries_dropped_total{reason=\"foreign\"} 2"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn parked_entries_expire() {
    let f = fixture();
    let r = report("node-a", 1, vec![container("uid-6", "db-uid-6")]);
    let (_, text) = post(&f.router, Some("good-a"), json(&r)).await;
    assert!(text.contains("\"parked\":1"), "{text}");
    let later = Timestamp::from_unix_millis(NOW + super::parked::MAX_AGE_MS + 1);
    let applied = apply::unpark_all(&f.shared, later);
    record(&f.metrics, &f.shared, &applied);
    let m = metrics_text(&f.registry);
    assert!(
        has(
            &m,
            "tailor_recommender_parked_entries_dropped_total{reason=\"expired\"} 1"
        ),
        "{m}"
    );
    assert!(has(&m, "tailor_recommender_parked_entries 0"), "{m}");
}
