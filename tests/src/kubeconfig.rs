//! Kubeconfig files the harness hands out. Written as JSON (valid YAML, read by client-go and kube-rs)
//! with absolute paths to the PEM files, so they work from any working directory.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Error;

/// How a kubeconfig's user authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Credentials<'a> {
    /// A client certificate and key (PEM files).
    ClientCert { cert: &'a Path, key: &'a Path },
    /// A bearer token, e.g. a ServiceAccount token from the TokenRequest API.
    Token(&'a str),
}

/// Writes a kubeconfig with one cluster, user and context, all named `context`.
pub(crate) fn write(
    path: &Path,
    context: &str,
    server: &str,
    ca_file: &Path,
    credentials: Credentials<'_>,
) -> Result<PathBuf, Error> {
    let user = match credentials {
        Credentials::ClientCert { cert, key } => serde_json::json!({
            "client-certificate": cert,
            "client-key": key,
        }),
        Credentials::Token(token) => serde_json::json!({ "token": token }),
    };
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": context, "cluster": { "server": server, "certificate-authority": ca_file } }],
        "users": [{ "name": context, "user": user }],
        "contexts": [{ "name": context, "context": { "cluster": context, "user": context } }],
        "current-context": context,
    });
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::Unexpected(format!("serializing kubeconfig: {e}")))?;
    std::fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))?;
    Ok(path.to_path_buf())
}

/// Selects rustls' ring provider for the process unless one is already installed: with several
/// crates in the workspace both ring and aws-lc-rs may be compiled in, and rustls then refuses to
/// guess.
pub fn install_crypto_provider() {
    // An error only means another provider was installed first, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A [`kube::Client`] from a kubeconfig file (its current context).
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client, Error> {
    install_crypto_provider();
    let kubeconfig = Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|source| Error::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })?;
    kube::Client::try_from(config).map_err(Error::kube(format!(
        "building a client for {}",
        path.display()
    )))
}
