//! Simulated kubelet for Tailor's test bed.
//!
//! It registers Node objects, runs the pods the real scheduler binds to them, keeps a cgroup v2 tree named the
//! way the kubelet and its runtime name it, drives usage from workload models, enforces CPU and memory limits
//! (throttling, OOM kill and restart), and carries out in-place resizes with the real conditions. The pure
//! parts (naming, file formats, limit enforcement, workload models, the resize decision) take `now` or elapsed
//! time as a parameter and are tested without a cluster.
//!
//! # Using it
//! - In-process (tests): [`kubelet::run`] with [`kubelet::Clients::PerNode`] (one `system:node:<name>`
//!   client per node, so the Node authorizer and NodeRestriction apply) or `Clients::Shared`, a
//!   [`kubelet::SimConfig`] (build one from [`cli::Args`]), a [`kubelet::SimView`] for ground truth, and a
//!   shutdown future.
//! - As a process: `tailor-sim-kubelet --node-kubeconfig-dir DIR --node-names a,b --cpu 4 --memory 8Gi
//!   --cgroup-root /dev/shm/tailor-sim/cgroup --truth-file truth.json` (every flag has a `SIM_*` env fallback).
//!
//! # What a pod gets
//! - Workload: the annotation `sim.tailor.dev/workload` holds a model for all containers or a map by container
//!   name (see [`workload`]): `constant`, `diurnal`, `spiky`, `startup_burst`, `leak`, `trace` (bitbrains,
//!   alibaba-2018, alibaba-genai files). Without it, `--workload` applies.
//! - cgroups: node `N` writes under `<cgroup-root>/N/` exactly the paths the kubelet would use under
//!   `/sys/fs/cgroup` (systemd or cgroupfs driver, containerd or CRI-O names; see [`naming`]), with a sandbox
//!   leaf and a pod-level cgroup whose counters include exited containers.
//! - Status: phases, Ready after `--ready-delay-ms`, container IDs, restartCount and lastState (OOMKilled,
//!   exit 137), `resources`/`allocatedResources`, resize conditions with observedGeneration, Events.
//! - Ground truth: [`truth`] (JSON file and [`kubelet::SimView::truth`]) lists each running container's
//!   counters exactly as written, for comparing readers against.

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
