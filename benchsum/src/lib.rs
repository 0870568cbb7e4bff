//! `make bench`'s summary: reads the figures every benchmark of the workspace left behind (criterion's
//! estimates, the figure files benches write, `/usr/bin/time -v` reports, end-to-end test logs), holds each
//! to the goal its issue sets, divides it by its same-run baseline, and renders one table with the command
//! behind each figure.

pub mod collect;
pub mod parse;
pub mod render;
pub mod rows;
pub mod spec;

#[cfg(test)]
mod tests;
