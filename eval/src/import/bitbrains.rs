//! Bitbrains GWA-T-12: `;`-separated, one VM per file, 5-minute averages.

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{ImportError, invalid, number};
use crate::trace::{Point, Provisioned, Trace};

const HEADER_START: &str = "Timestamp";

/// Parses one VM. CPU in cores is usage MHz / (capacity MHz / cores); memory is KiB. The VM's largest
/// provisioned cores and memory are its static request. Rows with no cores or capacity (and no usage) are a VM
/// that was off and give no sample.
pub fn parse_bitbrains(dataset: &str, name: &str, text: &str) -> Result<Trace, ImportError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    if !header.trim_start().starts_with(HEADER_START) {
        return Err(ImportError::Header {
            expected: HEADER_START.into(),
            found: header.chars().take(40).collect(),
        });
    }
    let mut points = Vec::new();
    let mut prov_cores = 0.0f64;
    let mut prov_kib = 0.0f64;
    for (i, raw) in lines {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = raw.split(';').collect();
        if f.len() < 7 {
            return Err(invalid(
                line,
                format!("{} fields, expected at least 7", f.len()),
            ));
        }
        let ts = number(line, f[0], "timestamp")?;
        let cores = number(line, f[1], "CPU cores")?;
        let cap_mhz = number(line, f[2], "CPU capacity")?;
        let use_mhz = number(line, f[3], "CPU usage")?;
        let mem_cap_kib = number(line, f[5], "memory capacity")?;
        let mem_kib = number(line, f[6], "memory usage")?;
        if cores <= 0.0 || cap_mhz <= 0.0 {
            // Rows of zeros are a VM that was not running (three of the 40 files have them): no sample.
            if use_mhz > 0.0 {
                return Err(invalid(line, "CPU usage without CPU cores or capacity"));
            }
            continue;
        }
        let used_cores = use_mhz / (cap_mhz / cores);
        prov_cores = prov_cores.max(cores);
        prov_kib = prov_kib.max(mem_cap_kib);
        points.push(Point {
            at: Timestamp::from_unix_secs(ts as i64),
            cpu: Some(MilliCpu::from_cores(used_cores)),
            memory: Some(Bytes::from_f64(mem_kib * 1024.0)),
        });
    }
    if points.is_empty() {
        return Err(ImportError::Empty);
    }
    let mut t = Trace {
        dataset: dataset.into(),
        name: name.into(),
        provisioned: Provisioned {
            cpu: MilliCpu::from_cores(prov_cores),
            memory: Bytes::from_f64(prov_kib * 1024.0),
        },
        points,
    };
    t.normalise();
    Ok(t)
}
