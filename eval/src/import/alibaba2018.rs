//! Alibaba cluster-trace v2018 container CPU as shipped by vasim: `TIMESTAMP,CPU_USAGE_ACTUAL`, one a minute.

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{ImportError, civil::unix_seconds_from_civil, invalid, number};
use crate::trace::{Point, Provisioned, Trace};

/// The trace gives CPU as a percentage of the container's requested cores without saying how many; the replay
/// assumes 4 cores (so 100 = 4 cores), which is also the static request. The trace has no memory.
pub const ALIBABA_2018_REQUEST: MilliCpu = MilliCpu(4000);
const HEADER: &str = "TIMESTAMP,CPU_USAGE_ACTUAL";

pub fn parse_alibaba_2018(dataset: &str, name: &str, text: &str) -> Result<Trace, ImportError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim()).unwrap_or("");
    if header != HEADER {
        return Err(ImportError::Header {
            expected: HEADER.into(),
            found: header.chars().take(40).collect(),
        });
    }
    let mut points = Vec::new();
    for (i, raw) in lines {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (ts, value) = raw
            .split_once(',')
            .ok_or_else(|| invalid(line, "expected TIMESTAMP,CPU_USAGE_ACTUAL"))?;
        let at = parse_timestamp(ts.trim()).ok_or_else(|| {
            invalid(
                line,
                format!("timestamp {ts:?} is not YYYY.MM.DD-hh:mm:ss:mmm"),
            )
        })?;
        let pct = number(line, value, "CPU_USAGE_ACTUAL")?;
        points.push(Point {
            at,
            cpu: Some(MilliCpu::from_cores(
                pct / 100.0 * ALIBABA_2018_REQUEST.as_cores(),
            )),
            memory: None,
        });
    }
    if points.is_empty() {
        return Err(ImportError::Empty);
    }
    let mut t = Trace {
        dataset: dataset.into(),
        name: name.into(),
        provisioned: Provisioned {
            cpu: ALIBABA_2018_REQUEST,
            memory: Bytes::ZERO,
        },
        points,
    };
    t.normalise();
    Ok(t)
}

/// `2023.04.02-00:09:00:000` (UTC).
pub(crate) fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let (date, time) = s.split_once('-')?;
    let d: Vec<i64> = date
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let ([y, mo, da], [h, mi, se, ms]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let valid = (1..=12).contains(mo)
        && (1..=31).contains(da)
        && (0..24).contains(h)
        && (0..60).contains(mi)
        && (0..=60).contains(se)
        && (0..1000).contains(ms)
        && (1..=9999).contains(y);
    valid.then(|| {
        Timestamp::from_unix_millis(unix_seconds_from_civil(*y, *mo, *da, *h, *mi, *se) * 1000 + ms)
    })
}
