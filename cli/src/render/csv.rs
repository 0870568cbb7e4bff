//! CSV (RFC 4180): a header line, then one line per VPA container; amounts in base units, empty cells for
//! unknown values, CRLF-free (`\n`) line ends as most tools expect on Unix.

use tailor_core::time::Timestamp;

use crate::amount::Amount;
use crate::report::{Report, ResourceRow, Spread};

/// A field, quoted when it holds a comma, a quote, a line break or leading/trailing spaces; quotes doubled.
pub fn csv_field(value: &str) -> String {
    let needs_quotes =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn num<T: Amount>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.raw().to_string())
}

fn spread_min<T: Amount>(s: Option<&Spread<T>>) -> String {
    num(s.map(|s| s.min))
}

fn spread_max<T: Amount>(s: Option<&Spread<T>>) -> String {
    num(s.map(|s| s.max))
}

const RESOURCE_COLUMNS: [&str; 12] = [
    "request_min",
    "request_max",
    "limit_min",
    "limit_max",
    "target",
    "lower_bound",
    "upper_bound",
    "requested_total",
    "recommended_total",
    "savings",
    "change_percent",
    "controlled",
];

fn resource_header<T: Amount>(prefix: &str) -> Vec<String> {
    RESOURCE_COLUMNS
        .iter()
        .map(|c| match *c {
            "change_percent" | "controlled" => format!("{prefix}_{c}"),
            _ => format!("{prefix}_{c}_{}", T::UNIT),
        })
        .collect()
}

fn resource_values<T: Amount>(r: &ResourceRow<T>) -> Vec<String> {
    vec![
        spread_min(r.request.as_ref()),
        spread_max(r.request.as_ref()),
        spread_min(r.limit.as_ref()),
        spread_max(r.limit.as_ref()),
        num(r.target),
        num(r.lower_bound),
        num(r.upper_bound),
        r.requested_total.raw().to_string(),
        num(r.recommended_total),
        num(r.savings),
        r.change_percent.map_or_else(String::new, |p| p.to_string()),
        r.controlled.to_string(),
    ]
}

/// The report as CSV.
pub fn render_csv(report: &Report) -> String {
    let now = Timestamp::from_unix_millis(report.generated_ms);
    let mut header: Vec<String> = [
        "namespace",
        "vpa",
        "workload_kind",
        "workload_name",
        "container",
        "mode",
        "replicas",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    header.extend(resource_header::<tailor_core::quantity::MilliCpu>("cpu"));
    header.extend(resource_header::<tailor_core::quantity::Bytes>("memory"));
    // Memory only (CPU has no recommended limit); always present so the columns never shift.
    header.push("memory_recommended_limit_bytes".into());
    header.push("flags".into());
    let mut lines = vec![header];
    for row in &report.rows {
        let mut fields = vec![
            row.namespace.clone(),
            row.vpa.clone(),
            row.workload_kind.clone(),
            row.workload_name.clone(),
            row.container.clone(),
            row.mode.clone(),
            row.replicas.to_string(),
        ];
        fields.extend(resource_values(&row.cpu));
        fields.extend(resource_values(&row.memory));
        fields.push(num(row.memory.recommended_limit));
        let flags: Vec<String> = row.flags.iter().map(|f| f.label(now)).collect();
        fields.push(flags.join("; "));
        lines.push(fields);
    }
    let mut out = String::new();
    for fields in lines {
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A minimal RFC 4180 reader for one record, to check that what we write reads back unchanged.
    fn parse_record(line: &str) -> Vec<String> {
        let mut fields = vec![String::new()];
        let mut chars = line.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            let field = fields.last_mut().expect("one field");
            match (quoted, c) {
                (false, '"') if field.is_empty() => quoted = true,
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (false, ',') => fields.push(String::new()),
                (_, c) => field.push(c),
            }
        }
        fields
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(csv_field("web"), "web");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        assert_eq!(csv_field("-380"), "-380");
    }

    proptest! {
        #[test]
        fn fields_read_back_unchanged(fields in proptest::collection::vec(".{0,12}", 1..6)) {
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            prop_assert_eq!(parse_record(&line.join(",")), fields);
        }
    }
}
