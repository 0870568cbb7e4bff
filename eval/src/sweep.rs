//! A grid of Tailor settings scored against the upstream VPA on every dataset at once: where the slack/harm
//! frontier lies, so "is the goal reachable by tuning?" has a measured answer rather than a guess.
//!
//! Every grid point starts from Tailor's defaults (limit = request for memory, as upstream) and changes the
//! knobs that trade slack for harm: CPU target percentile and half-life, the memory peak window, percentile and
//! half-life, and the safety margin. One setting applies to every trace of every dataset; nothing is picked
//! per trace.

use std::fmt::Write;
use std::time::Duration;

use tailor_core::estimate::EstimatorConfig;
use tailor_core::model::AggregateConfig;

use crate::contender::{ContenderSpec, TailorVariant};
use crate::report::BASELINE;
use crate::run::Evaluation;
use crate::table::GoalCheck;

const HOUR: u64 = 3600;

/// Upstream keeps 8 days of memory peaks; the grid keeps that history whatever the window.
const PEAK_HISTORY: Duration = Duration::from_secs(8 * 24 * HOUR);

/// One point of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub cpu_percentile: f64,
    pub cpu_half_life_min: u64,
    pub cpu_margin: f64,
    pub memory_window_h: u64,
    pub memory_percentile: f64,
    pub memory_half_life_h: u64,
    pub margin: f64,
}

impl Point {
    pub fn name(&self) -> String {
        format!(
            "sweep-cpu-p{}-{}m-margin{}-mem-p{}-w{}h-{}h-margin{}",
            (self.cpu_percentile * 100.0).round(),
            self.cpu_half_life_min,
            (self.cpu_margin * 100.0).round(),
            (self.memory_percentile * 100.0).round(),
            self.memory_window_h,
            self.memory_half_life_h,
            (self.margin * 100.0).round(),
        )
    }

    pub fn variant(&self) -> TailorVariant {
        let base = TailorVariant::defaults();
        let window = Duration::from_secs(self.memory_window_h * HOUR);
        TailorVariant {
            name: self.name(),
            aggregate: AggregateConfig {
                cpu_half_life: Duration::from_secs(self.cpu_half_life_min * 60),
                memory_half_life: Duration::from_secs(self.memory_half_life_h * HOUR),
                memory_aggregation_interval: window,
                memory_aggregation_interval_count: u32::try_from(
                    PEAK_HISTORY.as_secs() / window.as_secs().max(1),
                )
                .unwrap_or(u32::MAX),
                ..base.aggregate
            },
            estimator: EstimatorConfig {
                target_cpu_percentile: self.cpu_percentile,
                // A target above the upper bound would put every freshly resized pod out of bounds again.
                upper_bound_cpu_percentile: base
                    .estimator
                    .upper_bound_cpu_percentile
                    .max(self.cpu_percentile),
                target_memory_percentile: self.memory_percentile,
                cpu_safety_margin_fraction: self.cpu_margin,
                memory_safety_margin_fraction: self.margin,
                ..base.estimator
            },
            throttling_signal: base.throttling_signal,
        }
    }
}

/// The grid `make eval-sweep` scores: CPU settings with memory at the defaults, then memory settings with CPU
/// at the defaults (the two resources are scored apart except for under-provisioned time, which counts either).
pub fn grid() -> Vec<Point> {
    let d = defaults_point();
    let mut out = Vec::new();
    for cpu_percentile in [0.8, 0.9, 0.95, 0.99] {
        for cpu_half_life_min in [5, 15, 30, 60] {
            for cpu_margin in [0.0, 0.05, 0.1, 0.15] {
                out.push(Point {
                    cpu_percentile,
                    cpu_half_life_min,
                    cpu_margin,
                    ..d
                });
            }
        }
    }
    for memory_window_h in [1, 24] {
        for memory_percentile in [0.8, 0.9, 0.95] {
            for memory_half_life_h in [6, 24] {
                for margin in [0.05, 0.1, 0.15] {
                    out.push(Point {
                        memory_window_h,
                        memory_percentile,
                        memory_half_life_h,
                        margin,
                        ..d
                    });
                }
            }
        }
    }
    out.retain(|p| *p != d);
    out
}

/// What `--sweep` runs: the upstream VPA (through the driver at `driver`), Tailor's defaults, then the grid.
pub fn contenders(driver: std::path::PathBuf) -> Vec<ContenderSpec> {
    let mut v = vec![
        ContenderSpec::VpaGo(driver),
        ContenderSpec::Tailor(Box::new(TailorVariant::defaults())),
    ];
    v.extend(
        grid()
            .iter()
            .map(|p| ContenderSpec::Tailor(Box::new(p.variant()))),
    );
    v
}

/// The point that reproduces [`TailorVariant::defaults`].
pub fn defaults_point() -> Point {
    let d = TailorVariant::defaults();
    Point {
        cpu_percentile: d.estimator.target_cpu_percentile,
        cpu_half_life_min: d.aggregate.cpu_half_life.as_secs() / 60,
        cpu_margin: d.estimator.cpu_safety_margin_fraction,
        memory_window_h: d.aggregate.memory_aggregation_interval.as_secs() / HOUR,
        memory_percentile: d.estimator.target_memory_percentile,
        memory_half_life_h: d.aggregate.memory_half_life.as_secs() / HOUR,
        margin: d.estimator.memory_safety_margin_fraction,
    }
}

/// How one grid point (or the defaults) did on one dataset against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetOutcome {
    pub dataset: String,
    pub check: GoalCheck,
}

/// Every contender other than the baseline, with its goal check per dataset.
pub fn outcomes(eval: &Evaluation) -> Vec<(String, Vec<DatasetOutcome>)> {
    let pooled = eval.by_dataset();
    let mut names: Vec<String> = Vec::new();
    let mut datasets: Vec<String> = Vec::new();
    for (d, c, _) in &pooled {
        if c != BASELINE && !names.contains(c) {
            names.push(c.clone());
        }
        if !datasets.contains(d) {
            datasets.push(d.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let per = datasets
                .iter()
                .filter_map(|d| {
                    let t = eval.dataset_score(d, &name)?;
                    let v = eval.dataset_score(d, BASELINE)?;
                    Some(DatasetOutcome {
                        dataset: d.clone(),
                        check: GoalCheck::new(&t, &v),
                    })
                })
                .collect();
            (name, per)
        })
        .collect()
}

fn cut(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), |r| format!("{:+.0}%", r * 100.0))
}

/// Markdown: one row per contender; per dataset the slack cut against the baseline (CPU / memory) and whether
/// OOM kills and under-provisioned time stayed at or below it. Rows that keep both harms in check on every dataset
/// come first, by their smallest slack cut.
pub fn table(eval: &Evaluation) -> String {
    let mut rows = outcomes(eval);
    let harmless = |per: &[DatasetOutcome]| per.iter().all(|o| o.check.oom_ok && o.check.under_ok);
    let worst_cut = |per: &[DatasetOutcome]| {
        per.iter()
            .flat_map(|o| [o.check.cpu_slack_reduction, o.check.memory_slack_reduction])
            .flatten()
            .fold(f64::INFINITY, f64::min)
    };
    rows.sort_by(|a, b| {
        harmless(&b.1)
            .cmp(&harmless(&a.1))
            .then(worst_cut(&b.1).total_cmp(&worst_cut(&a.1)))
    });
    let Some((_, first)) = rows.first() else {
        return String::new();
    };
    let mut out = String::from("| contender | harms ≤ VPA everywhere | smallest cut |");
    let mut rule = String::from("|---|---|---:|");
    for o in first {
        let _ = write!(
            out,
            " `{}` CPU / memory slack cut | OOM ≤ | under ≤ |",
            o.dataset
        );
        rule.push_str("---:|---|---|");
    }
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');
    let yes = |b: bool| if b { "yes" } else { "no" };
    for (name, per) in &rows {
        let _ = write!(
            out,
            "| {name} | {} | {} |",
            yes(harmless(per)),
            cut(Some(worst_cut(per)).filter(|c| c.is_finite()))
        );
        for o in per {
            let _ = write!(
                out,
                " {} / {} | {} | {} |",
                cut(o.check.cpu_slack_reduction),
                cut(o.check.memory_slack_reduction),
                yes(o.check.oom_ok),
                yes(o.check.under_ok)
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_names_are_unique_and_keep_eight_days_of_peaks() {
        let g = grid();
        let mut names: Vec<String> = g.iter().map(Point::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), g.len());
        for p in &g {
            let a = p.variant().aggregate;
            assert_eq!(
                a.memory_aggregation_interval.as_secs()
                    * u64::from(a.memory_aggregation_interval_count),
                PEAK_HISTORY.as_secs()
            );
        }
    }

    #[test]
    fn a_point_matching_the_defaults_builds_the_defaults() {
        let d = TailorVariant::defaults();
        let p = defaults_point();
        let v = p.variant();
        assert_eq!(v.aggregate, d.aggregate);
        assert_eq!(v.estimator, d.estimator);
    }
}
