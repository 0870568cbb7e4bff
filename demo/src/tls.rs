//! The recommender's serving certificate: a throwaway CA and a leaf for 127.0.0.1/localhost, written as PEM.
//! The node-agents trust exactly this CA, as they trust the cluster's in a real installation.

use std::path::{Path, PathBuf};

use tailor_tests::ServingPem;

use crate::DemoError;

/// Paths of the generated PEM files.
#[derive(Debug, Clone)]
pub struct ServingCert {
    /// The CA certificate the node-agents trust.
    pub ca: PathBuf,
    /// The recommender's certificate chain (leaf).
    pub cert: PathBuf,
    /// The recommender's private key (PKCS#8).
    pub key: PathBuf,
}

/// Generates a CA and a serving certificate for `127.0.0.1` and `localhost` into `dir`.
pub fn generate(dir: &Path) -> Result<ServingCert, DemoError> {
    let pem = ServingPem::generate(
        "tailor-demo-recommender-ca",
        "tailor-recommender",
        &["127.0.0.1", "localhost"],
    )?;
    let files = ServingCert {
        ca: dir.join("recommender-ca.crt"),
        cert: dir.join("recommender.crt"),
        key: dir.join("recommender.key"),
    };
    write(&files.ca, &pem.ca)?;
    write(&files.cert, &pem.cert)?;
    write(&files.key, &pem.key)?;
    Ok(files)
}

fn write(path: &Path, contents: &str) -> Result<(), DemoError> {
    std::fs::write(path, contents).map_err(DemoError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_ca_and_a_leaf_for_loopback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = generate(dir.path()).expect("generate");
        for p in [&files.ca, &files.cert, &files.key] {
            let text = std::fs::read_to_string(p).expect("read");
            assert!(text.starts_with("-----BEGIN"), "{}", p.display());
        }
        assert_ne!(
            std::fs::read_to_string(&files.ca).expect("ca"),
            std::fs::read_to_string(&files.cert).expect("cert")
        );
    }
}
