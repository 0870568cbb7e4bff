//! What a row of the summary is: where its figure comes from, its goal, its same-run baseline and the command
//! that produced it. The rows themselves are in `rows.rs`.

/// The unit a figure is kept in; every figure is an `f64` in the base unit of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds.
    Time,
    Bytes,
    /// Things per second; the label names the things.
    Rate(&'static str),
}

/// Where a figure is read from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Criterion's median for `id` (its folder under `target/criterion`), divided by `per` (the elements one
    /// iteration handles) to get the time per element.
    Criterion { id: &'static str, per: f64 },
    /// `elements` per criterion iteration of `id`, as a rate per second (from the median).
    CriterionRate { id: &'static str, elements: f64 },
    /// A number a benchmark wrote to `<figures dir>/<file>`, a flat JSON object.
    Figure {
        file: &'static str,
        key: &'static str,
    },
    /// The peak resident set of a `/usr/bin/time -v` report saved as `<figures dir>/<file>`.
    MaxRss { file: &'static str },
    /// A number from the log an end-to-end test printed, saved as `<figures dir>/<file>`.
    Log {
        file: &'static str,
        parse: LogFigure,
    },
}

/// How a figure is found in a log.
#[derive(Debug, Clone, Copy)]
pub enum LogFigure {
    /// The last line containing `line`; the number right after the markers of `after` found one after the
    /// other (so a second "p99" can be told from the first), times `scale` to get the base unit.
    Number {
        line: &'static str,
        after: &'static [&'static str],
        scale: f64,
    },
    /// As `Number`, for a `Duration` printed with `{:?}`.
    Duration {
        line: &'static str,
        after: &'static [&'static str],
    },
    /// The last line of a printed table whose first word is `label`; its second word, times `scale`.
    TableRow { label: &'static str, scale: f64 },
}

/// The goal a figure is held to, in its base unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// The issue sets none; the figure is reported for comparison only.
    None,
    AtMost(f64),
    AtLeast(f64),
}

impl Goal {
    /// Whether `value` meets the goal; `None` when there is no goal.
    pub fn met(self, value: f64) -> Option<bool> {
        match self {
            Goal::None => None,
            Goal::AtMost(limit) => Some(value <= limit),
            Goal::AtLeast(floor) => Some(value >= floor),
        }
    }
}

/// The figure a row is divided by, measured in the same run.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    pub name: &'static str,
    pub source: Source,
}

/// One row of the summary table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub bench: &'static str,
    pub figure: &'static str,
    pub unit: Unit,
    pub source: Source,
    pub goal: Goal,
    pub baseline: Option<Baseline>,
    /// The command that produced the figure; `{BENCH_ARGS}` stands for the criterion arguments of the run.
    pub command: &'static str,
    /// What the reader needs to weigh the figure (where the goal comes from, what is measured); may be empty.
    pub note: &'static str,
}

/// The placeholder in commands for the criterion arguments `make bench` passed (`BENCH_ARGS`).
pub const BENCH_ARGS: &str = "{BENCH_ARGS}";

/// A row's command as it was run: the placeholder replaced by `bench_args`, or dropped (with the `--`
/// before it) when there were none.
pub fn command_line(command: &str, bench_args: &str) -> String {
    let bench_args = bench_args.trim();
    if bench_args.is_empty() {
        command
            .replace(&format!(" -- {BENCH_ARGS}"), "")
            .replace(BENCH_ARGS, "")
    } else {
        command.replace(BENCH_ARGS, bench_args)
    }
}
