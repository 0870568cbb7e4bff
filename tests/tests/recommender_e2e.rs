//! The real recommender against a real control plane with a simulated kubelet. Reports are posted to its HTTPS
//! endpoint as the node-agent posts them, authenticated with a real pod-bound ServiceAccount token (TokenReview
//! by the real API server, node claim included). Shown: a served VPA gets a recommendation within two report
//! intervals; a report from the wrong node is refused; an OOM kill raises the memory target within 5 s; after
//! the recommender is stopped and started again (history from its checkpoint ConfigMap) the recommendation is
//! unchanged.

mod sim_common;
mod updater_common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use sim_common::Sim;
use tailor_core::report::*;
use tailor_k8s::admin::Readiness;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::shutdown::CancellationToken;
use tailor_tests::ControlPlane;
use updater_common::{NS, create_deployment, deployment, install_vpa_crd, ready_pods, wait_for};

const AGENT_NS: &str = "tailor-system";
const AGENT_SA: &str = "tailor-node-agent";
const AUDIENCE: &str = "tailor-recommender";

fn free_addr() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

struct Recommender {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<()>>,
    url: String,
}

impl Recommender {
    fn start(client: &kube::Client) -> Result<Self> {
        let (listen, admin) = (free_addr()?, free_addr()?);
        let args = tailor_recommender::args::Args::parse_from_iter([
            "tailor-recommender",
            "--insecure-http",
            &format!("--listen-addr={listen}"),
            &format!("--admin-addr={admin}"),
            &format!("--agent-service-account={AGENT_NS}:{AGENT_SA}"),
            &format!("--token-audience={AUDIENCE}"),
            "--checkpoint-namespace=tailor-system",
            "--recommendation-interval-seconds=1",
            "--checkpoint-interval-seconds=2",
        ])?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(tailor_recommender::run::serve(
            args,
            client.clone(),
            Readiness::new(),
            stop.clone(),
        ));
        Ok(Self {
            stop,
            task,
            url: format!("http://{listen}/v1/reports"),
        })
    }

    async fn stop(self) -> Result<()> {
        self.stop.cancel();
        self.task.await??;
        Ok(())
    }
}

/// Creates the agent's namespace and ServiceAccount (ignoring "already exists").
async fn agent_account(client: &kube::Client) -> Result<()> {
    let _ = Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": AGENT_NS}}))?,
        )
        .await;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), AGENT_NS);
    let _ = sas
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": AGENT_SA}}))?,
        )
        .await;
    Ok(())
}

/// A token for the node-agent ServiceAccount bound to `pod` (so it carries the pod's node as a claim).
async fn bound_token(client: &kube::Client, pod: &Pod) -> Result<String> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), AGENT_NS);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![AUDIENCE.into()],
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
            expiration_seconds: Some(3600),
        },
        ..TokenRequest::default()
    };
    let response = sas
        .create_token_request(AGENT_SA, &PostParams::default(), &request)
        .await?;
    response.status.map(|s| s.token).context("no token")
}

fn container(pod: &Pod, start_ms: i64, millicores: u64, memory: u64) -> ContainerReport {
    ContainerReport {
        container: ContainerRef {
            namespace: NS.into(),
            pod: pod.metadata.name.clone().unwrap_or_default(),
            pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
            container: "app".into(),
            container_id: "c1".into(),
        },
        interval_start_ms: start_ms,
        interval_end_ms: start_ms + 10_000,
        samples: 10,
        startup: false,
        started_ms: None,
        cpu: CpuSummary {
            usage_usec: millicores * 10_000,
            max_millicores: millicores,
            histogram: BTreeMap::from([(cpu_bucket_for_millicores(millicores), 10)]),
            ..CpuSummary::default()
        },
        memory: MemorySummary {
            working_set_peak_bytes: memory,
            working_set_last_bytes: memory,
            current_peak_bytes: memory,
            ..MemorySummary::default()
        },
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(0)
}

async fn post(url: &str, token: &str, report: &NodeReport) -> Result<u16> {
    let client = reqwest_like::Client::new();
    client.post(url, token, &serde_json::to_vec(report)?).await
}

/// A minimal HTTP/1.1 client over a TCP stream (the test needs one POST; no extra dependency).
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
    }
}

fn report(node: &str, sequence: u64, containers: Vec<ContainerReport>) -> NodeReport {
    NodeReport {
        version: REPORT_VERSION,
        node: node.into(),
        agent_id: "e2e-agent".into(),
        sequence,
        created_ms: now_ms(),
        kind: ReportKind::Periodic,
        containers,
        events: vec![],
    }
}

async fn target(client: &kube::Client, name: &str) -> Result<Option<(String, String)>> {
    let vpa = Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
        .get(name)
        .await?;
    let rec = vpa.status.and_then(|s| s.recommendation);
    Ok(rec
        .and_then(|r| {
            r.container_recommendations
                .into_iter()
                .find(|c| c.container_name == "app")
        })
        .map(|c| {
            let get = |k: &str| c.target.get(k).map(|q| q.0.clone()).unwrap_or_default();
            (get("cpu"), get("memory"))
        }))
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

    // The agent's own pod on the same node (a token can only be bound to a pod of its ServiceAccount's
    // namespace), so its token carries that node.
    let agent_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "agent", "namespace": AGENT_NS},
        "spec": {"nodeName": node, "serviceAccountName": AGENT_SA,
                 "containers": [{"name": "agent", "image": "registry.invalid/agent:1"}]}
    }))?;
    agent_account(&client).await?;
    let agent_pod = wait_for("agent pod created", Duration::from_secs(30), || {
        let (api, p) = (
            Api::<Pod>::namespaced(client.clone(), AGENT_NS),
            agent_pod.clone(),
        );
        async move { Ok(api.create(&PostParams::default(), &p).await.ok()) }
    })
    .await?;
    let token = bound_token(&client, &agent_pod).await?;

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
