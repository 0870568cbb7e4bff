//! Walks the kubepods subtree of a cgroup root and lists every container leaf with its pod UID.

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::naming::{Driver, Leaf, Qos, leaf, pod_uid, qos_dir};

/// A container cgroup found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCgroup {
    /// Pod UID from the pod directory (a static pod's is its config hash).
    pub pod_uid: String,
    pub qos: Qos,
    /// Runtime container ID (also the sandbox's, which the pod index does not know).
    pub container_id: String,
    pub dir: PathBuf,
}

/// Result of one walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub driver: Driver,
    /// By container ID.
    pub cgroups: HashMap<String, FoundCgroup>,
}

#[derive(Debug, Error)]
pub enum DiscoveryError {
    #[error(
        "no kubepods.slice or kubepods directory under {0}: wrong --cgroup-root, or not a Kubernetes node"
    )]
    NoKubepods(PathBuf),
    #[error("listing {dir}: {source}")]
    Io {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Finds the kubepods directory and the driver it implies. systemd wins if both exist (a node that switched
/// drivers keeps an empty leftover tree).
pub fn detect(root: &Path) -> Result<(Driver, PathBuf), DiscoveryError> {
    for (driver, name) in [
        (Driver::Systemd, "kubepods.slice"),
        (Driver::Cgroupfs, "kubepods"),
    ] {
        let dir = root.join(name);
        if dir.is_dir() {
            return Ok((driver, dir));
        }
    }
    Err(DiscoveryError::NoKubepods(root.to_path_buf()))
}

/// Lists subdirectory names; a directory that vanished mid-walk lists as empty.
fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, DiscoveryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DiscoveryError::Io {
                dir: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        // cgroup directories are real directories; file_type avoids a stat per entry on most filesystems.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

/// Walks `root` and returns every container leaf (conmon scopes skipped; sandboxes included, the pod index
/// filters them out).
pub fn walk(root: &Path) -> Result<Found, DiscoveryError> {
    let (driver, kubepods) = detect(root)?;
    let mut cgroups = HashMap::new();
    for (name, path) in subdirs(&kubepods)? {
        if let Some(qos) = qos_dir(driver, &name) {
            for (pod_name, pod_path) in subdirs(&path)? {
                if let Some(uid) = pod_uid(driver, &pod_name) {
                    collect_pod(&pod_path, &uid, qos, &mut cgroups)?;
                }
            }
        } else if let Some(uid) = pod_uid(driver, &name) {
            collect_pod(&path, &uid, Qos::Guaranteed, &mut cgroups)?;
        }
    }
    Ok(Found { driver, cgroups })
}

fn collect_pod(
    pod_dir: &Path,
    uid: &str,
    qos: Qos,
    out: &mut HashMap<String, FoundCgroup>,
) -> Result<(), DiscoveryError> {
    for (name, dir) in subdirs(pod_dir)? {
        if let Leaf::Container(container_id) = leaf(&name) {
            out.insert(
                container_id.clone(),
                FoundCgroup {
                    pod_uid: uid.to_owned(),
                    qos,
                    container_id,
                    dir,
                },
            );
        }
    }
    Ok(())
}
