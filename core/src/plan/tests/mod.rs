//! Decision-table tests for the planner, one rule per test, plus property tests.

mod boost;
mod fixtures;
mod follow;
mod props;
mod table;
