//! `make demo`: Tailor's whole pipeline on one machine. A real control plane (the test bed's), the shipped CRDs
//! and least-privilege RBAC, a simulated kubelet running realistic workloads on two nodes, one node-agent per
//! node, the recommender and the updater, each acting as its own ServiceAccount. [`stack::Stack`] brings it up
//! (also used by the pipeline end-to-end test), [`observe`] reads what happens and [`summary`] sums it up.

pub mod components;
mod error;
pub mod manifests;
pub mod observe;
pub mod stack;
pub mod summary;
pub mod table;
pub mod tls;
pub mod workloads;

// Here because this is the one crate that links all three components' metrics.
#[cfg(test)]
mod dashboard_tests;

pub use error::DemoError;
