//! Decision-table tests for the planner, one rule per test, plus property tests.

mod boost;
mod eviction;
mod fixtures;
mod follow;
mod limit;
mod off;
mod per_resource;
mod props;
mod table;
