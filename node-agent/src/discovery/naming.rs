//! Kubelet and runtime cgroup naming (research notes §2): which directory names are pods and which are
//! containers, under the systemd and cgroupfs drivers, for containerd, CRI-O and Docker-style runtimes.

/// The kubelet's cgroup driver, told apart by the name of the top `kubepods` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    /// `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope`
    Systemd,
    /// `kubepods/burstable/pod<uid>/<id>`
    Cgroupfs,
}

/// A pod's QoS class as the cgroup hierarchy shows it (Guaranteed pods sit directly under `kubepods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// The QoS level directory a name denotes, if it is one.
pub fn qos_dir(driver: Driver, name: &str) -> Option<Qos> {
    match (driver, name) {
        (Driver::Systemd, "kubepods-burstable.slice") | (Driver::Cgroupfs, "burstable") => {
            Some(Qos::Burstable)
        }
        (Driver::Systemd, "kubepods-besteffort.slice") | (Driver::Cgroupfs, "besteffort") => {
            Some(Qos::BestEffort)
        }
        _ => None,
    }
}

/// The pod UID a pod directory name carries, in the API's form (dashes), if the name is a pod directory.
///
/// systemd: `kubepods-pod<uid>.slice`, `kubepods-burstable-pod<uid>.slice` with `-` escaped as `_`.
/// cgroupfs: `pod<uid>`. Static pods have a 32-hex UID without dashes (the `kubernetes.io/config.hash`).
pub fn pod_uid(driver: Driver, name: &str) -> Option<String> {
    let raw = match driver {
        Driver::Systemd => {
            let stem = name.strip_suffix(".slice")?;
            let (_, uid) = stem.rsplit_once("-pod")?;
            if !stem.starts_with("kubepods-") {
                return None;
            }
            uid
        }
        Driver::Cgroupfs => name.strip_prefix("pod")?,
    };
    let valid = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    valid.then(|| raw.replace('_', "-"))
}

/// What a directory under a pod directory is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// A container (or the pod sandbox: only the pod status can tell) with this runtime ID.
    Container(String),
    /// CRI-O's conmon monitor scope: not a container, skipped.
    Conmon,
    /// Anything else (a nested cgroup, a `.mount`, a foreign directory).
    Other,
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Classifies a directory name found under a pod directory.
///
/// systemd: `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`; `crio-conmon-<id>.scope` is
/// conmon. cgroupfs: `<id>`, `crio-<id>`, `crio-conmon-<id>`. CRI-O sandboxes under systemd may lack `.scope`,
/// so the suffix is optional everywhere.
pub fn leaf(name: &str) -> Leaf {
    let stem = name.strip_suffix(".scope").unwrap_or(name);
    if stem
        .strip_prefix("crio-conmon-")
        .is_some_and(is_container_id)
    {
        return Leaf::Conmon;
    }
    let id = ["cri-containerd-", "crio-", "docker-"]
        .iter()
        .find_map(|p| stem.strip_prefix(p))
        .unwrap_or(stem);
    if is_container_id(id) {
        Leaf::Container(id.to_owned())
    } else {
        Leaf::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pod_dirs() {
        assert_eq!(
            pod_uid(
                Driver::Systemd,
                "kubepods-burstable-pod1b2c3d4e_0000_4000_8000_000000000001.slice"
            )
            .as_deref(),
            Some("1b2c3d4e-0000-4000-8000-000000000001")
        );
        assert_eq!(
            pod_uid(Driver::Systemd, "kubepods-podabc.slice").as_deref(),
            Some("abc")
        );
        assert_eq!(pod_uid(Driver::Systemd, "kubepods-burstable.slice"), None);
        assert_eq!(pod_uid(Driver::Systemd, "other-podabc.slice"), None);
        assert_eq!(
            pod_uid(Driver::Cgroupfs, "pod1b2c3d4e-0000").as_deref(),
            Some("1b2c3d4e-0000")
        );
        assert_eq!(pod_uid(Driver::Cgroupfs, "burstable"), None);
        assert_eq!(pod_uid(Driver::Cgroupfs, "pod"), None);
        assert_eq!(pod_uid(Driver::Cgroupfs, "pod../x"), None);
    }

    #[test]
    fn leaves() {
        assert_eq!(
            leaf(&format!("cri-containerd-{ID}.scope")),
            Leaf::Container(ID.into())
        );
        assert_eq!(
            leaf(&format!("crio-{ID}.scope")),
            Leaf::Container(ID.into())
        );
        assert_eq!(leaf(&format!("crio-{ID}")), Leaf::Container(ID.into()));
        assert_eq!(
            leaf(&format!("docker-{ID}.scope")),
            Leaf::Container(ID.into())
        );
        assert_eq!(leaf(ID), Leaf::Container(ID.into()));
        assert_eq!(leaf(&format!("crio-conmon-{ID}.scope")), Leaf::Conmon);
        assert_eq!(leaf(&format!("crio-conmon-{ID}")), Leaf::Conmon);
        assert_eq!(leaf("init.scope"), Leaf::Other);
        assert_eq!(leaf(&ID.to_uppercase()), Leaf::Other);
        assert_eq!(leaf(&ID[1..]), Leaf::Other);
    }
}
