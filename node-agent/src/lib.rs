//! tailor-node-agent: samples every container's cgroup v2 files on its node, exports them as Prometheus
//! metrics and reports per-container summaries to the recommender.
//!
//! Layout: [`cgroup`] reads and parses files; [`discovery`] maps container IDs to cgroup directories;
//! [`pods`] keeps the index of this node's pods (fed by a kube watch); [`sampler`] turns samples into deltas and
//! summaries; [`reporter`] delivers reports; [`metrics`] and [`admin`] serve `/metrics`, `/live`, `/ready`;
//! [`agent`] wires them together for `main.rs`.

pub mod admin;
pub mod agent;
pub mod cgroup;
pub mod config;
pub mod discovery;
pub mod fixture;
pub mod metrics;
pub mod pods;
pub mod reporter;
pub mod run;
pub mod sampler;
