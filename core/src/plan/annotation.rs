//! Text forms Tailor keeps on pods: the boost policy annotation a user writes and the boost record the updater
//! writes. Both are outside input when read back, so parsing is strict, typed and never panics.
//!
//! Policy: `factor=2,duration=30s[,max=10m]` or `quantity=500m,duration=30s[,max=10m]`.
//! Record: `v1;active=1;since=<unix ms>;c=<name>:<restarts>:<request|->:<limit|->` with one `c=` per container.

use super::boost::{BoostAmount, BoostPolicy, BoostRecord, BoostedContainer};
use super::units::{MilliCpu, at, cpu_value, ms};

/// Annotation a user sets on a pod template or VPA to ask for a startup boost.
pub const BOOST_POLICY_ANNOTATION: &str = "tailor.dev/startup-cpu-boost";
/// Annotation the updater writes with its boost record.
pub const BOOST_RECORD_ANNOTATION: &str = "tailor.dev/boost-state";

/// Why an annotation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    #[error("malformed entry {0:?}")]
    Malformed(String),
    #[error("invalid CPU quantity {0:?}")]
    Cpu(String),
    #[error("invalid duration {0:?} (use e.g. 30s, 5m, 1h)")]
    Duration(String),
    #[error("invalid number {0:?}")]
    Number(String),
    #[error("exactly one of factor and quantity is required")]
    Amount,
    #[error("unsupported record version {0:?}")]
    Version(String),
}

/// Parses a non-negative CPU quantity (`250m`, `2`, `1.5`) with the API server's grammar.
pub fn parse_cpu(s: &str) -> Result<MilliCpu, AnnotationError> {
    MilliCpu::parse_non_negative(s).map_err(|_| AnnotationError::Cpu(s.to_owned()))
}

/// Parses `30s`, `5m`, `1h` or plain seconds into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, AnnotationError> {
    let err = || AnnotationError::Duration(s.to_owned());
    let (num, unit) = match s.char_indices().find(|(_, ch)| !ch.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let mult = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(err()),
    };
    if num.is_empty() {
        return Err(err());
    }
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(err)
}

/// Parses the boost policy annotation.
pub fn parse_boost_policy(s: &str) -> Result<BoostPolicy, AnnotationError> {
    let mut factor = None;
    let mut quantity = None;
    let mut duration_ms = 0;
    let mut max_duration_ms = None;
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| AnnotationError::Malformed(entry.to_owned()))?;
        match k.trim() {
            "factor" => {
                let f: u32 = v
                    .trim()
                    .parse()
                    .map_err(|_| AnnotationError::Number(v.to_owned()))?;
                if f < 1 {
                    return Err(AnnotationError::Number(v.to_owned()));
                }
                factor = Some(f);
            }
            "quantity" => quantity = Some(parse_cpu(v.trim())?),
            "duration" => duration_ms = parse_duration_ms(v.trim())?,
            "max" => max_duration_ms = Some(parse_duration_ms(v.trim())?),
            other => return Err(AnnotationError::UnknownKey(other.to_owned())),
        }
    }
    let amount = match (factor, quantity) {
        (Some(f), None) => BoostAmount::Factor(f),
        (None, Some(q)) => BoostAmount::Quantity(q),
        _ => return Err(AnnotationError::Amount),
    };
    Ok(BoostPolicy {
        amount,
        duration_ms,
        max_duration_ms,
    })
}

fn fmt_cpu(v: Option<MilliCpu>) -> String {
    v.map_or_else(|| "-".to_owned(), |c| format!("{}m", cpu_value(c)))
}

/// The record annotation's value.
pub fn format_boost_record(r: &BoostRecord) -> String {
    let mut out = format!("v1;active={};since={}", u8::from(r.active), ms(r.since));
    for c in &r.containers {
        out.push_str(&format!(
            ";c={}:{}:{}:{}",
            c.name,
            c.restart_count,
            fmt_cpu(c.original_request),
            fmt_cpu(c.original_limit)
        ));
    }
    out
}

/// Reads the record annotation back.
pub fn parse_boost_record(s: &str) -> Result<BoostRecord, AnnotationError> {
    let mut parts = s.split(';');
    let version = parts.next().unwrap_or_default();
    if version != "v1" {
        return Err(AnnotationError::Version(version.to_owned()));
    }
    let mut active = None;
    let mut since = None;
    let mut containers = Vec::new();
    for part in parts {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| AnnotationError::Malformed(part.to_owned()))?;
        match k {
            "active" => {
                active = Some(match v {
                    "1" => true,
                    "0" => false,
                    _ => return Err(AnnotationError::Malformed(part.to_owned())),
                })
            }
            "since" => {
                since = Some(
                    v.parse::<i64>()
                        .map_err(|_| AnnotationError::Number(v.to_owned()))?,
                )
            }
            "c" => {
                let fields: Vec<&str> = v.split(':').collect();
                let [name, restarts, req, lim] = fields[..] else {
                    return Err(AnnotationError::Malformed(part.to_owned()));
                };
                if name.is_empty() {
                    return Err(AnnotationError::Malformed(part.to_owned()));
                }
                let opt = |x: &str| {
                    if x == "-" {
                        Ok(None)
                    } else {
                        parse_cpu(x).map(Some)
                    }
                };
                containers.push(BoostedContainer {
                    name: name.to_owned(),
                    restart_count: restarts
                        .parse()
                        .map_err(|_| AnnotationError::Number(restarts.to_owned()))?,
                    original_request: opt(req)?,
                    original_limit: opt(lim)?,
                });
            }
            other => return Err(AnnotationError::UnknownKey(other.to_owned())),
        }
    }
    match (active, since) {
        (Some(active), Some(since)) => Ok(BoostRecord {
            active,
            since: at(since),
            containers,
        }),
        _ => Err(AnnotationError::Malformed(s.to_owned())),
    }
}
