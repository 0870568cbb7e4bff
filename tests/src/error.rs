//! Errors of the test bed. Every variant says what to do next, because a test that fails here is
//! usually a set-up problem, not a product bug.

use std::path::PathBuf;

/// Why the control plane could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Go-built binaries are not there (or not executable).
    #[error(
        "control-plane binaries missing in {dir}: {missing:?}. Build them with `make controlplane` \
         (runs tests/controlplane/build.sh; needs Go 1.26 or newer, see https://go.dev/doc/install). \
         Set TAILOR_CONTROLPLANE_BIN to use binaries from another folder."
    )]
    MissingBinaries {
        /// The folder that was searched.
        dir: PathBuf,
        /// Binary names not found there.
        missing: Vec<String>,
    },

    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Generating keys or certificates failed.
    #[error("generating {what}: {source}")]
    Certificate {
        /// Which certificate or key.
        what: String,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },

    /// A component exited while the control plane was starting or running.
    #[error("{component} exited with {status} during start-up; last log lines:\n{log_tail}")]
    Exited {
        /// The component's name (etcd, kube-apiserver…).
        component: String,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log_tail: String,
    },

    /// A readiness condition was not met in time.
    #[error("timed out after {seconds} s waiting for {what}; component logs:\n{logs}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        seconds: u64,
        /// The ends of all component logs.
        logs: String,
    },

    /// Reading a kubeconfig the harness wrote failed.
    #[error("loading kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// A Kubernetes API call made by the harness failed.
    #[error("{what}: {source}")]
    Kube {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },

    /// The API server answered, but not as expected.
    #[error("{0}")]
    Unexpected(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    pub(crate) fn cert(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> Self {
        let what = what.into();
        move |source| Self::Certificate { what, source }
    }

    pub(crate) fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| Self::Kube { what, source }
    }
}
