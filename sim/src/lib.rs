//! Simulated kubelet for Tailor's test bed.
//!
//! It registers Node objects, runs the pods the real scheduler binds to them, keeps a cgroup v2 tree named the
//! way the kubelet and its runtime name it, drives usage from workload models, enforces CPU and memory limits
//! (throttling, OOM kill and restart), and carries out in-place resizes with the real conditions. The pure
//! parts (naming, file formats, limit enforcement, workload models, the resize decision) take `now` or elapsed
//! time as a parameter and are tested without a cluster.

pub mod cgroup;
pub mod cli;
pub mod contention;
pub mod kubelet;
pub mod naming;
pub mod node;
pub mod pod;
pub mod quantity;
pub mod resize;
pub mod status;
pub mod trace;
pub mod truth;
pub mod workload;
