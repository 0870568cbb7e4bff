//! Helpers for the webhook's end-to-end tests: a throwaway CA and serving certificate, the
//! MutatingWebhookConfiguration from `deploy/`, and the real updater in-process with its webhook on. The test
//! binary must also declare `updater_common`.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Pod;
use tailor_k8s::admin::Readiness;
use tailor_k8s::shutdown::CancellationToken;

pub const WEBHOOK_NAME: &str = "tailor-updater-e2e";

/// A CA and a serving certificate for 127.0.0.1 signed by it, as PEM: (ca, cert, key).
pub fn serving_cert() -> Result<(String, String, String)> {
    let pem = tailor_tests::ServingPem::generate(
        "tailor-webhook-e2e-ca",
        "tailor-updater-webhook",
        &["127.0.0.1"],
    )?;
    Ok((pem.ca, pem.cert, pem.key))
}

/// The configuration `deploy/updater/webhook` installs (read from that file, so its selectors and policies are
/// what is tested), pointed at a URL instead of the in-cluster Service.
pub fn webhook_config(url: &str, ca_pem: &str) -> Result<MutatingWebhookConfiguration> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/updater/webhook/mutatingwebhookconfiguration.yaml");
    let mut config: MutatingWebhookConfiguration =
        serde_yaml::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| path.display().to_string())?;
    config.metadata.name = Some(WEBHOOK_NAME.to_owned());
    config.metadata.annotations = None;
    let webhook = config
        .webhooks
        .as_mut()
        .and_then(|w| w.first_mut())
        .context("one webhook")?;
    ensure!(webhook.failure_policy.as_deref() == Some("Ignore"));
    webhook.client_config.service = None;
    webhook.client_config.url = Some(url.to_owned());
    webhook.client_config.ca_bundle = Some(ByteString(ca_pem.as_bytes().to_vec()));
    Ok(config)
}

/// The real updater in-process, with the webhook on `addr`.
#[derive(Debug)]
pub struct Running {
    pub token: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub readiness: Readiness,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.token.cancel();
        self.task.abort();
    }
}

pub fn start_with_webhook(
    client: &kube::Client,
    addr: &str,
    dir: &std::path::Path,
) -> Result<Running> {
    let cert = dir.join("tls.crt").display().to_string();
    let key = dir.join("tls.key").display().to_string();
    let args = tailor_updater::config::parse_args([
        "tailor-updater",
        "--admin-addr=127.0.0.1:0",
        "--log-format=text",
        "--log-level=info,tailor_updater=debug",
        &format!("--webhook-addr={addr}"),
        &format!("--webhook-tls-cert={cert}"),
        &format!("--webhook-tls-key={key}"),
    ])
    .context("updater flags")?;
    let _ = tailor_k8s::telemetry::init(&args.log);
    let token = CancellationToken::new();
    let readiness = Readiness::new();
    let task = tokio::spawn(tailor_updater::run_until(
        client.clone(),
        args,
        readiness.clone(),
        token.clone(),
    ));
    Ok(Running {
        token,
        task,
        readiness,
    })
}

pub fn resources(p: &Pod) -> serde_json::Value {
    let c = p.spec.as_ref().and_then(|s| s.containers.first());
    serde_json::to_value(c.and_then(|c| c.resources.clone())).unwrap_or_default()
}

pub fn admission_note(p: &Pod) -> Option<String> {
    p.metadata
        .annotations
        .as_ref()?
        .get("tailor.dev/admission")
        .cloned()
}

/// A served and registered webhook.
#[derive(Debug)]
pub struct Served {
    pub updater: Running,
    /// `127.0.0.1:port` it listens on.
    pub addr: String,
    /// The CA its certificate is signed with (for registering it again).
    pub ca: String,
}

/// Serves the webhook from a fresh updater on a free loopback port and registers it with the API server; the
/// caller keeps the returned updater (and the folder with its certificate) alive.
pub async fn serve_and_register(client: &kube::Client, dir: &std::path::Path) -> Result<Served> {
    let (ca, cert, key) = serving_cert()?;
    std::fs::write(dir.join("tls.crt"), cert)?;
    std::fs::write(dir.join("tls.key"), key)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let updater = start_with_webhook(client, &addr, dir)?;
    // The webhook binds after the watches are registered, so once it answers, readiness means "synced".
    crate::updater_common::wait_for("webhook serving", Duration::from_secs(30), || {
        let (addr, ready) = (addr.clone(), updater.readiness.is_ready());
        async move {
            let listening = tokio::net::TcpStream::connect(&addr).await.is_ok();
            Ok((listening && ready).then_some(()))
        }
    })
    .await?;
    register(client, &addr, &ca).await?;
    Ok(Served { updater, addr, ca })
}

/// Registers the webhook served on `addr` with the API server.
pub async fn register(client: &kube::Client, addr: &str, ca: &str) -> Result<()> {
    use kube::api::{Api, PostParams};
    let configs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    configs
        .create(
            &PostParams::default(),
            &webhook_config(&format!("https://{addr}/mutate-v1-pod"), ca)?,
        )
        .await?;
    Ok(())
}
