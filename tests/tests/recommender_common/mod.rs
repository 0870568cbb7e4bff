//! Helpers for the recommender's end-to-end tests (`recommender_*.rs`): the real recommender in-process, the
//! node-agent's ServiceAccount with a pod-bound token, and reports shaped as the node-agent builds them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::json;
use tailor_core::report::*;
use tailor_k8s::admin::Readiness;
use tailor_k8s::crd::vpa::{RecommendedContainerResources, VerticalPodAutoscaler};
use tailor_k8s::shutdown::CancellationToken;

use crate::updater_common::{NS, wait_for};

pub const AGENT_NS: &str = "tailor-system";
pub const AGENT_SA: &str = "tailor-node-agent";
pub const AUDIENCE: &str = "tailor-recommender";

pub fn free_addr() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// The recommender running in this process (plain HTTP on loopback) until stopped.
pub struct Recommender {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<()>>,
    pub url: String,
    pub listen: SocketAddr,
    pub admin: SocketAddr,
}

impl Recommender {
    /// Starts it with the test defaults (1 s passes, 2 s checkpoints) overridden by `extra` flags.
    pub fn start_with(client: &kube::Client, extra: &[&str]) -> Result<Self> {
        let (listen, admin) = (free_addr()?, free_addr()?);
        let mut argv = vec![
            "tailor-recommender".to_owned(),
            "--insecure-http".to_owned(),
            format!("--listen-addr={listen}"),
            format!("--admin-addr={admin}"),
            format!("--agent-service-account={AGENT_NS}:{AGENT_SA}"),
            format!("--token-audience={AUDIENCE}"),
            "--checkpoint-namespace=tailor-system".to_owned(),
            "--recommendation-interval-seconds=1".to_owned(),
            "--checkpoint-interval-seconds=2".to_owned(),
        ];
        // A flag in `extra` replaces the default of the same name.
        argv.retain(|a| {
            let name = a.split('=').next().unwrap_or_default();
            !extra.iter().any(|e| e.split('=').next() == Some(name))
        });
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let args = tailor_recommender::args::Args::parse_from_iter(argv)?;
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
            listen,
            admin,
        })
    }

    pub fn start(client: &kube::Client) -> Result<Self> {
        Self::start_with(client, &[])
    }

    /// Stops it the way SIGTERM does: a last checkpoint (when leader), then the lease is released.
    pub async fn stop(self) -> Result<()> {
        self.stop.cancel();
        self.task.await??;
        Ok(())
    }
}

/// Creates the agent's namespace and ServiceAccount (ignoring "already exists").
pub async fn agent_account(client: &kube::Client) -> Result<()> {
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
pub async fn bound_token(client: &kube::Client, pod: &Pod) -> Result<String> {
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

/// The node-agent's own pod on `node` and a token bound to it (a token can only be bound to a pod of its
/// ServiceAccount's namespace; the binding puts the node into the token).
pub async fn agent_token_on(client: &kube::Client, node: &str) -> Result<String> {
    agent_account(client).await?;
    let agent_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": format!("agent-{node}"), "namespace": AGENT_NS},
        "spec": {"nodeName": node, "serviceAccountName": AGENT_SA,
                 "containers": [{"name": "agent", "image": "registry.invalid/agent:1"}]}
    }))?;
    let agent_pod = wait_for("agent pod created", Duration::from_secs(30), || {
        let (api, p) = (
            Api::<Pod>::namespaced(client.clone(), AGENT_NS),
            agent_pod.clone(),
        );
        async move { Ok(api.create(&PostParams::default(), &p).await.ok()) }
    })
    .await?;
    bound_token(client, &agent_pod).await
}

/// One 10 s summary of container `app` of `pod` at a steady `millicores` and `memory`.
pub fn container(pod: &Pod, start_ms: i64, millicores: u64, memory: u64) -> ContainerReport {
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

pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(0)
}

pub fn report(node: &str, sequence: u64, containers: Vec<ContainerReport>) -> NodeReport {
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

/// Container `app`'s recommendation in VPA `name`'s status.
pub async fn app_recommendation(
    client: &kube::Client,
    name: &str,
) -> Result<Option<RecommendedContainerResources>> {
    let vpa = Api::<VerticalPodAutoscaler>::namespaced(client.clone(), NS)
        .get(name)
        .await?;
    Ok(vpa.status.and_then(|s| s.recommendation).and_then(|r| {
        r.container_recommendations
            .into_iter()
            .find(|c| c.container_name == "app")
    }))
}

/// Container `app`'s target CPU and memory in VPA `name`'s status.
pub async fn target(client: &kube::Client, name: &str) -> Result<Option<(String, String)>> {
    Ok(app_recommendation(client, name).await?.map(|c| {
        let get = |k: &str| c.target.get(k).map(|q| q.0.clone()).unwrap_or_default();
        (get("cpu"), get("memory"))
    }))
}
