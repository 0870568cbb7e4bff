//! The summary as Markdown: one table (printed by `make bench` and written to docs/benchmarks.md) and the
//! document around it. Pure: figures and run facts in, text out.

use std::fmt::Write as _;

use crate::collect::Measured;
use crate::spec::{Goal, Row, Unit, command_line};

/// Facts about the run, stated above the table.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// When the summary was made, already formatted.
    pub date: String,
    pub load_start: Option<[f64; 3]>,
    pub load_end: Option<[f64; 3]>,
    pub cpus: Option<usize>,
    pub cpu_model: Option<String>,
    pub mem_total_bytes: Option<f64>,
    /// Criterion arguments of the run (`BENCH_ARGS`).
    pub bench_args: String,
    /// Free text about the machine's state (e.g. shared with builds).
    pub note: String,
}

/// How many rows met, missed, had no goal, or had no figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub met: usize,
    pub not_met: usize,
    pub no_goal: usize,
    pub missing: usize,
}

/// The table: benchmark, figure, value, goal, ratio to the same-run baseline, met, command.
pub fn table(rows: &[Row], measured: &[Measured], bench_args: &str) -> (String, Tally) {
    let mut out = String::from(
        "| Benchmark | Figure | Value | Goal | vs same-run baseline | Met | Command |\n\
         |---|---|---:|---|---|---|---|\n",
    );
    let mut tally = Tally::default();
    for (row, m) in rows.iter().zip(measured) {
        let (value, met) = match &m.value {
            Ok(v) => {
                let met = match row.goal.met(*v) {
                    Some(true) => {
                        tally.met += 1;
                        "yes"
                    }
                    Some(false) => {
                        tally.not_met += 1;
                        "**no**"
                    }
                    None => {
                        tally.no_goal += 1;
                        "no goal"
                    }
                };
                (format_value(row.unit, *v), met)
            }
            Err(_) => {
                tally.missing += 1;
                ("missing".to_owned(), "missing")
            }
        };
        let ratio = match (&m.value, &m.baseline, row.baseline) {
            (Ok(v), Some(Ok(b)), Some(baseline)) if *b > 0.0 => format!(
                "{}× {} ({})",
                significant(v / b),
                baseline.name,
                format_value(row.unit, *b)
            ),
            (_, Some(Err(_)), Some(baseline)) => format!("{}: missing", baseline.name),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | `{}` |",
            row.bench,
            row.figure,
            value,
            format_goal(row.unit, row.goal),
            ratio,
            met,
            command_line(row.command, bench_args)
        );
    }
    (out, tally)
}

/// The whole docs/benchmarks.md.
pub fn document(info: &RunInfo, rows: &[Row], measured: &[Measured]) -> String {
    let (table, tally) = table(rows, measured, &info.bench_args);
    let mut out = String::from("# Benchmarks\n\n");
    let args = if info.bench_args.trim().is_empty() {
        "none (criterion defaults and each bench's own settings)".to_owned()
    } else {
        format!("`{}`", info.bench_args.trim())
    };
    let _ = writeln!(
        out,
        "Produced by `make bench` on {}; regenerate with the same command (criterion arguments go in \
         `BENCH_ARGS=\"...\"`). Criterion arguments of this run: {args}.\n",
        info.date
    );
    let _ = writeln!(out, "- Machine: {}.", machine(info));
    let _ = writeln!(
        out,
        "- Load average (1, 5, 15 min) at the start: {}; at the end: {}.",
        load(info.load_start),
        load(info.load_end)
    );
    if !info.note.trim().is_empty() {
        let _ = writeln!(out, "- {}", info.note.trim());
    }
    let goals = rows.iter().filter(|r| r.goal != Goal::None).count();
    let _ = writeln!(
        out,
        "- Of {goals} figures with a goal: {} met, {} not met, {} not measured. {} figures have no goal; \
         {} of all {} figures are missing.\n",
        tally.met,
        tally.not_met,
        goals - tally.met - tally.not_met,
        rows.len() - goals,
        tally.missing,
        rows.len()
    );
    out.push_str(
        "Criterion figures are the median of the benchmark's samples (per element where the figure says \
         \"per container\" or \"per pod\"); the ratio column divides a figure by the baseline measured in the \
         same run, shown in brackets.\n\n",
    );
    out.push_str(&table);
    let notes = grouped(
        rows.iter()
            .filter(|r| !r.note.is_empty())
            .map(|r| ((r.bench, r.note), r.figure.to_owned())),
    );
    if !notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for ((bench, note), figures) in notes {
            let _ = writeln!(out, "- {bench} — {}: {note}.", figures.join("; "));
        }
    }
    let missing = grouped(rows.iter().zip(measured).flat_map(|(r, m)| {
        let value = m
            .value
            .as_ref()
            .err()
            .map(|e| (e.to_string(), r.figure.to_owned()));
        let baseline = m
            .baseline
            .as_ref()
            .and_then(|b| b.as_ref().err())
            .map(|e| (e.to_string(), format!("{} (baseline)", r.figure)));
        value.into_iter().chain(baseline)
    }));
    if !missing.is_empty() {
        out.push_str("\n## Missing figures\n\n");
        for (reason, figures) in missing {
            let _ = writeln!(out, "- {reason} — for: {}", figures.join("; "));
        }
    }
    out
}

/// Items grouped by key, keys in order of first appearance.
fn grouped<K: PartialEq>(items: impl Iterator<Item = (K, String)>) -> Vec<(K, Vec<String>)> {
    let mut groups: Vec<(K, Vec<String>)> = Vec::new();
    for (key, item) in items {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(item),
            None => groups.push((key, vec![item])),
        }
    }
    groups
}

fn machine(info: &RunInfo) -> String {
    let mut parts = Vec::new();
    if let Some(n) = info.cpus {
        parts.push(format!("{n} CPUs available"));
    }
    if let Some(model) = &info.cpu_model {
        parts.push(model.clone());
    }
    if let Some(bytes) = info.mem_total_bytes {
        parts.push(format!(
            "{} GiB RAM",
            significant(bytes / (1024.0 * 1024.0 * 1024.0))
        ));
    }
    if parts.is_empty() {
        "unknown".to_owned()
    } else {
        parts.join(", ")
    }
}

fn load(l: Option<[f64; 3]>) -> String {
    l.map_or_else(
        || "not recorded".to_owned(),
        |[a, b, c]| format!("{a:.2}, {b:.2}, {c:.2}"),
    )
}

/// A figure in a readable unit with three significant digits.
pub fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Time => {
            let (scaled, suffix) = if v < 1e3 {
                (v, "ns")
            } else if v < 1e6 {
                (v / 1e3, "µs")
            } else if v < 1e9 {
                (v / 1e6, "ms")
            } else {
                (v / 1e9, "s")
            };
            format!("{} {suffix}", significant(scaled))
        }
        Unit::Bytes => {
            if v < 1024.0 {
                format!("{v:.0} B")
            } else if v < 1024.0 * 1024.0 {
                format!("{} KiB", significant(v / 1024.0))
            } else {
                format!("{} MiB", significant(v / (1024.0 * 1024.0)))
            }
        }
        Unit::Rate(label) => {
            if v >= 1e6 {
                format!("{} M {label}", significant(v / 1e6))
            } else if v >= 1e3 {
                format!("{} k {label}", significant(v / 1e3))
            } else {
                format!("{} {label}", significant(v))
            }
        }
    }
}

fn format_goal(unit: Unit, goal: Goal) -> String {
    let trimmed = |v| {
        let s = format_value(unit, v);
        match s.split_once(' ') {
            Some((n, rest)) if n.contains('.') => {
                format!("{} {rest}", n.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        }
    };
    match goal {
        Goal::None => "—".to_owned(),
        Goal::AtMost(v) => format!("≤ {}", trimmed(v)),
        Goal::AtLeast(v) => format!("≥ {}", trimmed(v)),
    }
}

/// Three significant digits for everyday magnitudes (0.0123, 1.23, 12.3, 123, 1234).
pub fn significant(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 || a == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}
