//! The human-readable table: one line per VPA container, columns padded to their widest cell, then totals and
//! any warnings.

use tailor_core::time::Timestamp;

use crate::amount::Amount;
use crate::report::{Report, ResourceRow, ResourceTotals, Row};
use crate::savings::percent;

const HEADER: [&str; 15] = [
    "NAMESPACE",
    "WORKLOAD",
    "CONTAINER",
    "MODE",
    "PODS",
    "CPU REQ",
    "CPU LIM",
    "CPU REC",
    "CPU CHANGE",
    "CPU SAVED",
    "MEM REQ",
    "MEM LIM",
    "MEM REC",
    "MEM CHANGE",
    "MEM SAVED",
];

/// Lays out `rows` (each as long as `header`, or shorter) with two spaces between columns and no trailing
/// spaces; a last column named in `header` but empty everywhere still gets its title.
pub fn format_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".to_owned(), f)
}

/// `-76%`, `+34%`, `new` (a request appears where there was none), `-` without a target.
fn change<T: Amount>(r: &ResourceRow<T>) -> String {
    match (r.savings, r.change_percent) {
        (None, _) => "-".into(),
        (Some(_), Some(0)) => "0%".into(),
        (Some(_), Some(p)) => format!("{p:+}%"),
        (Some(s), None) if s.raw() < 0 => "new".into(),
        (Some(_), None) => "0%".into(),
    }
}

fn resource_cells<T: Amount>(r: &ResourceRow<T>) -> [String; 5] {
    let request = match (&r.request, r.replicas_without_request) {
        (None, _) => "-".to_owned(),
        (Some(s), 0) => s.human(),
        (Some(s), n) => format!("{} ({n} unset)", s.human()),
    };
    [
        request,
        opt(r.limit.as_ref(), |s| s.human()),
        match r.target {
            Some(t) if r.controlled => t.human(),
            Some(t) => format!("{} (not controlled)", t.human()),
            None => "-".into(),
        },
        change(r),
        opt(r.savings, |s| s.human()),
    ]
}

/// The title after which the recommended-limit column goes, when any row has one.
const MEM_REC: &str = "MEM REC";
/// Tailor's recommended memory limit: shown only when some row has one, so the table stays as narrow as
/// before for clusters without `--memory-limit-policy from-peaks`.
const MEM_LIM_REC: &str = "MEM LIM REC";

fn row_cells(row: &Row, now: Timestamp, limit_column: bool) -> Vec<String> {
    let mut cells = vec![
        row.namespace.clone(),
        format!("{}/{}", row.workload_kind, row.workload_name),
        if row.container.is_empty() {
            "-".to_owned()
        } else {
            row.container.clone()
        },
        row.mode.clone(),
        row.replicas.to_string(),
    ];
    cells.extend(resource_cells(&row.cpu));
    let [request, limit, target, change, saved] = resource_cells(&row.memory);
    cells.extend([request, limit, target]);
    if limit_column {
        cells.push(opt(row.memory.recommended_limit, |l| l.human()));
    }
    cells.extend([change, saved]);
    let flags: Vec<String> = row.flags.iter().map(|f| f.label(now)).collect();
    cells.push(flags.join(" "));
    cells
}

fn totals_line<T: Amount>(name: &str, t: &ResourceTotals<T>) -> String {
    let share = percent(i128::from(t.savings.raw()), i128::from(t.requested.raw()))
        .map_or_else(String::new, |p| format!(" ({p}%)"));
    format!(
        "  {name:<6}  requested {}  recommended {}  savings {}{share}  increases {}\n",
        t.requested.human(),
        t.recommended.human(),
        t.savings.human(),
        t.increases.human(),
    )
}

/// The table, its totals and warnings.
pub fn render_table(report: &Report) -> String {
    let now = Timestamp::from_unix_millis(report.generated_ms);
    let limit_column = report
        .rows
        .iter()
        .any(|r| r.memory.recommended_limit.is_some());
    let mut header = Vec::with_capacity(HEADER.len() + 2);
    for title in HEADER {
        header.push(title);
        if limit_column && title == MEM_REC {
            header.push(MEM_LIM_REC);
        }
    }
    header.push("RISK");
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| row_cells(r, now, limit_column))
        .collect();
    let mut out = if rows.is_empty() {
        "No VerticalPodAutoscalers found.\n".to_owned()
    } else {
        format_table(&header, &rows)
    };
    let t = &report.totals;
    out.push_str(&format!(
        "\nTotals over {} of {} containers with a recommendation (savings = Σ over replicas of request − target; negative = more needed):\n",
        t.rows_with_recommendation, t.rows
    ));
    out.push_str(&totals_line("CPU", &t.cpu));
    out.push_str(&totals_line("memory", &t.memory));
    for w in &report.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_spaces() {
        let text = format_table(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["wide cell".into(), "x".into(), "".into()],
                vec!["y".into(), "zz".into(), "last".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "A          LONG HEADER  C",
                "wide cell  x",
                "y          zz           last",
            ]
        );
        // Every column starts at the same offset on every line.
        let col = |line: &str, needle: &str| line.find(needle);
        assert_eq!(col(lines[0], "LONG"), col(lines[2], "zz"));
        assert_eq!(col(lines[0], "C"), col(lines[2], "last"));
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let text = format_table(&["N", "X"], &[vec!["Σé".into(), "1".into()]]);
        assert_eq!(text, "N   X\nΣé  1\n");
    }
}
