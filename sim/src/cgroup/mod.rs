//! The simulated cgroup v2 tree: file formats, limit enforcement and the atomic writer.

pub mod engine;
pub mod files;
pub mod tree;
