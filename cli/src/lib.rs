//! `tailor`, the command line. `tailor report` is the dry run operators ask for before turning anything on:
//! per VPA and container, the requests and limits the pods have now, the VPA's recommendation, the change, the
//! savings summed over replicas (negative: the workload needs more, flagged under-provisioned) and risk flags,
//! as a table, JSON or CSV. It only reads: VPAs and pods in scope, ReplicaSets and Jobs (to match pods to
//! workloads the same way the recommender does), and Tailor's checkpoint ConfigMaps (OOM floors, history).
//!
//! Layout: [`fetch`] reads the cluster into a [`assemble::Snapshot`]; [`assemble`] turns it into a
//! [`report::Report`] as a pure function of the snapshot and `now`; [`savings`] holds the integer math;
//! [`render`] prints it. [`run`] is the edge that ties them to flags, the wall clock and stdout.

pub mod amount;
pub mod args;
pub mod assemble;
pub mod fetch;
pub mod pod_facts;
pub mod render;
pub mod report;
pub mod run;
pub mod savings;
