//! The results document: method, per-dataset tables with the goal check, per-trace tables and plot legends.

use std::fmt::Write;

use crate::run::Evaluation;
use crate::table::{GoalCheck, header, row};

pub const BASELINE: &str = "vpa-upstream";
pub const TAILOR: &str = "tailor-defaults";

/// The per-dataset tables and goal lines (what `make eval` prints).
pub fn summary(eval: &Evaluation) -> String {
    let mut out = String::new();
    let pooled = eval.by_dataset();
    let mut datasets: Vec<&str> = Vec::new();
    for (d, _, _) in &pooled {
        if !datasets.contains(&d.as_str()) {
            datasets.push(d);
        }
    }
    for d in datasets {
        let _ = writeln!(out, "\n### Dataset `{d}`\n");
        out.push_str(&header());
        for (_, c, s) in pooled.iter().filter(|(x, _, _)| x == d) {
            out.push_str(&row(c, s));
        }
        if let (Some(t), Some(v)) = (
            eval.dataset_score(d, TAILOR),
            eval.dataset_score(d, BASELINE),
        ) {
            let _ = writeln!(
                out,
                "\nGoal ({TAILOR} vs {BASELINE}): {}",
                GoalCheck::new(&t, &v).describe()
            );
        }
    }
    out
}

/// Every trace, every contender.
pub fn per_trace(eval: &Evaluation) -> String {
    let mut out = String::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    for s in &eval.scores {
        let k = (s.dataset.clone(), s.trace.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (d, t) in keys {
        let _ = writeln!(out, "\n#### `{d}/{t}`\n");
        out.push_str(&header());
        for s in eval
            .scores
            .iter()
            .filter(|s| s.dataset == d && s.trace == t)
        {
            out.push_str(&row(&s.contender, &s.score));
        }
    }
    out
}
