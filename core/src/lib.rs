//! Tailor's pure core: integer quantities, decaying histograms, the usage model and the estimators that turn
//! history into recommendations. Nothing here does I/O, reads a clock or touches Kubernetes types: callers pass
//! `now` in and convert at the edges, so every rule can be tested with plain values.

pub mod estimate;
pub mod histogram;
pub mod model;
pub mod plan;
pub mod quantity;
pub mod report;
pub mod time;
