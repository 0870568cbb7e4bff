//! The whole pipeline on one machine: control plane, shipped CRDs and RBAC, simulated kubelet with its nodes,
//! one node-agent per node, the recommender (HTTPS, audience-bound tokens) and the updater, each acting with its
//! own ServiceAccount. [`Stack::start`] brings it up in dependency order; [`Stack::stop`] tears it down.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_k8s::shutdown::CancellationToken;
use tailor_sim::kubelet::{Clients, SimView};
use tailor_tests::ControlPlane;

use crate::DemoError;
use crate::components::{self, Kind, Launch, Running, Spec};
use crate::manifests::{self, SYSTEM_NAMESPACE};
use crate::tls::{self, ServingCert};
use crate::workloads::{WORKLOAD_NAMESPACE, Workload};

/// The audience node-agent tokens are bound to and the recommender checks.
pub const TOKEN_AUDIENCE: &str = "tailor-recommender";
const NODE_AGENT_SA: &str = "tailor-node-agent";
const RECOMMENDER_SA: &str = "tailor-recommender";
const UPDATER_SA: &str = "tailor-updater";
const TOKEN_SECONDS: i64 = 24 * 3600;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What to start and how fast things move.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub launch: Launch,
    /// Simulated node names.
    pub nodes: Vec<String>,
    pub node_cpu: String,
    pub node_memory: String,
    /// Simulator tick (cgroup files rewritten, resizes carried out).
    pub sim_tick_ms: u64,
    pub sample_interval_ms: u64,
    pub report_interval_ms: u64,
    pub recommendation_interval_seconds: u64,
    pub updater_interval_seconds: u64,
    /// Seconds after a resize before the updater may size down again.
    pub down_cooldown_seconds: u32,
    /// Per workload: one more resize every this many milliseconds.
    pub workload_interval_ms: u64,
    /// Seconds a container counts as starting (its samples stay out of the steady-state histogram).
    pub startup_window_seconds: u64,
    /// Run the recommender with memory limits apart from requests (`--memory-limit-policy from-peaks
    /// --memory-request-from-samples`) and apply the opt-in RBAC of `deploy/recommender/memory-limits`.
    pub memory_limits: bool,
}

impl StackOptions {
    /// Two 4-CPU/8 GiB nodes and intervals short enough that the pipeline acts within a minute.
    pub fn new(launch: Launch) -> Self {
        Self {
            launch,
            nodes: vec!["sim-a".to_owned(), "sim-b".to_owned()],
            node_cpu: "4".to_owned(),
            node_memory: "8Gi".to_owned(),
            sim_tick_ms: 500,
            sample_interval_ms: 1_000,
            report_interval_ms: 5_000,
            recommendation_interval_seconds: 5,
            updater_interval_seconds: 3,
            down_cooldown_seconds: 30,
            workload_interval_ms: 5_000,
            startup_window_seconds: 30,
            memory_limits: false,
        }
    }
}

/// A running pipeline. Dropping it kills everything too; [`Stack::stop`] stops it gracefully.
pub struct Stack {
    // Field order matters on drop: components and simulator before the control plane, the dir last.
    components: Vec<Running>,
    sim_stop: CancellationToken,
    sim_task: Option<tokio::task::JoinHandle<Result<(), tailor_sim::kubelet::SimError>>>,
    sim_view: SimView,
    cp: ControlPlane,
    admin: kube::Client,
    cgroup_root: tempfile::TempDir,
    cert: ServingCert,
    recommender_url: String,
    dir: PathBuf,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("components", &self.components)
            .field("cp", &self.cp)
            .field("recommender_url", &self.recommender_url)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.sim_stop.cancel();
        if let Some(task) = self.sim_task.take() {
            task.abort();
        }
    }
}

fn free_addr() -> Result<SocketAddr, DemoError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(DemoError::io("127.0.0.1:0"))
}

impl Stack {
    /// Starts everything; `dir` receives the logs, certificates and tokens. `progress` is told each step.
    pub async fn start(
        options: &StackOptions,
        dir: &Path,
        mut progress: impl FnMut(&str),
    ) -> Result<Self, DemoError> {
        tailor_tests::install_crypto_provider();
        std::fs::create_dir_all(dir).map_err(DemoError::io(dir))?;
        progress(
            "starting the control plane (etcd, kube-apiserver, controller manager, scheduler)",
        );
        let cp = ControlPlane::start().await?;
        let admin = cp.admin_client().await?;

        progress("applying deploy/crds and the components' ServiceAccounts and RBAC");
        manifests::ensure_namespace(&admin, SYSTEM_NAMESPACE).await?;
        let optional = options
            .memory_limits
            .then(|| manifests::deploy_dir().join("recommender/memory-limits/rbac.yaml"));
        for file in manifests::shipped_files().into_iter().chain(optional) {
            manifests::apply_file(&admin, &file).await?;
        }
        wait_for_vpa_api(&admin).await?;

        progress("starting the simulated kubelet");
        let cgroup_root = tempfile::Builder::new()
            .prefix("tailor-demo-cgroup-")
            .tempdir_in(tailor_sim::cgroup::tree::scratch_parent())
            .map_err(DemoError::io("cgroup scratch dir"))?;
        let mut clients = BTreeMap::new();
        for node in &options.nodes {
            clients.insert(node.clone(), cp.node_client(node).await?);
        }
        let sim_args = tailor_sim::cli::Args::parse_from_iter([
            "tailor-sim-kubelet".to_owned(),
            format!("--node-names={}", options.nodes.join(",")),
            format!("--cpu={}", options.node_cpu),
            format!("--memory={}", options.node_memory),
            format!("--cgroup-root={}", cgroup_root.path().display()),
            "--start-delay-ms=500".to_owned(),
            "--ready-delay-ms=1000".to_owned(),
            "--crash-backoff-ms=3000".to_owned(),
            format!("--tick-ms={}", options.sim_tick_ms),
        ])
        .map_err(|e| DemoError::component("sim", e))?;
        let sim_config = sim_args
            .to_config()
            .map_err(|e| DemoError::component("sim", e))?;
        let sim_view = SimView::default();
        let sim_stop = CancellationToken::new();
        let sim_task = tokio::spawn(tailor_sim::kubelet::run(
            Clients::PerNode(clients),
            sim_config,
            sim_view.clone(),
            sim_stop.clone().cancelled_owned(),
        ));

        let cert = tls::generate(dir)?;
        let listen = free_addr()?;
        let recommender_url = format!("https://127.0.0.1:{}/v1/reports", listen.port());
        let mut stack = Self {
            components: Vec::new(),
            sim_stop,
            sim_task: Some(sim_task),
            sim_view,
            cp,
            admin,
            cgroup_root,
            cert,
            recommender_url,
            dir: dir.to_path_buf(),
        };

        progress("starting the recommender (HTTPS, TokenReview of node-agent tokens)");
        let spec = stack.recommender_spec(options, listen).await?;
        stack.launch(options, spec).await?;
        wait_for_port(listen, &mut stack.components).await?;

        for node in &options.nodes {
            progress(&format!("starting the node-agent of {node}"));
            let spec = stack.node_agent_spec(options, node).await?;
            stack.launch(options, spec).await?;
        }

        progress("starting the updater");
        let spec = stack.updater_spec(options).await?;
        stack.launch(options, spec).await?;
        stack.check()?;
        Ok(stack)
    }

    async fn launch(&mut self, options: &StackOptions, spec: Spec) -> Result<(), DemoError> {
        let running = components::start(&options.launch, &spec, &self.dir).await?;
        self.components.push(running);
        Ok(())
    }

    async fn recommender_spec(
        &self,
        options: &StackOptions,
        listen: SocketAddr,
    ) -> Result<Spec, DemoError> {
        let kubeconfig = self
            .cp
            .service_account_kubeconfig(SYSTEM_NAMESPACE, RECOMMENDER_SA)
            .await?;
        Ok(Spec {
            kind: Kind::Recommender,
            label: "recommender".to_owned(),
            args: vec![
                format!("--listen-addr={listen}"),
                format!("--admin-addr={}", free_addr()?),
                format!("--tls-cert={}", self.cert.cert.display()),
                format!("--tls-key={}", self.cert.key.display()),
                format!("--agent-service-account={SYSTEM_NAMESPACE}:{NODE_AGENT_SA}"),
                format!("--token-audience={TOKEN_AUDIENCE}"),
                format!("--checkpoint-namespace={SYSTEM_NAMESPACE}"),
                format!(
                    "--recommendation-interval-seconds={}",
                    options.recommendation_interval_seconds
                ),
                "--checkpoint-interval-seconds=30".to_owned(),
                "--log-format=text".to_owned(),
                "--log-level=info".to_owned(),
            ]
            .into_iter()
            .chain(
                options
                    .memory_limits
                    .then(|| {
                        [
                            "--memory-limit-policy=from-peaks".to_owned(),
                            "--memory-request-from-samples".to_owned(),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
            .collect(),
            kubeconfig,
        })
    }

    /// The node-agent of `node`: a placeholder pod on that node stands for its DaemonSet pod, so its report
    /// token is bound to a pod on the node (the recommender only accepts reports about the token's node).
    async fn node_agent_spec(&self, options: &StackOptions, node: &str) -> Result<Spec, DemoError> {
        let pod_name = format!("tailor-node-agent-{node}");
        let pod = agent_pod(&self.admin, &pod_name, node).await?;
        let token = bound_token(&self.admin, &pod).await?;
        let token_file = self.dir.join(format!("node-agent-{node}.token"));
        write_private(&token_file, &token)?;
        let kubeconfig = self
            .cp
            .service_account_kubeconfig(SYSTEM_NAMESPACE, NODE_AGENT_SA)
            .await?;
        Ok(Spec {
            kind: Kind::NodeAgent,
            label: format!("node-agent-{node}"),
            args: vec![
                format!("--node-name={node}"),
                format!("--pod-name={pod_name}"),
                format!(
                    "--cgroup-root={}",
                    tailor_sim::kubelet::node_cgroup_root(self.cgroup_root.path(), node).display()
                ),
                format!("--sample-interval-ms={}", options.sample_interval_ms),
                format!("--report-interval-ms={}", options.report_interval_ms),
                format!("--rediscover-interval-ms={}", options.report_interval_ms),
                format!(
                    "--startup-window-seconds={}",
                    options.startup_window_seconds
                ),
                format!("--recommender-url={}", self.recommender_url),
                format!("--ca-file={}", self.cert.ca.display()),
                format!("--token-file={}", token_file.display()),
                format!("--admin-addr={}", free_addr()?),
                "--log-format=text".to_owned(),
            ],
            kubeconfig,
        })
    }

    async fn updater_spec(&self, options: &StackOptions) -> Result<Spec, DemoError> {
        let kubeconfig = self
            .cp
            .service_account_kubeconfig(SYSTEM_NAMESPACE, UPDATER_SA)
            .await?;
        Ok(Spec {
            kind: Kind::Updater,
            label: "updater".to_owned(),
            args: vec![
                format!("--admin-addr={}", free_addr()?),
                "--log-format=text".to_owned(),
                "--log-level=info".to_owned(),
                format!("--interval-seconds={}", options.updater_interval_seconds),
                "--min-interval-ms=200".to_owned(),
                "--up-cooldown-seconds=0".to_owned(),
                format!("--down-cooldown-seconds={}", options.down_cooldown_seconds),
                format!("--workload-interval-ms={}", options.workload_interval_ms),
                format!("--boost-max-seconds={}", 120),
            ],
            kubeconfig,
        })
    }

    /// Creates the demo's Deployments and VPAs.
    pub async fn deploy(&self, workloads: &[Workload]) -> Result<(), DemoError> {
        for w in workloads {
            manifests::apply_value(&self.admin, &w.vpa()).await?;
        }
        for w in workloads {
            let deployment = w.deployment();
            // The namespace's default ServiceAccount appears shortly after start-up; retry until it does.
            retry("creating a Deployment", || {
                manifests::apply_value(&self.admin, &deployment)
            })
            .await?;
        }
        Ok(())
    }

    /// `Err` if a component or the simulator stopped on its own.
    pub fn check(&mut self) -> Result<(), DemoError> {
        if self.sim_task.as_ref().is_some_and(|t| t.is_finished()) {
            return Err(DemoError::component("sim", "the simulated kubelet stopped"));
        }
        for c in &mut self.components {
            c.check()?;
        }
        Ok(())
    }

    /// Stops the updater, node-agents and recommender (SIGTERM, in reverse start order), then the simulator
    /// and the control plane. Returns the first error after trying everything.
    pub async fn stop(mut self) -> Result<(), DemoError> {
        let mut first = None;
        while let Some(c) = self.components.pop() {
            if let Err(e) = c.stop().await {
                first.get_or_insert(e);
            }
        }
        self.sim_stop.cancel();
        if let Some(task) = self.sim_task.take()
            && let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(10), task).await
        {
            first.get_or_insert(DemoError::component("sim", e));
        }
        drop(self);
        first.map_or(Ok(()), Err)
    }

    pub fn admin_client(&self) -> kube::Client {
        self.admin.clone()
    }

    pub fn control_plane(&self) -> &ControlPlane {
        &self.cp
    }

    /// The simulator's live view (ground truth per container).
    pub fn sim_view(&self) -> &SimView {
        &self.sim_view
    }

    /// The root under which each node's cgroup tree lives (`<root>/<node>`).
    pub fn cgroup_root(&self) -> &Path {
        self.cgroup_root.path()
    }

    /// The components' log files (processes only).
    pub fn logs(&self) -> Vec<(String, PathBuf)> {
        self.components
            .iter()
            .filter_map(|c| c.log.clone().map(|l| (c.label.clone(), l)))
            .collect()
    }

    /// The last lines of every component's log.
    pub fn log_tails(&self, lines: usize) -> String {
        self.components.iter().map(|c| c.log_tail(lines)).collect()
    }
}

async fn wait_for_vpa_api(admin: &kube::Client) -> Result<(), DemoError> {
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(admin.clone(), WORKLOAD_NAMESPACE);
    retry("the VPA API to be served", || async {
        vpas.list(&ListParams::default())
            .await
            .map(|_| ())
            .map_err(DemoError::kube("listing VPAs"))
    })
    .await
}

/// Calls `f` every 250 ms until it succeeds, for up to a minute; then returns its last error.
async fn retry<F, Fut>(what: &str, mut f: F) -> Result<(), DemoError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), DemoError>>,
{
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match f().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                tracing::warn!(error = %e, "{what}: giving up");
                return Err(e);
            }
            Err(e) => tracing::debug!(error = %e, "{what}: retrying"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_for_port(addr: SocketAddr, components: &mut [Running]) -> Result<(), DemoError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        for c in components.iter_mut() {
            c.check()?;
        }
        if Instant::now() > deadline {
            return Err(DemoError::Timeout {
                what: format!("the recommender to listen on {addr}"),
                seconds: READY_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// The pod standing for the node-agent's DaemonSet pod on `node` (bound directly, run by the simulator).
async fn agent_pod(admin: &kube::Client, name: &str, node: &str) -> Result<Pod, DemoError> {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), SYSTEM_NAMESPACE);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "tailor-node-agent"},
                     "annotations": {tailor_sim::workload::WORKLOAD_ANNOTATION:
                         r#"{"kind":"constant","cpu":"20m","memory":"24Mi"}"#}},
        "spec": {
            "nodeName": node,
            "serviceAccountName": NODE_AGENT_SA,
            "containers": [{"name": "node-agent", "image": "registry.invalid/tailor/node-agent:demo",
                            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"},
                                          "limits": {"cpu": "200m", "memory": "64Mi"}}}]
        }
    }))
    .map_err(|e| DemoError::component("node-agent pod", e))?;
    pods.create(&PostParams::default(), &pod)
        .await
        .map_err(DemoError::kube(format!("creating pod {name}")))
}

/// A token of the node-agent ServiceAccount for the recommender's audience, bound to `pod` (so it carries the
/// pod's node as a claim, as a kubelet-projected token does).
async fn bound_token(admin: &kube::Client, pod: &Pod) -> Result<String, DemoError> {
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), SYSTEM_NAMESPACE);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![TOKEN_AUDIENCE.to_owned()],
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
            expiration_seconds: Some(TOKEN_SECONDS),
        },
        ..TokenRequest::default()
    };
    let response = sas
        .create_token_request(NODE_AGENT_SA, &PostParams::default(), &request)
        .await
        .map_err(DemoError::kube("requesting a pod-bound node-agent token"))?;
    response
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| DemoError::component("node-agent", "TokenRequest returned no token"))
}

fn write_private(path: &Path, contents: &str) -> Result<(), DemoError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(DemoError::io(path))?;
    f.write_all(contents.as_bytes())
        .map_err(DemoError::io(path))
}
