//! Component tests: API objects in (as JSON, the way the API server sends them), planner inputs and decisions
//! out, with no API server.

mod cluster;
mod eviction;
mod fixtures;
mod pass;
mod patch;
mod pod;
mod state;
mod usage;
mod vpa;
