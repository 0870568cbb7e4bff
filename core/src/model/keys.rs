//! History is keyed by workload and container name, not by VPA object or recommender, so that renaming a VPA,
//! switching recommenders or recreating pods never throws history away (upstream issues #9241, #9891).

use std::fmt;
use std::str::FromStr;

/// The top-level owner a pod belongs to.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
    Job,
    ReplicaSet,
    ReplicationController,
    /// A pod with no controller.
    Pod,
    /// Any other controller kind (an operator's CRD), named as its `kind`.
    Other(String),
}

impl WorkloadKind {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::CronJob => "CronJob",
            Self::Job => "Job",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
            Self::Pod => "Pod",
            Self::Other(k) => k,
        }
    }
}

impl From<&str> for WorkloadKind {
    fn from(s: &str) -> Self {
        match s {
            "Deployment" => Self::Deployment,
            "StatefulSet" => Self::StatefulSet,
            "DaemonSet" => Self::DaemonSet,
            "CronJob" => Self::CronJob,
            "Job" => Self::Job,
            "ReplicaSet" => Self::ReplicaSet,
            "ReplicationController" => Self::ReplicationController,
            "Pod" => Self::Pod,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct WorkloadKey {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub name: String,
}

impl WorkloadKey {
    pub fn new(namespace: impl Into<String>, kind: WorkloadKind, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ContainerKey {
    pub workload: WorkloadKey,
    pub container: String,
}

impl ContainerKey {
    pub fn new(workload: WorkloadKey, container: impl Into<String>) -> Self {
        Self {
            workload,
            container: container.into(),
        }
    }
}

impl fmt::Display for ContainerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.workload, self.container)
    }
}

/// Parses `namespace/Kind/name/container`, the form `Display` writes (names cannot contain `/`).
impl FromStr for ContainerKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [ns, kind, name, container]
                if [ns, kind, name, container].iter().all(|p| !p.is_empty()) =>
            {
                Ok(Self::new(
                    WorkloadKey::new(*ns, WorkloadKind::from(*kind), *name),
                    *container,
                ))
            }
            _ => Err(format!("{s:?} is not namespace/Kind/name/container")),
        }
    }
}
