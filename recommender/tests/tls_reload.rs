//! Certificate rotation without a restart: the report endpoint serves certificate A, the files are replaced by
//! certificate B (as cert-manager rotates a mounted Secret), and new connections get B — a client trusting only
//! A is refused, one trusting only B gets through. A half-written rotation (a key that does not fit) keeps B.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustls::pki_types::{CertificateDer, ServerName};
use tailor_recommender::ingest::cert_reload::ReloadingCert;
use tailor_recommender::ingest::tls::TlsListener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

struct Pair {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn pair() -> Pair {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    Pair {
        cert_pem: c.cert.pem(),
        key_pem: c.signing_key.serialize_pem(),
        der: CertificateDer::from(c.cert.der().to_vec()),
    }
}

/// Replaces both files the way the kubelet updates a Secret volume: write aside, then rename over.
fn install(dir: &Path, cert: &str, key: &str) {
    for (name, text) in [("tls.crt", cert), ("tls.key", key)] {
        let tmp = dir.join(format!(".{name}.new"));
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, dir.join(name)).expect("rename");
    }
}

/// Whether a client that trusts only `root` completes a request.
async fn reaches(addr: std::net::SocketAddr, root: &CertificateDer<'static>) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let Ok(mut stream) = connector.connect(name, tcp).await else {
        return false;
    };
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response.starts_with("HTTP/1.1 200")
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out: {what}");
}

#[tokio::test]
async fn rotated_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (pair(), pair());
    install(dir.path(), &a.cert_pem, &a.key_pem);
    let reloading = ReloadingCert::load(&dir.path().join("tls.crt"), &dir.path().join("tls.key"))
        .expect("loads");
    let config = reloading.server_config().expect("config");
    let stop = CancellationToken::new();
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let watch =
        tokio::spawn(
            Arc::clone(&reloading).watch(Duration::from_millis(100), stop.clone(), {
                let results = Arc::clone(&results);
                move |ok| results.lock().expect("lock").push(ok)
            }),
        );

    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let app = Router::new().route("/ping", get(|| async { "pong" }));
    let server = tokio::spawn(axum::serve(TlsListener::new(tcp, config), app).into_future());

    assert!(reaches(addr, &a.der).await, "certificate A served");
    assert!(!reaches(addr, &b.der).await, "B not yet");

    install(dir.path(), &b.cert_pem, &b.key_pem);
    eventually("B served after the rotation", async || {
        reaches(addr, &b.der).await
    })
    .await;
    assert!(!reaches(addr, &a.der).await, "A no longer served");
    {
        // The two files are renamed one after the other, so a check may have caught B's certificate next to
        // A's key in between (a failed attempt) before taking the pair.
        let mut seen = results.lock().expect("lock");
        assert_eq!(seen.last(), Some(&true), "{seen:?}");
        seen.clear();
    }

    // A rotation caught half way (A's key next to B's certificate) is refused; B stays.
    std::fs::write(dir.path().join("tls.key"), &a.key_pem).expect("write");
    eventually("the bad pair was tried", async || {
        results.lock().expect("lock").contains(&false)
    })
    .await;
    assert!(reaches(addr, &b.der).await, "B still served");
    assert!(
        reloading.reload_if_changed().is_err(),
        "the mismatch is an error"
    );

    stop.cancel();
    watch.await.expect("watch stops");
    server.abort();
}

#[test]
fn a_pair_that_does_not_load_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (pair(), pair());
    install(dir.path(), &a.cert_pem, &b.key_pem);
    let err = ReloadingCert::load(&dir.path().join("tls.crt"), &dir.path().join("tls.key"))
        .expect_err("mismatched key");
    assert!(err.to_string().contains("does not fit"), "{err}");
    let missing = ReloadingCert::load(&dir.path().join("nope.crt"), &dir.path().join("tls.key"))
        .expect_err("missing file");
    assert!(missing.to_string().contains("nope.crt"), "{missing}");
}
