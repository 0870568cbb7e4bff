//! TLS for Tailor's HTTPS endpoints (the recommender's report endpoint, the updater's admission webhook): an
//! `axum::serve` listener that completes a rustls handshake per connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Errors loading the certificate or key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The PEM file could not be read or parsed.
    #[error("reading {what} from {path}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the pair.
    #[error("building the TLS configuration")]
    Config(#[source] rustls::Error),
}

/// A server configuration from PEM files (certificate chain, then private key).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            what: "certificate",
            path: cert.display().to_string(),
            source,
        })?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Pem {
        what: "private key",
        path: key.display().to_string(),
        source,
    })?;
    from_der(certs, key)
}

/// A server configuration from DER certificate chain and key.
pub fn from_der(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Config)?;
    Ok(Arc::new(config))
}

/// How often a handshake may look at the PEM files' modification times.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// A server configuration that picks up a renewed certificate without a restart: on a handshake, at most every
/// [`RELOAD_CHECK`], it compares the files' modification times and re-reads them when they changed
/// (cert-manager renews in place; the kubelet swaps a mounted Secret atomically). A pair that fails to load is
/// logged and the previous one kept, so a half-written renewal never takes the endpoint down.
pub fn reloading_server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::load(cert, key, Arc::clone(&provider))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    check_every: Duration,
    state: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    certified: Arc<CertifiedKey>,
    stamp: Option<(SystemTime, SystemTime)>,
    checked: Instant,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ReloadingCert {
    fn load(cert: &Path, key: &Path, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamp = modified(cert).zip(modified(key));
        let certified = Arc::new(read_pair(cert, key, &provider)?);
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            check_every: RELOAD_CHECK,
            state: Mutex::new(Loaded {
                certified,
                stamp,
                checked: Instant::now(),
            }),
        })
    }
}

fn read_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            what: "certificate",
            path: cert.display().to_string(),
            source,
        })?;
    let der = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Pem {
        what: "private key",
        path: key.display().to_string(),
        source,
    })?;
    CertifiedKey::from_der(certs, der, provider).map_err(TlsError::Config)
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ReloadingCert {
    /// The pair to serve, re-read first if the files changed since the last look.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= self.check_every {
            state.checked = Instant::now();
            let stamp = modified(&self.cert).zip(modified(&self.key));
            if stamp.is_some() && stamp != state.stamp {
                match read_pair(&self.cert, &self.key, &self.provider) {
                    Ok(pair) => {
                        tracing::info!(cert = %self.cert.display(), "serving certificate reloaded");
                        state.certified = Arc::new(pair);
                        state.stamp = stamp;
                    }
                    Err(error) => {
                        tracing::warn!(%error, cert = %self.cert.display(), "keeping the previous certificate")
                    }
                }
            }
        }
        Arc::clone(&state.certified)
    }
}

/// A TCP listener that hands out TLS streams. Failed or slow handshakes are logged and skipped.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("tcp", &self.tcp)
            .finish_non_exhaustive()
    }
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    /// Wraps a bound TCP listener.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(error)) => tracing::debug!(%error, %addr, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn write_pair(dir: &Path, name: &str, stamp: SystemTime) -> Vec<u8> {
        let c = rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("certificate");
        for (file, pem) in [
            ("tls.crt", c.cert.pem()),
            ("tls.key", c.signing_key.serialize_pem()),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, pem).expect("write");
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(stamp))
                .expect("mtime");
        }
        c.cert.der().to_vec()
    }

    #[test]
    fn a_renewed_pair_is_served_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let first = write_pair(dir.path(), "first", t0);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let mut r = ReloadingCert::load(&cert, &key, provider).expect("load");
        let served = |r: &ReloadingCert| r.current().cert[0].as_ref().to_vec();
        assert_eq!(served(&r), first);

        // Renewed: served from the next look on (the interval is zero here, 10 s in service).
        r.check_every = Duration::ZERO;
        let second = write_pair(dir.path(), "second", t0 + Duration::from_secs(60));
        assert_eq!(served(&r), second);

        // Half-written: the previous pair stays.
        std::fs::write(&key, "not a key").expect("write");
        assert_eq!(served(&r), second);

        // A bad pair at start is an error, not an endpoint without a certificate.
        assert!(
            ReloadingCert::load(
                &cert,
                &key,
                Arc::new(rustls::crypto::ring::default_provider())
            )
            .is_err()
        );
    }
}
