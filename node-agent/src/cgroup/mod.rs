//! Reading cgroup v2 files: format parsers, typed stats, the per-container reader, and change notifications.

pub mod notify;
pub mod parse;
pub mod read;
pub mod stats;

use std::path::Path;

pub use read::{CgroupFiles, FileMode, RawSample, ReadError};

/// `statfs` magic of the cgroup v2 filesystem.
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// Keep files open on the real cgroup v2 filesystem, re-open them anywhere else (see [`read`]).
pub fn detect_file_mode(root: &Path) -> FileMode {
    match rustix::fs::statfs(root) {
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        Ok(s) if s.f_type as u64 == CGROUP2_SUPER_MAGIC => FileMode::KeepOpen,
        _ => FileMode::Reopen,
    }
}
