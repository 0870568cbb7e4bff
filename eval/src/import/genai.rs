//! Alibaba cluster-trace v2026 GenAI pod memory: gzip CSV `value,timestamp_anon,container_ip`, many pods in one
//! file, `value` a fraction of the container's memory limit.

use std::collections::BTreeMap;
use std::io::Read;

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{ImportError, invalid, number};
use crate::trace::{Point, Provisioned, Trace};

/// The limit the fractions are taken of (the trace is anonymised); also the static request. No CPU in the trace.
pub const GENAI_MEMORY_LIMIT: Bytes = Bytes(16 * 1024 * 1024 * 1024);
const HEADER: &str = "value,timestamp_anon,container_ip";

/// Reads the gzip file and splits it into one trace per `container_ip` (an empty one is named `unnamed`).
pub fn read_genai_gz(dataset: &str, gz: impl Read) -> Result<Vec<Trace>, ImportError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut text)?;
    parse_genai(dataset, &text)
}

pub fn parse_genai(dataset: &str, text: &str) -> Result<Vec<Trace>, ImportError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim()).unwrap_or("");
    if header != HEADER {
        return Err(ImportError::Header {
            expected: HEADER.into(),
            found: header.chars().take(40).collect(),
        });
    }
    let mut pods: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for (i, raw) in lines {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = raw.split(',').collect();
        let [value, ts, ip] = f.as_slice() else {
            return Err(invalid(line, format!("{} fields, expected 3", f.len())));
        };
        let fraction = number(line, value, "value")?;
        let secs = number(line, ts, "timestamp_anon")?;
        let name = match ip.trim() {
            "" => "unnamed".to_owned(),
            s => s.to_owned(),
        };
        pods.entry(name).or_default().push(Point {
            at: Timestamp::from_unix_millis((secs * 1000.0) as i64),
            cpu: None,
            memory: Some(GENAI_MEMORY_LIMIT.scale(fraction)),
        });
    }
    if pods.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(pods
        .into_iter()
        .map(|(name, points)| {
            let mut t = Trace {
                dataset: dataset.into(),
                name,
                provisioned: Provisioned {
                    cpu: MilliCpu(0),
                    memory: GENAI_MEMORY_LIMIT,
                },
                points,
            };
            t.normalise();
            t
        })
        .collect())
}
