//! Errors of the demo orchestration.

use std::path::PathBuf;

/// Something the demo needs failed; each variant says which step.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("control plane: {0}")]
    ControlPlane(#[from] tailor_tests::Error),
    #[error("Kubernetes API ({what}): {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("manifest {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("component {name}: {message}")]
    Component { name: String, message: String },
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
}

impl DemoError {
    /// A closure mapping a kube error to [`DemoError::Kube`] with context.
    pub fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| Self::Kube { what, source }
    }

    /// A closure mapping an I/O error on `path` to [`DemoError::Io`].
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn component(name: &str, message: impl std::fmt::Display) -> Self {
        Self::Component {
            name: name.to_owned(),
            message: message.to_string(),
        }
    }
}
