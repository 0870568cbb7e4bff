//! Starting and stopping one control plane.

use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Error;
use crate::kubeconfig::{self, Credentials};
use crate::pki::Pki;
use crate::process::Process;

/// Environment variable naming the folder with `etcd`, `kube-apiserver`, `kube-controller-manager` and
/// `kube-scheduler`. Relative paths are taken from the workspace root.
pub const BIN_DIR_ENV: &str = "TAILOR_CONTROLPLANE_BIN";

/// Set to `1` to keep each control plane's temp dir (logs, certificates, kubeconfigs) after it stops.
pub const KEEP_DIR_ENV: &str = "TAILOR_KEEP_CONTROLPLANE";

/// The binaries [`ControlPlane::start`] needs in the bin folder.
pub const BINARIES: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// The Service CIDR given to the API server and the controller manager.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";

/// The `iss` claim (and default audience) of ServiceAccount tokens.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Lifetime requested for ServiceAccount tokens minted by the harness (they must outlive any test).
const TOKEN_SECONDS: i64 = 24 * 3600;
const POLL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 40;
const PORT_RACE_ATTEMPTS: u32 = 3;

/// The folder with the control-plane binaries: `$TAILOR_CONTROLPLANE_BIN`, or
/// `<workspace>/.build/controlplane/bin` where `make controlplane` puts them.
pub fn default_bin_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .to_path_buf();
    match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root.join(dir),
        None => root.join(".build/controlplane/bin"),
    }
}

/// Wall time of each start-up phase; the phases run one after the other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartupTimes {
    /// Certificates, temp dir and etcd until `/health` is true.
    pub etcd: Duration,
    /// kube-apiserver until `/readyz` is ok (RBAC bootstrap, priority classes…).
    pub apiserver: Duration,
    /// Controller manager and scheduler until ServiceAccount `default/default` exists.
    pub controllers: Duration,
    /// All of the above.
    pub total: Duration,
}

/// How to start a control plane. `Options::default()` is what [`ControlPlane::start`] uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder with the binaries; see [`default_bin_dir`].
    pub bin_dir: PathBuf,
    /// Upper bound for each start-up phase (etcd healthy, API ready, controllers running).
    pub timeout: Duration,
    /// Extra `--flag=value` arguments for kube-apiserver (e.g. feature gates).
    pub extra_apiserver_args: Vec<String>,
    /// Extra `--flag=value` arguments for kube-controller-manager.
    pub extra_controller_manager_args: Vec<String>,
    /// Extra `--flag=value` arguments for kube-scheduler.
    pub extra_scheduler_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bin_dir: default_bin_dir(),
            // Generous: a loaded 2-core CI machine may run several test binaries at once.
            timeout: Duration::from_secs(120),
            extra_apiserver_args: Vec::new(),
            extra_controller_manager_args: Vec::new(),
            extra_scheduler_args: Vec::new(),
        }
    }
}

/// A running etcd + kube-apiserver + kube-controller-manager + kube-scheduler on 127.0.0.1, with TLS,
/// `Node,RBAC` authorization, the default admission plugins plus NodeRestriction, and
/// ServiceAccount token signing. Everything runs from a private temp dir and is killed (and the
/// dir removed) when this value drops, also when a test panics. On drop the components' log tails
/// go to stderr, which `cargo test` shows only for failing tests.
#[derive(Debug)]
pub struct ControlPlane {
    // Field order matters: processes must die before the temp dir is removed.
    processes: Vec<Process>,
    pki: Pki,
    api_url: String,
    admin_kubeconfig: PathBuf,
    startup: StartupTimes,
    dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts a control plane with [`Options::default`] and waits until it is usable: API ready,
    /// controller manager running (the `default` ServiceAccount exists).
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(Options::default()).await
    }

    /// Starts a control plane with the given options; see [`ControlPlane::start`].
    pub async fn start_with(options: Options) -> Result<Self, Error> {
        let mut attempt = 1;
        loop {
            match Self::start_once(&options).await {
                // Free ports are chosen before the components bind them, so a parallel test can
                // take one in between; that start-up is thrown away and repeated on new ports.
                Err(Error::Exited { log_tail, .. })
                    if attempt < PORT_RACE_ATTEMPTS
                        && log_tail.contains("address already in use") =>
                {
                    tracing::warn!(
                        attempt,
                        "a control-plane port was taken meanwhile; retrying"
                    );
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(options: &Options) -> Result<Self, Error> {
        let begin = Instant::now();
        let binary = |name: &str| options.bin_dir.join(name);
        let missing: Vec<String> = BINARIES
            .iter()
            .filter(|b| !is_executable(&binary(b)))
            .map(|b| b.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingBinaries {
                dir: options.bin_dir.clone(),
                missing,
            });
        }

        let dir = tempfile::Builder::new()
            .prefix("tailor-controlplane-")
            .tempdir()
            .map_err(Error::io("creating the control plane's temp dir"))?;
        let root = dir.path().to_path_buf();
        for sub in ["pki", "logs", "etcd", "kubeconfig"] {
            // 0700 like kubeadm's dirs (etcd warns about anything wider).
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(root.join(sub))
                .map_err(Error::io(format!("creating {sub}/")))?;
        }
        let pki = Pki::create(&root.join("pki"))?;
        let serving = pki.serving(
            "apiserver",
            &[
                "127.0.0.1",
                "localhost",
                "10.0.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
        )?;
        let admin = pki.client("admin", "tailor-admin", Some("system:masters"))?;
        let kcm = pki.client(
            "kube-controller-manager",
            "system:kube-controller-manager",
            None,
        )?;
        let scheduler = pki.client("kube-scheduler", "system:kube-scheduler", None)?;
        let (sa_private, sa_public) = pki.service_account_key()?;

        let [etcd_client, etcd_peer, api_port] = free_ports()?;
        let api_url = format!("https://127.0.0.1:{api_port}");
        let ca = pki.ca_file().to_path_buf();
        let kubeconfig_dir = root.join("kubeconfig");
        let admin_kubeconfig = kubeconfig::write(
            &kubeconfig_dir.join("admin.kubeconfig"),
            "tailor-admin",
            &api_url,
            &ca,
            Credentials::ClientCert {
                cert: &admin.cert,
                key: &admin.key,
            },
        )?;

        let mut plane = Self {
            processes: Vec::new(),
            pki,
            api_url,
            admin_kubeconfig,
            startup: StartupTimes::default(),
            dir,
        };

        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        plane.spawn(
            "etcd",
            &binary("etcd"),
            &[
                "--name=tailor".into(),
                format!("--data-dir={}", root.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=tailor={peer_url}"),
                // Throwaway data: skipping fsync makes etcd (and so every API write) much faster.
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
        )?;
        plane
            .wait_until("etcd /health", options.timeout, || {
                etcd_healthy(etcd_client)
            })
            .await?;
        plane.startup.etcd = begin.elapsed();

        let mut apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={api_port}"),
            format!("--cert-dir={}", root.join("pki").display()),
            format!("--tls-cert-file={}", serving.cert.display()),
            format!("--tls-private-key-file={}", serving.key.display()),
            format!("--client-ca-file={}", ca.display()),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
            format!("--service-account-key-file={}", sa_public.display()),
            format!(
                "--service-account-signing-key-file={}",
                sa_private.display()
            ),
            "--authorization-mode=Node,RBAC".into(),
            // The default plugin set stays on; kubeadm clusters add NodeRestriction.
            "--enable-admission-plugins=NodeRestriction".into(),
            "--allow-privileged=true".into(),
            // The `kubernetes` Service's Endpoints would point at 127.0.0.1, which validation rejects.
            "--endpoint-reconciler-type=none".into(),
            "--profiling=false".into(),
        ];
        apiserver_args.extend(options.extra_apiserver_args.iter().cloned());
        plane.spawn("kube-apiserver", &binary("kube-apiserver"), &apiserver_args)?;
        let admin_client = plane.admin_client().await?;
        plane
            .wait_until("kube-apiserver /readyz", options.timeout, || {
                api_ready(admin_client.clone())
            })
            .await?;
        plane.startup.apiserver = begin.elapsed() - plane.startup.etcd;

        let kcm_kubeconfig = kubeconfig::write(
            &kubeconfig_dir.join("kube-controller-manager.kubeconfig"),
            "kube-controller-manager",
            &plane.api_url,
            &ca,
            Credentials::ClientCert {
                cert: &kcm.cert,
                key: &kcm.key,
            },
        )?;
        let scheduler_kubeconfig = kubeconfig::write(
            &kubeconfig_dir.join("kube-scheduler.kubeconfig"),
            "kube-scheduler",
            &plane.api_url,
            &ca,
            Credentials::ClientCert {
                cert: &scheduler.cert,
                key: &scheduler.key,
            },
        )?;
        let mut kcm_args = vec![
            format!("--kubeconfig={}", kcm_kubeconfig.display()),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
            "--leader-elect=false".into(),
            // Each controller acts as its own ServiceAccount, as in kubeadm clusters.
            "--use-service-account-credentials=true".into(),
            format!(
                "--service-account-private-key-file={}",
                sa_private.display()
            ),
            format!("--root-ca-file={}", ca.display()),
            format!("--cluster-signing-cert-file={}", ca.display()),
            format!(
                "--cluster-signing-key-file={}",
                plane.pki.ca_key_file().display()
            ),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--controllers=*".into(),
        ];
        kcm_args.extend(options.extra_controller_manager_args.iter().cloned());
        plane.spawn(
            "kube-controller-manager",
            &binary("kube-controller-manager"),
            &kcm_args,
        )?;
        let mut scheduler_args = vec![
            format!("--kubeconfig={}", scheduler_kubeconfig.display()),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
            "--leader-elect=false".into(),
        ];
        scheduler_args.extend(options.extra_scheduler_args.iter().cloned());
        plane.spawn("kube-scheduler", &binary("kube-scheduler"), &scheduler_args)?;
        plane
            .wait_until(
                "the controller manager to create ServiceAccount default/default",
                options.timeout,
                || default_service_account_exists(admin_client.clone()),
            )
            .await?;
        plane.startup.total = begin.elapsed();
        plane.startup.controllers =
            plane.startup.total - plane.startup.etcd - plane.startup.apiserver;
        tracing::info!(
            startup_seconds = plane.startup.total.as_secs_f64(),
            api = %plane.api_url,
            "control plane ready"
        );
        Ok(plane)
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The PEM of the CA that signed the API server's serving certificate and all client certificates.
    pub fn ca_pem(&self) -> &str {
        self.pki.ca_pem()
    }

    /// The CA certificate as a file.
    pub fn ca_path(&self) -> &Path {
        self.pki.ca_file()
    }

    /// The admin kubeconfig (client certificate in group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// A private scratch folder that is removed with the control plane (e.g. for a cgroup tree).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Wall time from [`ControlPlane::start`] until the control plane was usable.
    pub fn startup_duration(&self) -> Duration {
        self.startup.total
    }

    /// How the start-up time split into its phases.
    pub fn startup_times(&self) -> StartupTimes {
        self.startup
    }

    /// A client with cluster-admin rights.
    pub async fn admin_client(&self) -> Result<kube::Client, Error> {
        kubeconfig::client_from_kubeconfig(&self.admin_kubeconfig).await
    }

    /// A fresh token for ServiceAccount `namespace/name` from the TokenRequest API (audience: the
    /// API server's default, valid 24 h). Creates the namespace and the ServiceAccount if missing;
    /// the account has no permissions beyond what RBAC objects grant it.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, Error> {
        self.service_account_token_for(namespace, name, &[]).await
    }

    /// Like [`ControlPlane::service_account_token`], but bound to `audiences` (e.g. the audience a
    /// receiving component checks with a TokenReview). Empty means the API server's own audience.
    pub async fn service_account_token_for(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[&str],
    ) -> Result<String, Error> {
        let admin = self.admin_client().await?;
        ensure_service_account(&admin, namespace, name).await?;
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.iter().map(|a| a.to_string()).collect(),
                expiration_seconds: Some(TOKEN_SECONDS),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        let response = Api::<ServiceAccount>::namespaced(admin, namespace)
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(Error::kube(format!(
                "requesting a token for {namespace}/{name}"
            )))?;
        response
            .status
            .map(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unexpected(format!(
                    "TokenRequest for {namespace}/{name} returned no token"
                ))
            })
    }

    /// Writes a kubeconfig that authenticates as ServiceAccount `namespace/name` (see
    /// [`ControlPlane::service_account_token`]) and returns its path.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf, Error> {
        let token = self.service_account_token(namespace, name).await?;
        let context = format!("sa-{namespace}-{name}");
        kubeconfig::write(
            &self
                .dir
                .path()
                .join("kubeconfig")
                .join(format!("{context}.kubeconfig")),
            &context,
            &self.api_url,
            self.pki.ca_file(),
            Credentials::Token(&token),
        )
    }

    /// A client acting as ServiceAccount `namespace/name`; see [`ControlPlane::service_account_kubeconfig`].
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, Error> {
        let path = self.service_account_kubeconfig(namespace, name).await?;
        kubeconfig::client_from_kubeconfig(&path).await
    }

    /// Writes a kubeconfig for the kubelet of `node` (user `system:node:<node>` in group
    /// `system:nodes`), so the Node authorizer and NodeRestriction admission apply to it.
    pub fn node_kubeconfig(&self, node: &str) -> Result<PathBuf, Error> {
        let stem = format!("node-{node}");
        let cert = self
            .pki
            .client(&stem, &format!("system:node:{node}"), Some("system:nodes"))?;
        kubeconfig::write(
            &self
                .dir
                .path()
                .join("kubeconfig")
                .join(format!("{stem}.kubeconfig")),
            &stem,
            &self.api_url,
            self.pki.ca_file(),
            Credentials::ClientCert {
                cert: &cert.cert,
                key: &cert.key,
            },
        )
    }

    /// A client acting as the kubelet of `node`; see [`ControlPlane::node_kubeconfig`].
    pub async fn node_client(&self, node: &str) -> Result<kube::Client, Error> {
        let path = self.node_kubeconfig(node)?;
        kubeconfig::client_from_kubeconfig(&path).await
    }

    /// The last `lines` lines of every component's log, each under a header.
    pub fn log_tails(&self, lines: usize) -> String {
        self.processes
            .iter()
            .map(|p| {
                format!(
                    "----- {} (last {lines} lines) -----\n{}",
                    p.name(),
                    p.log_tail(lines)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn spawn(&mut self, name: &str, program: &Path, args: &[String]) -> Result<(), Error> {
        let log = self.dir.path().join("logs").join(format!("{name}.log"));
        self.processes
            .push(Process::spawn(name, program, args, &log)?);
        Ok(())
    }

    /// Polls `check` until it returns true, failing early if a component exits.
    async fn wait_until<F, Fut>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> Result<(), Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            for process in &mut self.processes {
                if let Some(status) = process.exited() {
                    return Err(Error::Exited {
                        component: process.name().to_string(),
                        status,
                        log_tail: process.log_tail(LOG_TAIL_LINES),
                    });
                }
            }
            if check().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: what.to_string(),
                    seconds: timeout.as_secs(),
                    logs: self.log_tails(LOG_TAIL_LINES),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Always written: the test harness captures it and shows it only for failed tests, which
        // also covers tests that fail by returning `Err` (no panic to detect here).
        let cause = if std::thread::panicking() {
            "panicked"
        } else {
            "ended"
        };
        eprintln!(
            "test {cause}; control plane in {} (API {}) stops now. Component logs:\n{}",
            self.dir.path().display(),
            self.api_url,
            self.log_tails(LOG_TAIL_LINES)
        );
        // Reverse start order: dependents first, etcd last.
        while let Some(process) = self.processes.pop() {
            drop(process);
        }
        if std::env::var_os(KEEP_DIR_ENV).is_some_and(|v| v == "1") {
            self.dir.disable_cleanup(true);
            eprintln!("kept control-plane dir {}", self.dir.path().display());
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Distinct free ports on 127.0.0.1. The listeners are held until all are chosen so the kernel
/// cannot hand out the same port twice; a small race with other programs remains.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(Error::io("finding a free port"))?;
        *port = listener
            .local_addr()
            .map_err(Error::io("finding a free port"))?
            .port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// etcd's plain-HTTP health endpoint, spoken over a raw socket to avoid an HTTP client dependency.
async fn etcd_healthy(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response.contains("\"health\":\"true\""))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok(true))
    )
}

async fn api_ready(client: kube::Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), client.request_text(request)).await,
        Ok(Ok(body)) if body.trim() == "ok"
    )
}

async fn default_service_account_exists(client: kube::Client) -> bool {
    let api = Api::<ServiceAccount>::namespaced(client, "default");
    matches!(api.get_opt("default").await, Ok(Some(_)))
}

/// Creates namespace and ServiceAccount unless they exist.
async fn ensure_service_account(
    admin: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    let namespaces = Api::<Namespace>::all(admin.clone());
    if namespaces
        .get_opt(namespace)
        .await
        .map_err(Error::kube(format!("reading namespace {namespace}")))?
        .is_none()
    {
        let ns = Namespace {
            metadata: meta(namespace),
            ..Namespace::default()
        };
        ignore_conflict(namespaces.create(&PostParams::default(), &ns).await)
            .map_err(Error::kube(format!("creating namespace {namespace}")))?;
    }
    let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), namespace);
    if accounts
        .get_opt(name)
        .await
        .map_err(Error::kube(format!(
            "reading ServiceAccount {namespace}/{name}"
        )))?
        .is_none()
    {
        let account = ServiceAccount {
            metadata: meta(name),
            ..ServiceAccount::default()
        };
        ignore_conflict(accounts.create(&PostParams::default(), &account).await).map_err(
            Error::kube(format!("creating ServiceAccount {namespace}/{name}")),
        )?;
    }
    Ok(())
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

/// Another caller creating the same object first is fine.
fn ignore_conflict<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports: [u16; 3] = free_ports().expect("ports");
        assert_ne!(ports[0], ports[1]);
        assert_ne!(ports[1], ports[2]);
        assert_ne!(ports[0], ports[2]);
    }

    #[tokio::test]
    async fn missing_binaries_is_an_error_that_says_how_to_build_them() {
        let empty = tempfile::tempdir().expect("tempdir");
        let options = Options {
            bin_dir: empty.path().to_path_buf(),
            ..Options::default()
        };
        let err = ControlPlane::start_with(options)
            .await
            .expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("make controlplane"), "{text}");
        assert!(text.contains("kube-apiserver"), "{text}");
    }
}
