//! cgroup v2 paths exactly as the kubelet (and its container runtime) name them, and container IDs.
//!
//! systemd driver (default): `kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/<leaf>` with
//! Guaranteed pods directly under `kubepods.slice`; `-` in the UID becomes `_` because systemd reads `-` as
//! hierarchy. cgroupfs driver: `kubepods/<qos>/pod<uid>/<leaf>`. Leaves are `cri-containerd-<id>.scope` /
//! `crio-<id>.scope` under systemd and `<id>` / `crio-<id>` under cgroupfs. CRI-O's sandbox leaf under systemd has
//! no `.scope` suffix (cri-o/cri-o#8748).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// The kubelet's `--cgroup-driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CgroupDriver {
    #[default]
    Systemd,
    Cgroupfs,
}

/// The container runtime, which names the leaf cgroups and the `containerID` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    #[default]
    Containerd,
    Crio,
}

impl Runtime {
    /// Scheme of `status.containerStatuses[].containerID`.
    pub fn id_scheme(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
        }
    }
}

/// Pod QoS class, as computed by the API server and written into `status.qosClass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    /// The exact `status.qosClass` string.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }

    /// Parses a `status.qosClass` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Guaranteed" => Some(QosClass::Guaranteed),
            "Burstable" => Some(QosClass::Burstable),
            "BestEffort" => Some(QosClass::BestEffort),
            _ => None,
        }
    }

    fn dir_word(self) -> Option<&'static str> {
        match self {
            QosClass::Guaranteed => None,
            QosClass::Burstable => Some("burstable"),
            QosClass::BestEffort => Some("besteffort"),
        }
    }
}

impl fmt::Display for QosClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 64-hex-digit container (or sandbox) ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerId(String);

impl ContainerId {
    /// Derives a deterministic ID from a seed and any identifying parts (pod UID, container name, attempt).
    pub fn derive(seed: u64, parts: &[&str]) -> Self {
        let mut state = seed ^ 0x5eed_7a11_0c0f_fee5;
        for part in parts {
            for b in part.bytes() {
                state = splitmix64(state ^ u64::from(b));
            }
            state = splitmix64(state ^ 0xff);
        }
        let mut hex = String::with_capacity(64);
        for _ in 0..4 {
            state = splitmix64(state);
            hex.push_str(&format!("{state:016x}"));
        }
        ContainerId(hex)
    }

    /// The bare 64-hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `status.containerStatuses[].containerID`, e.g. `containerd://<64hex>`.
    pub fn uri(&self, runtime: Runtime) -> String {
        format!("{}://{}", runtime.id_scheme(), self.0)
    }
}

/// SplitMix64 step: the simulator's only source of "randomness", so everything is a pure function of the seed.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Naming scheme for one simulated node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Naming {
    pub driver: CgroupDriver,
    pub runtime: Runtime,
}

impl Naming {
    /// The top-level pods cgroup (`kubepods.slice` or `kubepods`), relative to the cgroup root.
    pub fn kubepods(&self) -> PathBuf {
        match self.driver {
            CgroupDriver::Systemd => PathBuf::from("kubepods.slice"),
            CgroupDriver::Cgroupfs => PathBuf::from("kubepods"),
        }
    }

    /// The QoS-level cgroup; Guaranteed pods sit directly under kubepods.
    pub fn qos_dir(&self, qos: QosClass) -> PathBuf {
        let base = self.kubepods();
        match (self.driver, qos.dir_word()) {
            (_, None) => base,
            (CgroupDriver::Systemd, Some(w)) => base.join(format!("kubepods-{w}.slice")),
            (CgroupDriver::Cgroupfs, Some(w)) => base.join(w),
        }
    }

    /// The pod-level cgroup.
    pub fn pod_dir(&self, qos: QosClass, pod_uid: &str) -> PathBuf {
        let parent = self.qos_dir(qos);
        match self.driver {
            CgroupDriver::Systemd => {
                let uid = pod_uid.replace('-', "_");
                let name = match qos.dir_word() {
                    None => format!("kubepods-pod{uid}.slice"),
                    Some(w) => format!("kubepods-{w}-pod{uid}.slice"),
                };
                parent.join(name)
            }
            CgroupDriver::Cgroupfs => parent.join(format!("pod{pod_uid}")),
        }
    }

    /// The leaf name of an application container's cgroup.
    pub fn container_leaf(&self, id: &ContainerId) -> String {
        let id = id.as_str();
        match (self.driver, self.runtime) {
            (CgroupDriver::Systemd, Runtime::Containerd) => format!("cri-containerd-{id}.scope"),
            (CgroupDriver::Systemd, Runtime::Crio) => format!("crio-{id}.scope"),
            (CgroupDriver::Cgroupfs, Runtime::Containerd) => id.to_string(),
            (CgroupDriver::Cgroupfs, Runtime::Crio) => format!("crio-{id}"),
        }
    }

    /// The leaf name of the pause/sandbox cgroup.
    pub fn sandbox_leaf(&self, id: &ContainerId) -> String {
        match (self.driver, self.runtime) {
            (CgroupDriver::Systemd, Runtime::Crio) => format!("crio-{}", id.as_str()),
            _ => self.container_leaf(id),
        }
    }

    /// Full relative path of a container's cgroup.
    pub fn container_dir(&self, qos: QosClass, pod_uid: &str, id: &ContainerId) -> PathBuf {
        self.pod_dir(qos, pod_uid).join(self.container_leaf(id))
    }

    /// Full relative path of the sandbox cgroup.
    pub fn sandbox_dir(&self, qos: QosClass, pod_uid: &str, id: &ContainerId) -> PathBuf {
        self.pod_dir(qos, pod_uid).join(self.sandbox_leaf(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "1234abcd-0000-4e5f-8a9b-0123456789ab";

    fn id() -> ContainerId {
        ContainerId("ab".repeat(32))
    }

    #[test]
    fn systemd_containerd_paths() {
        let n = Naming {
            driver: CgroupDriver::Systemd,
            runtime: Runtime::Containerd,
        };
        assert_eq!(
            n.container_dir(QosClass::Burstable, UID, &id()).to_str(),
            Some(
                "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234abcd_0000_4e5f_8a9b_0123456789ab.slice/cri-containerd-abababababababababababababababababababababababababababababababab.scope"
            )
        );
        assert_eq!(
            n.pod_dir(QosClass::BestEffort, UID).to_str(),
            Some(
                "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234abcd_0000_4e5f_8a9b_0123456789ab.slice"
            )
        );
        assert_eq!(
            n.pod_dir(QosClass::Guaranteed, UID).to_str(),
            Some("kubepods.slice/kubepods-pod1234abcd_0000_4e5f_8a9b_0123456789ab.slice")
        );
    }

    #[test]
    fn cgroupfs_and_crio_paths() {
        let n = Naming {
            driver: CgroupDriver::Cgroupfs,
            runtime: Runtime::Containerd,
        };
        assert_eq!(
            n.container_dir(QosClass::Burstable, UID, &id())
                .to_str()
                .map(|s| s.to_string()),
            Some(format!("kubepods/burstable/pod{UID}/{}", "ab".repeat(32)))
        );
        assert_eq!(
            n.pod_dir(QosClass::Guaranteed, UID)
                .to_str()
                .map(|s| s.to_string()),
            Some(format!("kubepods/pod{UID}"))
        );
        let c = Naming {
            driver: CgroupDriver::Cgroupfs,
            runtime: Runtime::Crio,
        };
        assert_eq!(c.container_leaf(&id()), format!("crio-{}", "ab".repeat(32)));
        let s = Naming {
            driver: CgroupDriver::Systemd,
            runtime: Runtime::Crio,
        };
        assert_eq!(
            s.container_leaf(&id()),
            format!("crio-{}.scope", "ab".repeat(32))
        );
        assert_eq!(s.sandbox_leaf(&id()), format!("crio-{}", "ab".repeat(32)));
        assert_eq!(
            id().uri(Runtime::Crio),
            format!("cri-o://{}", "ab".repeat(32))
        );
    }

    #[test]
    fn ids_are_64_hex_deterministic_and_distinct() {
        let a = ContainerId::derive(7, &[UID, "app", "0"]);
        let b = ContainerId::derive(7, &[UID, "app", "1"]);
        assert_eq!(a, ContainerId::derive(7, &[UID, "app", "0"]));
        assert_ne!(a, b);
        assert_ne!(a, ContainerId::derive(8, &[UID, "app", "0"]));
        assert_eq!(a.as_str().len(), 64);
        assert!(
            a.as_str()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(a.uri(Runtime::Containerd).starts_with("containerd://"));
    }
}
