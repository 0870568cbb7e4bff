//! The report endpoint over real TLS on loopback: certificate from PEM files, a rustls client that trusts only
//! that certificate, and the endpoint's answers (no token → 401) arriving over the encrypted connection; a
//! plain-text client gets no HTTP answer at all.

use std::sync::Arc;

use futures::future::BoxFuture;
use prometheus_client::registry::Registry;
use rustls::pki_types::{CertificateDer, ServerName};
use tailor_core::time::Timestamp;
use tailor_recommender::ingest::auth::{AuthPolicy, Review, ReviewError, TokenReviewer};
use tailor_recommender::ingest::{IngestState, REPORTS_PATH, router, tls};
use tailor_recommender::metrics::Metrics;
use tailor_recommender::model::ModelOptions;
use tailor_recommender::state::Shared;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct NoTokens;

impl TokenReviewer for NoTokens {
    fn review<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Review, ReviewError>> {
        Box::pin(async { Ok(Review::Unauthenticated) })
    }
}

#[tokio::test]
async fn serves_reports_over_tls_only() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, certified.cert.pem()).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    let config = tls::server_config(&cert_path, &key_path).expect("server config");

    let mut registry = Registry::default();
    let state = IngestState {
        reviewer: Arc::new(NoTokens),
        policy: AuthPolicy::service_account("tailor-system", "tailor-node-agent"),
        shared: Arc::new(Shared::new(ModelOptions::default())),
        metrics: Metrics::register(&mut registry, 10),
        clock: Arc::new(|| Timestamp::from_unix_millis(0)),
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let server = tokio::spawn(
        axum::serve(tls::TlsListener::new(tcp, config), router(state, 1 << 20)).into_future(),
    );

    // A plain-text request gets no HTTP response (the handshake fails and the connection is dropped).
    let mut plain = tokio::net::TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut buf),
    )
    .await;
    assert!(
        !String::from_utf8_lossy(&buf).starts_with("HTTP/"),
        "no plain-text answer"
    );

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(certified.cert.der().to_vec()))
        .expect("root");
    let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut stream = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    let request = format!(
        "POST {REPORTS_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    server.abort();
}
