//! A serving certificate (the recommender's report endpoint, the updater's admission webhook), reloaded when its
//! files change. cert-manager (or any Secret update)
//! rotates the mounted `tls.crt`/`tls.key` in place; the kubelet swaps them atomically through a symlink, but a
//! plain file copy may land the certificate before the key. So the files are re-read on a timer, a pair is taken
//! only when it parses and the key matches the certificate, and until then new handshakes keep getting the last
//! good pair. Connections already open keep the certificate they were set up with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

/// Why a certificate pair could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not PEM of the expected kind.
    #[error("parsing the {what} in {path}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    /// The key is unusable or does not belong to the certificate.
    #[error("the private key does not fit the certificate")]
    Key(#[source] rustls::Error),
    /// rustls refused the configuration.
    #[error("building the TLS configuration")]
    Config(#[source] rustls::Error),
}

/// A certificate and key from two PEM files, served to every new handshake and swapped when the files change.
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file contents the current pair came from (a few KiB); a change is a difference in these bytes, which
    /// works whatever the file system does with modification times.
    loaded: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn certified(
    provider: &CryptoProvider,
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<CertifiedKey, CertError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| CertError::Pem {
            what: "certificate",
            path: cert_path.display().to_string(),
            source,
        })?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate(cert_path.display().to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|source| CertError::Pem {
        what: "private key",
        path: key_path.display().to_string(),
        source,
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(CertError::Key)
}

impl ReloadingCert {
    /// Loads the pair; fails if it does not load now (a server must not start without a certificate).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<Self>, CertError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert_pem, key_pem) = (read(cert_path)?, read(key_path)?);
        let pair = certified(&provider, cert_path, &cert_pem, key_path, &key_pem)?;
        Ok(Arc::new(Self {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(pair)),
            loaded: Mutex::new((cert_pem, key_pem)),
        }))
    }

    /// A server configuration whose handshakes always use the current pair.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, CertError> {
        let config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(CertError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        Ok(Arc::new(config))
    }

    /// Re-reads the files. Returns `Ok(true)` when a new pair was taken, `Ok(false)` when nothing changed, and
    /// an error (the old pair stays) when the files changed into something that does not load.
    pub fn reload_if_changed(&self) -> Result<bool, CertError> {
        let (cert_pem, key_pem) = (read(&self.cert_path)?, read(&self.key_path)?);
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if loaded.0 == cert_pem && loaded.1 == key_pem {
            return Ok(false);
        }
        let pair = certified(
            &self.provider,
            &self.cert_path,
            &cert_pem,
            &self.key_path,
            &key_pem,
        )?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        *loaded = (cert_pem, key_pem);
        Ok(true)
    }

    /// Checks the files every `interval` until `shutdown`; `on_result(true)` after each reload, `on_result(false)`
    /// after each failed one.
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        shutdown: CancellationToken,
        on_result: impl Fn(bool) + Send,
    ) {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.reload_if_changed() {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(cert = %self.cert_path.display(), "serving certificate reloaded");
                    on_result(true);
                }
                Err(error) => {
                    tracing::warn!(%error, source = ?std::error::Error::source(&error), "serving certificate changed but does not load; keeping the previous one");
                    on_result(false);
                }
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}
