//! One POST of one report: bearer token from a file (re-read on every attempt, so a rotated projected token is
//! picked up), HTTPS with a configured CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tailor_core::report::NodeReport;
use thiserror::Error;

/// Why a client could not be built.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("reading CA bundle {path}: {source}")]
    Ca {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("CA bundle {0} holds no usable certificate")]
    EmptyCa(PathBuf),
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Why one delivery failed.
#[derive(Debug, Error)]
pub enum SendError {
    /// Worth retrying: network trouble, the recommender busy or restarting, a token not yet accepted.
    #[error("retryable: {0}")]
    Retry(String),
    /// The recommender refused this report for good (it is malformed or too large); retrying cannot help.
    #[error("rejected with status {0}")]
    Rejected(StatusCode),
}

/// Delivers reports to one URL (or one address behind it).
#[derive(Debug, Clone)]
pub struct ReportClient {
    http: reqwest::Client,
    url: reqwest::Url,
    token_file: Option<PathBuf>,
    /// Names the endpoint in logs: the URL's host and port, or the pinned address.
    endpoint: String,
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|source| ClientError::Ca {
                path: path.to_path_buf(),
                source,
            })?;
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(ClientError::EmptyCa(path.to_path_buf()));
        }
    }
    // The ring provider explicitly, so no process-wide default has to be installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The URL's host when it is a DNS name (not an IPv4 or IPv6 literal).
pub fn domain(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_err()
        .then(|| host.to_owned())
}

impl ReportClient {
    /// A client for `url`. Without `ca_file` no certificate is trusted, so only `http://` URLs work (tests,
    /// a sidecar proxy); in a cluster pass the CA that signed the recommender's serving certificate.
    pub fn new(
        url: reqwest::Url,
        ca_file: Option<&Path>,
        token_file: Option<PathBuf>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(ca_file)?)
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        let endpoint = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        Ok(Self {
            http,
            url,
            token_file,
            endpoint,
        })
    }

    /// A client for `url` that always connects to `addr`: one replica behind a name that resolves to several.
    /// The request still names the URL's host, so the server certificate is checked against that name (the
    /// Service's DNS name in its SANs), not against the replica's address.
    pub fn pinned(
        url: &reqwest::Url,
        addr: std::net::SocketAddr,
        ca_file: Option<&Path>,
        token_file: Option<PathBuf>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let mut url = url.clone();
        // Only a name is resolved; an address literal is already the one place to go.
        let builder = match domain(&url) {
            Some(name) => reqwest::Client::builder().resolve(&name, addr),
            None => reqwest::Client::builder(),
        };
        // A resolver answers with the port it was asked for; the address's port wins so that tests can put
        // replicas on different ports of one host.
        let _ = url.set_port(Some(addr.port()));
        let http = builder
            .tls_backend_preconfigured(tls_config(ca_file)?)
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            url,
            token_file,
            endpoint: addr.to_string(),
        })
    }

    /// The endpoint, for logs.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// POSTs one report as JSON.
    pub async fn send(&self, report: &NodeReport) -> Result<(), SendError> {
        let mut req = self.http.post(self.url.clone()).json(report);
        if let Some(path) = &self.token_file {
            let token = tokio::fs::read_to_string(path).await.map_err(|e| {
                SendError::Retry(format!("reading token file {}: {e}", path.display()))
            })?;
            req = req.bearer_auth(token.trim());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| SendError::Retry(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        // 400/413/422 mean this report can never be accepted; auth failures and server errors may pass later
        // (a token being rotated, a recommender starting up).
        match status {
            StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNPROCESSABLE_ENTITY => Err(SendError::Rejected(status)),
            _ => Err(SendError::Retry(format!("status {status}"))),
        }
    }
}
