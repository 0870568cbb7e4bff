//! Parsers of what the benchmarks leave behind: criterion's `estimates.json`, the flat figure files the
//! benches write, `/usr/bin/time -v` reports, and the one summary line the end-to-end tests print. All pure:
//! text in, a figure in base units (nanoseconds, bytes, per second) out.

use serde::Deserialize;

/// Why a figure could not be read from a file's text.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no {0} in the text")]
    NotFound(String),
    #[error("{what} is not a finite number: {text:?}")]
    NotANumber { what: String, text: String },
}

/// Criterion's point estimates of one benchmark, in nanoseconds per iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimates {
    pub mean_ns: f64,
    pub median_ns: f64,
}

#[derive(Deserialize)]
struct RawEstimates {
    mean: RawEstimate,
    median: RawEstimate,
}

#[derive(Deserialize)]
struct RawEstimate {
    point_estimate: f64,
}

/// `target/criterion/<id>/new/estimates.json`.
pub fn criterion_estimates(json: &str) -> Result<Estimates, ParseError> {
    let raw: RawEstimates = serde_json::from_str(json)?;
    Ok(Estimates {
        mean_ns: finite("mean point estimate", raw.mean.point_estimate)?,
        median_ns: finite("median point estimate", raw.median.point_estimate)?,
    })
}

/// One number from a bench's figure file: a flat JSON object of named numbers.
pub fn figure(json: &str, key: &str) -> Result<f64, ParseError> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)?;
    let value = object
        .get(key)
        .ok_or_else(|| ParseError::NotFound(format!("figure {key:?}")))?;
    let number = value.as_f64().ok_or_else(|| ParseError::NotANumber {
        what: key.to_owned(),
        text: value.to_string(),
    })?;
    finite(key, number)
}

/// Peak resident set of a `/usr/bin/time -v` report, in bytes (the report states KiB).
pub fn max_rss_bytes(report: &str) -> Result<f64, ParseError> {
    const LABEL: &str = "Maximum resident set size (kbytes):";
    let line = report
        .lines()
        .find_map(|l| l.trim().strip_prefix(LABEL))
        .ok_or_else(|| ParseError::NotFound(LABEL.to_owned()))?;
    Ok(number("maximum resident set size", line)? * 1024.0)
}

/// A `std::time::Duration` as `{:?}` prints it (`1.5s`, `68.123ms`, `950µs`, `12ns`), in nanoseconds.
pub fn debug_duration_ns(text: &str) -> Option<f64> {
    let text = text.trim();
    // Longest suffixes first: "ms" and "ns" also end in "s".
    let (digits, scale) = [
        ("ms", 1e6),
        ("µs", 1e3),
        ("us", 1e3),
        ("ns", 1.0),
        ("s", 1e9),
    ]
    .into_iter()
    .find_map(|(suffix, scale)| text.strip_suffix(suffix).map(|d| (d, scale)))?;
    let value: f64 = digits.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value * scale)
}

/// The number right after the `markers` (found one after the other) in the last line of `log` that contains
/// `line_tag`.
pub fn number_after(log: &str, line_tag: &str, markers: &[&str]) -> Result<f64, ParseError> {
    let token = token_after(log, line_tag, markers)?;
    number(&markers.join(" … "), token)
}

/// The `Duration` printed right after the `markers` in the last line of `log` that contains `line_tag`, in ns.
pub fn duration_after(log: &str, line_tag: &str, markers: &[&str]) -> Result<f64, ParseError> {
    let token = token_after(log, line_tag, markers)?;
    debug_duration_ns(token).ok_or_else(|| ParseError::NotANumber {
        what: markers.join(" … "),
        text: token.to_owned(),
    })
}

/// The second word, a number, of the last line of `log` whose first word is `label` (a row of a printed table
/// such as `  agent_reopen     6.12 µs   0.081× cgroups-rs`).
pub fn table_row(log: &str, label: &str) -> Result<f64, ParseError> {
    let token = log
        .lines()
        .rev()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(label)).then(|| words.next().unwrap_or_default())
        })
        .ok_or_else(|| ParseError::NotFound(format!("table row {label:?}")))?;
    number(label, token)
}

/// The 1-, 5- and 15-minute load averages of `/proc/loadavg`.
pub fn load_average(proc_loadavg: &str) -> Option<[f64; 3]> {
    let mut fields = proc_loadavg.split_whitespace().map(str::parse::<f64>);
    let mut out = [0.0; 3];
    for slot in &mut out {
        *slot = fields.next()?.ok()?;
    }
    Some(out)
}

/// The CPU model name of `/proc/cpuinfo` (the first one; the machine's cores are alike).
pub fn cpu_model(proc_cpuinfo: &str) -> Option<String> {
    proc_cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn mem_total_bytes(proc_meminfo: &str) -> Option<f64> {
    let rest = proc_meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?;
    let kib: f64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024.0)
}

fn token_after<'a>(log: &'a str, tag: &str, markers: &[&str]) -> Result<&'a str, ParseError> {
    let mut rest = log
        .lines()
        .rev()
        .find(|l| l.contains(tag))
        .ok_or_else(|| ParseError::NotFound(format!("line with {tag:?}")))?;
    for marker in markers {
        rest = rest
            .split_once(marker)
            .map(|(_, after)| after)
            .ok_or_else(|| ParseError::NotFound(format!("{marker:?} in the {tag:?} line")))?;
    }
    Ok(rest
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .next()
        .unwrap_or_default())
}

fn number(what: &str, text: &str) -> Result<f64, ParseError> {
    let value: f64 = text.trim().parse().map_err(|_| ParseError::NotANumber {
        what: what.to_owned(),
        text: text.to_owned(),
    })?;
    finite(what, value)
}

fn finite(what: &str, value: f64) -> Result<f64, ParseError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ParseError::NotANumber {
            what: what.to_owned(),
            text: value.to_string(),
        })
    }
}
