//! tailor-recommender: ingests node-agent reports over HTTPS, keeps decaying histograms per workload
//! container (tailor-core's model and estimators) and writes recommendations into the status of the
//! `VerticalPodAutoscaler` objects that name it.

pub mod args;
pub mod checkpoint;
pub mod import;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod pods;
pub mod recommend;
pub mod run;
pub mod state;
pub mod status;
pub mod stores;
