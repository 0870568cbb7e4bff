//! Writes the simulated cgroup v2 tree under a configurable root. Every file is written to a temporary name in
//! the same directory and renamed over the target, so a concurrent reader sees the old or the new content,
//! never a torn mix.

use super::engine::CgroupState;
use super::files::{render_cpu_max, render_limit, render_memory_stat};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A filesystem operation on the tree failed.
#[derive(Debug, Error)]
#[error("cgroup tree: {op} {path}: {source}")]
pub struct TreeError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The values the kubelet and runtime would have configured on a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupConfig {
    pub cpu_limit_millis: Option<u64>,
    pub cpu_weight: u64,
    pub memory_max: Option<u64>,
}

/// File names the simulator maintains in every pod and container cgroup.
pub const FILES: [&str; 12] = [
    "cgroup.controllers",
    "cpu.stat",
    "cpu.max",
    "cpu.weight",
    "memory.current",
    "memory.stat",
    "memory.peak",
    "memory.max",
    "memory.events",
    "memory.swap.current",
    "cpu.pressure",
    "memory.pressure",
];

/// The root of the simulated hierarchy (what a node agent would see at `/sys/fs/cgroup`).
///
/// Files whose content did not change since the last write are not rewritten (limits, weights): on a
/// disk-backed filesystem every replace-by-rename costs a journal flush, and the kernel's files do not change
/// either. Put the root on tmpfs (`/dev/shm`) for speed, as the real cgroupfs is in memory.
#[derive(Debug, Clone)]
pub struct CgroupTree {
    root: PathBuf,
    written: HashMap<PathBuf, u64>,
}

fn digest(contents: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    contents.hash(&mut h);
    h.finish()
}

impl CgroupTree {
    /// A tree rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CgroupTree {
            root: root.into(),
            written: HashMap::new(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of a relative cgroup path.
    pub fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// Creates a cgroup directory (and parents) with a `cgroup.controllers` file, like a slice the kubelet made.
    pub fn ensure_dir(&mut self, rel: &Path) -> Result<(), TreeError> {
        let dir = self.abs(rel);
        std::fs::create_dir_all(&dir).map_err(|source| TreeError {
            op: "mkdir",
            path: dir.clone(),
            source,
        })?;
        let controllers = dir.join("cgroup.controllers");
        if !controllers.exists() {
            self.write_file(
                rel,
                "cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma misc\n",
            )?;
        }
        Ok(())
    }

    /// Atomically replaces one file (skipped when this tree last wrote the same content there).
    pub fn write_file(&mut self, rel: &Path, name: &str, contents: &str) -> Result<(), TreeError> {
        let dir = self.abs(rel);
        let target = dir.join(name);
        let hash = digest(contents);
        if self.written.get(&target) == Some(&hash) {
            return Ok(());
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).map_err(|source| TreeError {
            op: "write",
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &target).map_err(|source| TreeError {
            op: "rename",
            path: target.clone(),
            source,
        })?;
        self.written.insert(target, hash);
        Ok(())
    }

    /// Writes every interface file of one cgroup from its state and configuration.
    pub fn write_cgroup(
        &mut self,
        rel: &Path,
        state: &CgroupState,
        config: &CgroupConfig,
    ) -> Result<(), TreeError> {
        self.ensure_dir(rel)?;
        let files: [(&str, String); 11] = [
            ("cpu.stat", state.cpu.render()),
            ("cpu.max", render_cpu_max(config.cpu_limit_millis)),
            ("cpu.weight", format!("{}\n", config.cpu_weight)),
            ("memory.current", format!("{}\n", state.memory.current())),
            (
                "memory.stat",
                render_memory_stat(&state.memory, &state.counters),
            ),
            ("memory.peak", format!("{}\n", state.peak)),
            ("memory.max", render_limit(config.memory_max)),
            ("memory.events", state.events.render()),
            ("memory.swap.current", "0\n".to_string()),
            ("cpu.pressure", state.cpu_pressure.render()),
            ("memory.pressure", state.memory_pressure.render()),
        ];
        for (name, contents) in files {
            self.write_file(rel, name, &contents)?;
        }
        Ok(())
    }

    /// Removes a cgroup (the runtime deletes a container's cgroup when its task exits).
    pub fn remove(&mut self, rel: &Path) -> Result<(), TreeError> {
        let dir = self.abs(rel);
        self.written.retain(|p, _| !p.starts_with(&dir));
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(TreeError {
                op: "rmdir",
                path: dir,
                source,
            }),
        }
    }
}

/// A directory for throwaway trees: tmpfs (`/dev/shm`) when present, else the system temp dir.
pub fn scratch_parent() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::engine::{Demand, Limits};

    #[test]
    fn writes_all_files_atomically_and_removes() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut tree = CgroupTree::new(dir.path());
        let rel = Path::new("kubepods.slice/kubepods-pod1.slice/cri-containerd-x.scope");
        let mut state = CgroupState::default();
        state.step(
            Demand {
                cpu_millis: 200,
                anon_bytes: 8 << 20,
                file_bytes: 1 << 20,
            },
            Limits {
                cpu_millis: Some(500),
                memory_bytes: Some(64 << 20),
            },
            1_000_000,
            2,
        );
        let cfg = CgroupConfig {
            cpu_limit_millis: Some(500),
            cpu_weight: 20,
            memory_max: Some(64 << 20),
        };
        tree.write_cgroup(rel, &state, &cfg)?;
        for f in FILES {
            assert!(tree.abs(rel).join(f).is_file(), "{f} missing");
        }
        let names: Vec<String> = std::fs::read_dir(tree.abs(rel))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert!(
            names.iter().all(|n| !n.ends_with(".tmp")),
            "temp files left: {names:?}"
        );
        assert_eq!(
            std::fs::read_to_string(tree.abs(rel).join("cpu.max"))?,
            "50000 100000\n"
        );
        assert_eq!(
            std::fs::read_to_string(tree.abs(rel).join("memory.max"))?,
            format!("{}\n", 64u64 << 20)
        );
        let stat = std::fs::read_to_string(tree.abs(rel).join("cpu.stat"))?;
        assert!(stat.starts_with("usage_usec 200000\n"), "{stat}");
        assert!(tree.abs(Path::new("kubepods.slice")).is_dir());
        use std::os::unix::fs::MetadataExt;
        let base = tree.abs(rel);
        let inode = |f: &str| std::fs::metadata(base.join(f)).map(|m| m.ino());
        let (max_before, stat_before) = (inode("cpu.max")?, inode("cpu.stat")?);
        state.step(
            Demand {
                cpu_millis: 200,
                anon_bytes: 8 << 20,
                file_bytes: 1 << 20,
            },
            Limits {
                cpu_millis: Some(500),
                memory_bytes: Some(64 << 20),
            },
            1_000_000,
            2,
        );
        tree.write_cgroup(rel, &state, &cfg)?;
        assert_eq!(
            inode("cpu.max")?,
            max_before,
            "unchanged file not rewritten"
        );
        assert_ne!(inode("cpu.stat")?, stat_before, "changed file replaced");
        tree.remove(rel)?;
        assert!(!tree.abs(rel).exists());
        tree.write_cgroup(rel, &state, &cfg)?;
        assert!(
            tree.abs(rel).join("cpu.max").is_file(),
            "rewritten after removal"
        );
        tree.remove(rel)?;
        tree.remove(rel)?;
        Ok(())
    }
}
