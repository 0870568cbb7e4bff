//! The real recommender against a real control plane with a simulated kubelet. Reports are posted to its HTTPS
//! endpoint as the node-agent posts them, authenticated with a real pod-bound ServiceAccount token (TokenReview
//! by the real API server, node claim included). Shown: a served VPA gets a recommendation within two report
//! intervals; a report from the wrong node is refused; an OOM kill raises the memory target within 5 s; after
//! the recommender is stopped and started again (history from its checkpoint ConfigMap) the recommendation is
//! unchanged.

mod recommender_common;
mod sim_common;
mod updater_common;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use kube::api::{Api, Patch, PatchParams, PostParams};
use recommender_common::*;
use serde_json::json;
use sim_common::Sim;
use tailor_core::report::*;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_tests::ControlPlane;
use updater_common::{NS, create_deployment, deployment, install_vpa_crd, ready_pods, wait_for};

async fn post(url: &str, token: &str, report: &NodeReport) -> Result<u16> {
    let client = reqwest_like::Client::new();
    client.post(url, token, &serde_json::to_vec(report)?).await
}

/// A minimal HTTP/1.1 client over a TCP stream (the test needs a POST and a scrape; no extra dependency).
mod reqwest_like {
    use anyhow::{Context, Result};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub struct Client;

    impl Client {
        pub fn new() -> Self {
            Self
        }

        pub async fn post(&self, url: &str, token: &str, body: &[u8]) -> Result<u16> {
            let rest = url.strip_prefix("http://").context("http url")?;
            let (host, path) = rest.split_once('/').context("path")?;
            let mut stream = tokio::net::TcpStream::connect(host).await?;
            let head = format!(
                "POST /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            let code = response.split_whitespace().nth(1).context("status line")?;
            Ok(code.parse()?)
        }

        pub async fn get(&self, host: &str, path: &str) -> Result<String> {
            let mut stream = tokio::net::TcpStream::connect(host).await?;
            let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            let (_, body) = response.split_once("\r\n\r\n").context("headers")?;
            Ok(body.to_owned())
        }
    }
}

#[tokio::test]
async fn recommendations_follow_reports_ooms_and_survive_restarts() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-r1", "sim-r2"], "4", "8Gi").await?;
    install_vpa_crd(&client).await?;

    let res = json!({"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(&client, deployment("web", 1, res, "NotRequired", workload)?).await?;
    let pod = ready_pods(&client, "web", 1).await?.remove(0);
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .context("scheduled")?;
    let other_node = if node == "sim-r1" { "sim-r2" } else { "sim-r1" };

    let token = agent_token_on(&client, &node).await?;

    let vpa: VerticalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "updatePolicy": {"updateMode": "Off"}, "recommenders": [{"name": "tailor"}]}
    }))?;
    Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &vpa)
        .await?;

    let rec = Recommender::start(&client)?;
    // Two report intervals (10 s each) of history, posted as the agent would.
    let t0 = now_ms() - 20_000;
    let mut seq = 0;
    let started = std::time::Instant::now();
    let mut status = 0;
    for attempt in 0..120 {
        seq += 1;
        let r = report(
            &node,
            seq,
            vec![container(
                &pod,
                t0 + i64::from(attempt) * 10,
                200,
                100 << 20,
            )],
        );
        status = post(&rec.url, &token, &r).await.unwrap_or(0);
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(status == 200, "report accepted (last status {status})");
    seq += 1;
    let second = report(
        &node,
        seq,
        vec![container(&pod, t0 + 10_000, 200, 100 << 20)],
    );
    ensure!(post(&rec.url, &token, &second).await? == 200);

    let first = wait_for("first recommendation", Duration::from_secs(20), || {
        target(&client, "web")
    })
    .await?;
    println!(
        "first recommendation {first:?} after {:?}",
        started.elapsed()
    );
    ensure!(
        started.elapsed() < Duration::from_secs(20),
        "within two report intervals"
    );
    // Entries that arrived before the pod and its owner were known waited for them instead of being lost.
    let metrics = reqwest_like::Client::new()
        .get(&rec.admin.to_string(), "/metrics")
        .await?;
    let series = |name: &str| {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    println!(
        "parked before attribution: {:?}",
        series("tailor_recommender_unknown_pod_reports_total")
    );
    let dropped = series("tailor_recommender_parked_entries_dropped_total");
    ensure!(
        dropped.len() == 3 && dropped.iter().all(|l| l.ends_with(" 0")),
        "no parked entry dropped: {dropped:?}"
    );

    // The agent on this node may not report about the node next door.
    seq += 1;
    let wrong = report(
        other_node,
        seq,
        vec![container(&pod, t0 + 20_000, 200, 100 << 20)],
    );
    ensure!(
        post(&rec.url, &token, &wrong).await? == 403,
        "report for another node refused"
    );

    // OOM kill at the 256Mi limit: the target must reach at least limit + 100Mi within 5 s.
    seq += 1;
    let mut oom = report(&node, seq, vec![]);
    oom.kind = ReportKind::Urgent;
    oom.events.push(UrgentEvent {
        container: container(&pod, 0, 0, 0).container,
        observed_ms: now_ms(),
        kind: UrgentKind::OomKill {
            count: 1,
            limit_bytes: Some(256 << 20),
            peak_bytes: 256 << 20,
        },
    });
    let oom_at = std::time::Instant::now();
    ensure!(post(&rec.url, &token, &oom).await? == 200);
    let bumped = wait_for("memory target raised", Duration::from_secs(5), || async {
        let t = target(&client, "web").await?;
        Ok(t.filter(|(_, mem)| {
            tailor_core::quantity::Bytes::parse(mem).is_ok_and(|b| b.get() >= (356 << 20))
        }))
    })
    .await?;
    println!("OOM → memory target {} in {:?}", bumped.1, oom_at.elapsed());

    // Stop (writes a last checkpoint), clear the status, start again: the same recommendation comes back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    rec.stop().await?;
    let before = target(&client, "web")
        .await?
        .context("recommendation before restart")?;
    Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"recommendation": null, "conditions": null}})),
        )
        .await?;
    ensure!(target(&client, "web").await?.is_none(), "status cleared");
    let rec = Recommender::start(&client)?;
    let after = wait_for(
        "recommendation after restart",
        Duration::from_secs(30),
        || target(&client, "web"),
    )
    .await?;
    rec.stop().await?;
    ensure!(
        before == after,
        "recommendation changed across a restart: {before:?} → {after:?}"
    );
    Ok(())
}
