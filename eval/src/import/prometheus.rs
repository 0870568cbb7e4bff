//! A Prometheus range-query export (`/api/v1/query_range` JSON), so users can replay their own clusters: one trace
//! per series, CPU in cores (e.g. `rate(container_cpu_usage_seconds_total[5m])`) or memory in bytes (e.g.
//! `container_memory_working_set_bytes`).

use std::collections::BTreeMap;

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{ImportError, invalid, number};
use crate::trace::{Point, Provisioned, Trace};

/// What the exported series measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PromResource {
    /// Cores.
    Cpu,
    /// Bytes.
    Memory,
}

#[derive(Debug, serde::Deserialize)]
struct Response {
    status: String,
    data: Data,
}

#[derive(Debug, serde::Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Series>,
}

#[derive(Debug, serde::Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Parses the export; each series' static request is `initial` if given, else its peak (the most a
/// hand-sized request would plausibly be). `NaN`/`+Inf` values (stale markers) are skipped.
pub fn parse_prometheus(
    dataset: &str,
    json: &str,
    resource: PromResource,
    initial: Option<i64>,
) -> Result<Vec<Trace>, ImportError> {
    let r: Response = serde_json::from_str(json)?;
    if r.status != "success" {
        return Err(ImportError::PromStatus(r.status));
    }
    if r.data.result_type != "matrix" {
        return Err(ImportError::PromResultType(r.data.result_type));
    }
    let mut traces = Vec::new();
    for (i, s) in r.data.result.into_iter().enumerate() {
        let mut points = Vec::new();
        for (at, v) in &s.values {
            if v == "NaN" || v.ends_with("Inf") {
                continue;
            }
            if !at.is_finite() {
                return Err(invalid(i + 1, "timestamp is not finite"));
            }
            let v = number(i + 1, v, "value")?;
            let at = Timestamp::from_unix_millis((at * 1000.0) as i64);
            points.push(match resource {
                PromResource::Cpu => Point {
                    at,
                    cpu: Some(MilliCpu::from_cores(v)),
                    memory: None,
                },
                PromResource::Memory => Point {
                    at,
                    cpu: None,
                    memory: Some(Bytes::from_f64(v)),
                },
            });
        }
        if points.is_empty() {
            continue;
        }
        let peak = points
            .iter()
            .map(|p| {
                p.cpu
                    .map_or(0, |c| c.get())
                    .max(p.memory.map_or(0, |m| m.get()))
            })
            .max()
            .unwrap_or(0);
        let initial = initial.unwrap_or(peak);
        let provisioned = match resource {
            PromResource::Cpu => Provisioned {
                cpu: MilliCpu(initial),
                memory: Bytes::ZERO,
            },
            PromResource::Memory => Provisioned {
                cpu: MilliCpu(0),
                memory: Bytes(initial),
            },
        };
        let mut t = Trace {
            dataset: dataset.into(),
            name: series_name(&s.metric, i),
            provisioned,
            points,
        };
        t.normalise();
        traces.push(t);
    }
    if traces.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(traces)
}

/// `namespace/pod/container` when the usual labels are there, else all labels, else the series' position.
fn series_name(labels: &BTreeMap<String, String>, index: usize) -> String {
    let usual: Vec<&str> = ["namespace", "pod", "container"]
        .iter()
        .filter_map(|k| labels.get(*k).map(String::as_str))
        .collect();
    if !usual.is_empty() {
        return usual.join("/");
    }
    if labels.is_empty() {
        return format!("series-{index}");
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
