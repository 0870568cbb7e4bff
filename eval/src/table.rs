//! Results as markdown tables: one row per contender, per dataset and per trace.

use std::fmt::Write;

use crate::score::Score;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1}%", v * 100.0))
}

pub fn header() -> String {
    "| contender | traces | minutes | CPU slack | memory slack | under-provisioned time | CPU under (core·h) | \
     memory under (GiB·h) | contention (CPU>request) | throttled | OOM kills | resizes | disruptive |\n\
     |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        .into()
}

pub fn row(name: &str, s: &Score) -> String {
    let mut out = String::new();
    let contention = if s.cpu_minutes == 0 {
        0.0
    } else {
        s.cpu_under_minutes as f64 / s.cpu_minutes as f64
    };
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
        s.traces,
        s.minutes,
        pct(s.cpu_slack()),
        pct(s.memory_slack()),
        pct(Some(s.under_fraction())),
        s.cpu_under_amount / 1000.0 / 60.0,
        s.memory_under_amount / GIB / 60.0,
        pct(Some(contention)),
        pct(Some(s.throttled_fraction())),
        s.oom_kills,
        s.resizes,
        s.disruptive_resizes,
    );
    out
}

/// The goal for one dataset: at least 30 % less slack than the VPA baseline (per measured resource),
/// no more OOM kills and no more under-provisioned time.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalCheck {
    pub cpu_slack_reduction: Option<f64>,
    pub memory_slack_reduction: Option<f64>,
    pub oom_ok: bool,
    pub under_ok: bool,
}

impl GoalCheck {
    pub fn new(tailor: &Score, vpa: &Score) -> Self {
        let red = |t: Option<f64>, v: Option<f64>| match (t, v) {
            (Some(t), Some(v)) if v > 0.0 => Some(1.0 - t / v),
            _ => None,
        };
        Self {
            cpu_slack_reduction: red(tailor.cpu_slack(), vpa.cpu_slack()),
            memory_slack_reduction: red(tailor.memory_slack(), vpa.memory_slack()),
            oom_ok: tailor.oom_kills <= vpa.oom_kills,
            under_ok: tailor.under_minutes <= vpa.under_minutes,
        }
    }

    pub fn met(&self) -> bool {
        let slack_ok = [self.cpu_slack_reduction, self.memory_slack_reduction]
            .iter()
            .flatten()
            .all(|r| *r >= 0.30);
        slack_ok && self.oom_ok && self.under_ok
    }

    pub fn describe(&self) -> String {
        format!(
            "CPU slack {} vs VPA, memory slack {} vs VPA, OOM kills {}, under-provisioned time {} → goal {}",
            self.cpu_slack_reduction
                .map_or("n/a".into(), |r| format!("{:+.1}% less", r * 100.0)),
            self.memory_slack_reduction
                .map_or("n/a".into(), |r| format!("{:+.1}% less", r * 100.0)),
            if self.oom_ok { "not more" } else { "MORE" },
            if self.under_ok { "not more" } else { "MORE" },
            if self.met() { "MET" } else { "NOT MET" },
        )
    }
}
