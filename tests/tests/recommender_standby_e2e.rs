//! Warm standby on the real control plane: two recommender replicas elect a leader on a Lease; the node-agent's
//! reporter (the real fan-out code) resolves one name to both replicas and posts every report to each, with a
//! pod-bound token checked by TokenReview. Only the leader writes the VPA status. When the leader stops, the
//! standby takes the lease and its first status write already has the full recommendation — the same target
//! and bounds the leader had written — although no checkpoint existed when it started (it never read the
//! leader's history from the API: it built the same history from the same reports).

mod recommender_common;
mod sim_common;
mod updater_common;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use prometheus_client::registry::Registry;
use recommender_common::*;
use serde_json::json;
use sim_common::Sim;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_node_agent::metrics::Metrics as AgentMetrics;
use tailor_node_agent::reporter::ReporterConfig;
use tailor_node_agent::reporter::fanout::{self, Endpoint, FanoutConfig, Resolve};
use tailor_tests::ControlPlane;
use updater_common::{
    NS, create_deployment, deployment, install_vpa_crd, metric, ready_pods, wait_for,
};

const SERVICE: &str = "tailor-recommender.tailor-system.test";

/// The headless Service's DNS answer: one address per recommender replica.
struct Replicas(Vec<SocketAddr>);

impl Resolve for Replicas {
    async fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
        assert_eq!(host, SERVICE);
        Ok(self.0.clone())
    }
}

fn replica(client: &kube::Client, identity: &str) -> Result<Recommender> {
    Recommender::start_with(
        client,
        &[
            "--leader-elect",
            "--lease-name=tailor-recommender-standby-e2e",
            "--lease-namespace=tailor-system",
            &format!("--identity={identity}"),
            "--lease-duration-seconds=4",
            "--lease-grace-seconds=2",
            // No checkpoint while both run: the standby can only know the history from the reports.
            "--checkpoint-interval-seconds=3600",
        ],
    )
}

async fn leader(r: &Recommender) -> Result<Option<()>> {
    Ok((metric(r.admin, "tailor_recommender_leader").await? == 1.0).then_some(()))
}

async fn applied(r: &Recommender) -> Result<f64> {
    metric(r.admin, "tailor_recommender_container_reports_total").await
}

#[tokio::test]
async fn the_standby_sees_every_report_and_takes_over_warm() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-w1"], "4", "8Gi").await?;
    install_vpa_crd(&client).await?;

    let res = json!({"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(&client, deployment("api", 1, res, "NotRequired", workload)?).await?;
    let pod = ready_pods(&client, "api", 1).await?.remove(0);
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .context("scheduled")?;
    let token = agent_token_on(&client, &node).await?;
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token)?;

    let vpa: VerticalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "api", "namespace": NS},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                 "updatePolicy": {"updateMode": "Off"}, "recommenders": [{"name": "tailor"}]}
    }))?;
    Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &vpa)
        .await?;

    // Replica A first, so it holds the lease; then B, the standby.
    let a = replica(&client, "replica-a")?;
    wait_for("A leads", Duration::from_secs(30), || leader(&a)).await?;
    let b = replica(&client, "replica-b")?;
    wait_for("B is up", Duration::from_secs(30), || async {
        Ok(
            metric(b.admin, "tailor_recommender_pass_duration_seconds_count")
                .await
                .ok()
                .filter(|n| *n >= 1.0),
        )
    })
    .await?;
    ensure!(leader(&b).await?.is_none(), "B is a standby");
    let checkpoints = Api::<ConfigMap>::namespaced(client.clone(), AGENT_NS)
        .list(&ListParams::default().labels(tailor_recommender::checkpoint::LABEL))
        .await?;
    ensure!(checkpoints.items.is_empty(), "no checkpoint exists yet");

    // The node-agent's reporter, resolving the Service name to both replicas.
    let agent_metrics = AgentMetrics::register(&mut Registry::default());
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let endpoint = Endpoint {
        url: format!("http://{SERVICE}:8443/v1/reports").parse()?,
        ca_file: None,
        token_file: Some(token_file.clone()),
        timeout: Duration::from_secs(5),
    };
    let config = FanoutConfig {
        reporter: ReporterConfig {
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_millis(500),
            ..ReporterConfig::default()
        },
        resolve_interval: Duration::from_secs(1),
        ..FanoutConfig::default()
    };
    let reporter = tokio::spawn(fanout::run(
        rx,
        endpoint,
        Replicas(vec![a.listen, b.listen]),
        config,
        agent_metrics.clone(),
    ));

    // Five minutes of history at 600m and 700Mi, as thirty 10 s summaries.
    const REPORTS: u64 = 30;
    let t0 = now_ms() - 300_000;
    for i in 0..REPORTS {
        let start = t0 + i64::try_from(i)? * 10_000;
        tx.send(report(
            &node,
            i + 1,
            vec![container(&pod, start, 600, 700 << 20)],
        ))
        .await?;
    }
    for r in [&a, &b] {
        wait_for("every report applied", Duration::from_secs(30), || async {
            Ok((applied(r).await? == REPORTS as f64).then_some(()))
        })
        .await?;
    }
    let written = wait_for(
        "the leader's recommendation",
        Duration::from_secs(20),
        || app_recommendation(&client, "api"),
    )
    .await?;
    // Let the leader settle on what the whole stream gives (a pass may have run half way through it).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let written = app_recommendation(&client, "api").await?.unwrap_or(written);
    println!("leader wrote {written:?}");
    let gauge = |r: &Recommender, resource: &'static str| {
        let admin = r.admin;
        async move {
            metric(
                admin,
                &format!(
                    "tailor_recommender_recommendation_target{{namespace=\"{NS}\",vpa=\"api\",container=\"app\",resource=\"{resource}\"}}"
                ),
            )
            .await
        }
    };
    for resource in ["cpu", "memory"] {
        let (ga, gb) = (gauge(&a, resource).await?, gauge(&b, resource).await?);
        ensure!(
            ga > 0.0 && ga == gb,
            "{resource}: leader {ga}, standby {gb}"
        );
    }
    ensure!(
        agent_metrics.reports_sent.get() == 2 * REPORTS,
        "each report delivered to both replicas: {}",
        agent_metrics.reports_sent.get()
    );

    // The leader stops; the status is cleared so that whatever appears next is the standby's first write.
    a.stop().await?;
    Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
        .patch_status(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"recommendation": null, "conditions": null}})),
        )
        .await?;
    let first = wait_for(
        "the standby's first write",
        Duration::from_secs(30),
        || async {
            let vpa = Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
                .get("api")
                .await?;
            // Any status write (even one without a recommendation, as a cold replica would make) ends the wait.
            Ok(vpa.status.filter(|s| !s.conditions.is_empty()))
        },
    )
    .await?;
    ensure!(leader(&b).await?.is_some(), "B leads now");
    let first_rec = first
        .recommendation
        .and_then(|r| {
            r.container_recommendations
                .into_iter()
                .find(|c| c.container_name == "app")
        })
        .context("the standby's first write has a recommendation (no cold start)")?;
    println!("standby's first write {first_rec:?}");
    ensure!(
        first_rec == written,
        "the standby's first write differs from the leader's:\n{first_rec:?}\n{written:?}"
    );

    drop(tx);
    reporter.await?;
    b.stop().await?;
    Ok(())
}
