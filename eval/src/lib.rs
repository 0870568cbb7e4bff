//! Trace-replay evaluation: import public usage traces (or a Prometheus export of your own cluster), replay them
//! minute by minute in virtual time through competing recommenders, model what their requests and limits would
//! have done to the workload (OOM kills, throttling, contention), and score slack against harm.
//!
//! Every contender sees the same filled-in samples in the same order and goes through the same resize policy, so
//! the scores differ only by what each recommender asked for.

pub mod contender;
pub mod fill;
pub mod import;
pub mod planner;
pub mod plot;
pub mod policy;
pub mod replay;
pub mod report;
pub mod run;
pub mod score;
pub mod sweep;
pub mod table;
pub mod trace;
