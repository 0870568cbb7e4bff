//! The live table the demo prints every few seconds.

use std::fmt::Write as _;
use std::time::Duration;

use crate::observe::{Amount, Restart, Snapshot};
use crate::workloads::Workload;

fn opt(a: Option<Amount>) -> String {
    a.map_or_else(|| "-".to_owned(), Amount::display)
}

/// One screen: per pod the applied requests and restarts next to its VPA's target and bounds, then the latest
/// events (the updater's actions, the kubelet's resize refusals, OOM kills).
pub fn render(
    elapsed: Duration,
    workloads: &[Workload],
    snap: &Snapshot,
    restarts: &[Restart],
    max_events: usize,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n--- t = {:>4}s {}",
        elapsed.as_secs(),
        "-".repeat(96)
    );
    let _ = writeln!(
        out,
        "{:<8} {:<22} {:<6} {:>15} {:>15} {:>3} | {:<17} {:>15} {:>15} {:>15}",
        "WORKLOAD",
        "POD",
        "NODE",
        "REQUESTS",
        "LIMITS",
        "RST",
        "VPA MODE",
        "TARGET",
        "LOWER",
        "UPPER"
    );
    for w in workloads {
        let vpa = snap.vpas.get(w.name).cloned().unwrap_or_default();
        let pods: Vec<_> = snap.pods.iter().filter(|p| p.workload == w.name).collect();
        if pods.is_empty() {
            let _ = writeln!(out, "{:<8} (no pods yet)", w.name);
        }
        for p in pods {
            let _ = writeln!(
                out,
                "{:<8} {:<22} {:<6} {:>15} {:>15} {:>3} | {:<17} {:>15} {:>15} {:>15}",
                w.name,
                truncate(&p.pod, 22),
                p.node,
                p.requests.display(),
                p.limits.display(),
                p.restarts,
                vpa.mode,
                opt(vpa.target),
                opt(vpa.lower),
                opt(vpa.upper)
            );
        }
    }
    let mut lines: Vec<(jiff::Timestamp, String)> = snap
        .events
        .iter()
        .map(|e| {
            (
                e.time,
                format!(
                    "{:<22} {:<17} {}",
                    truncate(&e.object, 22),
                    e.reason,
                    truncate(&e.message, 90)
                ),
            )
        })
        .collect();
    for r in restarts {
        lines.push((
            r.at,
            format!(
                "{:<22} {:<17} container restarted",
                truncate(&r.pod, 22),
                r.reason
            ),
        ));
    }
    lines.sort();
    let _ = writeln!(out, "events (latest {max_events}):");
    for (t, line) in lines.iter().rev().take(max_events).rev() {
        let _ = writeln!(out, "  {}  {line}", t.strftime("%H:%M:%S"));
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_row_per_pod_and_a_placeholder_for_missing_pods() {
        let workloads = crate::workloads::default_workloads();
        let text = render(
            Duration::from_secs(5),
            &workloads,
            &Snapshot::default(),
            &[],
            5,
        );
        assert_eq!(text.matches("(no pods yet)").count(), workloads.len());
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
