//! Importers for the recorded traces in `shared/traces/` (see its README for the formats). A trace becomes a
//! list of samples at offsets from its first timestamp; replay holds each sample until the next one and loops.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use thiserror::Error;

/// A trace file could not be used.
#[derive(Debug, Error)]
pub enum TraceError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("no samples{0}")]
    Empty(String),
}

/// Supported trace formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// Bitbrains GWA-T-12 `;`-separated VM trace (CPU MHz, memory KB).
    Bitbrains,
    /// Alibaba 2018 as shipped in vasim: `TIMESTAMP,CPU_USAGE_ACTUAL` (CPU only, a scale).
    Alibaba2018,
    /// Alibaba GenAI 2026 `value,timestamp_anon,container_ip`, gzip or plain (memory only, fraction of limit).
    AlibabaGenai,
}

/// How to turn unitless trace values into millicores and bytes. A dimension the trace lacks is held constant
/// at one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub cpu_millis_per_unit: u64,
    pub bytes_per_unit: u64,
}

/// One replay sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub offset_ms: u64,
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// A loaded trace, sorted by offset; the first sample is at offset 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    samples: Vec<Sample>,
    /// Length of one loop: the last offset plus the median step.
    period_ms: u64,
}

fn perr(line: usize, message: impl Into<String>) -> TraceError {
    TraceError::Parse {
        line,
        message: message.into(),
    }
}

fn scaled(value: f64, unit: u64, line: usize) -> Result<u64, TraceError> {
    if !value.is_finite() || value < 0.0 {
        return Err(perr(
            line,
            format!("value {value} is not a finite non-negative number"),
        ));
    }
    let v = (value * unit as f64).round();
    if v > 1e18 {
        return Err(perr(line, "value too large"));
    }
    Ok(v as u64)
}

fn num(field: &str, line: usize) -> Result<f64, TraceError> {
    field
        .trim()
        .parse::<f64>()
        .map_err(|_| perr(line, format!("not a number: {:?}", field.trim())))
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2023.04.02-00:09:00:000` → Unix milliseconds.
fn alibaba_timestamp_ms(s: &str, line: usize) -> Result<i64, TraceError> {
    let bad = || perr(line, format!("bad timestamp {s:?}"));
    let (date, time) = s.trim().split_once('-').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('.')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if d.len() != 3 || t.len() != 4 || !(1..=12).contains(&d[1]) || !(1..=31).contains(&d[2]) {
        return Err(bad());
    }
    let days = days_from_civil(d[0], d[1], d[2]);
    Ok(((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + t[3])
}

impl Trace {
    /// Loads a trace file. `series` picks one container of a multi-series file (alibaba-genai); without it the
    /// largest series is used.
    pub fn load(
        path: &Path,
        format: TraceFormat,
        series: Option<&str>,
        units: Units,
    ) -> Result<Self, TraceError> {
        let io = |source| TraceError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        if path.extension().is_some_and(|e| e == "gz") {
            flate2::read::GzDecoder::new(file)
                .read_to_string(&mut text)
                .map_err(io)?;
        } else {
            std::io::BufReader::new(file)
                .read_to_string(&mut text)
                .map_err(io)?;
        }
        Self::parse(&text, format, series, units)
    }

    /// Parses trace text (already decompressed).
    pub fn parse(
        text: &str,
        format: TraceFormat,
        series: Option<&str>,
        units: Units,
    ) -> Result<Self, TraceError> {
        let mut points: Vec<(i64, u64, u64)> = Vec::new();
        match format {
            TraceFormat::Bitbrains => {
                for (i, line) in text.lines().enumerate().skip(1) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let f: Vec<&str> = line.split(';').collect();
                    if f.len() < 7 {
                        return Err(perr(i + 1, "expected at least 7 ;-separated fields"));
                    }
                    let ts = num(f[0], i + 1)? as i64 * 1000;
                    let cores = num(f[1], i + 1)?;
                    let cap_mhz = num(f[2], i + 1)?;
                    let used_mhz = num(f[3], i + 1)?;
                    let mem_kb = num(f[6], i + 1)?;
                    let used_cores = if cap_mhz > 0.0 {
                        used_mhz / (cap_mhz / cores)
                    } else {
                        0.0
                    };
                    points.push((
                        ts,
                        scaled(used_cores, 1000, i + 1)?,
                        scaled(mem_kb, 1024, i + 1)?,
                    ));
                }
            }
            TraceFormat::Alibaba2018 => {
                for (i, line) in text.lines().enumerate().skip(1) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let (ts, v) = line
                        .split_once(',')
                        .ok_or_else(|| perr(i + 1, "expected TIMESTAMP,VALUE"))?;
                    let cpu = scaled(num(v, i + 1)?, units.cpu_millis_per_unit, i + 1)?;
                    points.push((alibaba_timestamp_ms(ts, i + 1)?, cpu, units.bytes_per_unit));
                }
            }
            TraceFormat::AlibabaGenai => {
                let mut by_series: BTreeMap<&str, Vec<(i64, u64, u64)>> = BTreeMap::new();
                for (i, line) in text.lines().enumerate().skip(1) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let f: Vec<&str> = line.split(',').collect();
                    if f.len() != 3 {
                        return Err(perr(i + 1, "expected value,timestamp_anon,container_ip"));
                    }
                    let mem = scaled(num(f[0], i + 1)?, units.bytes_per_unit, i + 1)?;
                    let ts = (num(f[1], i + 1)? * 1000.0) as i64;
                    by_series.entry(f[2].trim()).or_default().push((
                        ts,
                        units.cpu_millis_per_unit,
                        mem,
                    ));
                }
                points = match series {
                    Some(name) => by_series
                        .remove(name)
                        .ok_or_else(|| TraceError::Empty(format!(" for series {name:?}")))?,
                    None => by_series
                        .into_values()
                        .max_by_key(Vec::len)
                        .unwrap_or_default(),
                };
            }
        }
        Self::from_points(points)
    }

    fn from_points(mut points: Vec<(i64, u64, u64)>) -> Result<Self, TraceError> {
        if points.is_empty() {
            return Err(TraceError::Empty(String::new()));
        }
        points.sort_by_key(|p| p.0);
        let t0 = points[0].0;
        let samples: Vec<Sample> = points
            .iter()
            .map(|&(t, c, m)| Sample {
                offset_ms: u64::try_from(t - t0).unwrap_or(0),
                cpu_millis: c,
                memory_bytes: m,
            })
            .collect();
        let mut steps: Vec<u64> = samples
            .windows(2)
            .map(|w| w[1].offset_ms - w[0].offset_ms)
            .filter(|s| *s > 0)
            .collect();
        steps.sort_unstable();
        let step = steps.get(steps.len() / 2).copied().unwrap_or(60_000);
        let period_ms = samples.last().map_or(0, |s| s.offset_ms) + step;
        Ok(Trace { samples, period_ms })
    }

    /// All samples.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The sample in force at `t_ms` into the replay (held until the next sample; loops at the end).
    pub fn at(&self, t_ms: u64) -> Sample {
        let t = t_ms % self.period_ms.max(1);
        let idx = self
            .samples
            .partition_point(|s| s.offset_ms <= t)
            .saturating_sub(1);
        self.samples[idx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UNITS: Units = Units {
        cpu_millis_per_unit: 10,
        bytes_per_unit: 1 << 30,
    };

    #[test]
    fn bitbrains_converts_mhz_and_kb() -> Result<(), TraceError> {
        let text = "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tx\n\
                    1000;\t2;\t4000.0;\t1000.0;\t25;\t8000;\t1024.0;\t0\n\
                    1300;\t2;\t4000.0;\t3000.0;\t75;\t8000;\t2048.0;\t0\n";
        let t = Trace::parse(text, TraceFormat::Bitbrains, None, UNITS)?;
        assert_eq!(
            t.samples()[0],
            Sample {
                offset_ms: 0,
                cpu_millis: 500,
                memory_bytes: 1 << 20
            }
        );
        assert_eq!(
            t.samples()[1],
            Sample {
                offset_ms: 300_000,
                cpu_millis: 1500,
                memory_bytes: 2 << 20
            }
        );
        assert_eq!(t.at(299_999).cpu_millis, 500);
        assert_eq!(t.at(300_000).cpu_millis, 1500);
        assert_eq!(t.at(600_000).cpu_millis, 500, "loops after last + step");
        Ok(())
    }

    #[test]
    fn alibaba_2018_timestamps() -> Result<(), TraceError> {
        let text = "TIMESTAMP,CPU_USAGE_ACTUAL\n2023.04.02-00:09:00:000,7.2\n2023.04.02-00:10:00:000,7.04\n2023.04.03-00:09:00:000,1\n";
        let t = Trace::parse(text, TraceFormat::Alibaba2018, None, UNITS)?;
        assert_eq!(t.samples()[1].offset_ms, 60_000);
        assert_eq!(t.samples()[2].offset_ms, 86_400_000);
        assert_eq!(t.samples()[0].cpu_millis, 72);
        assert_eq!(t.samples()[0].memory_bytes, 1 << 30);
        assert!(
            Trace::parse(
                "h\n2023.13.02-00:09:00:000,1\n",
                TraceFormat::Alibaba2018,
                None,
                UNITS
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn genai_picks_series() -> Result<(), TraceError> {
        let text = "value,timestamp_anon,container_ip\n0.5,100.0,a\n0.25,160.0,a\n0.1,100.0,b\n";
        let a = Trace::parse(text, TraceFormat::AlibabaGenai, Some("a"), UNITS)?;
        assert_eq!(a.samples().len(), 2);
        assert_eq!(a.samples()[0].memory_bytes, 1 << 29);
        assert_eq!(a.samples()[1].offset_ms, 60_000);
        assert!(Trace::parse(text, TraceFormat::AlibabaGenai, Some("zz"), UNITS).is_err());
        assert_eq!(
            Trace::parse(text, TraceFormat::AlibabaGenai, None, UNITS)?
                .samples()
                .len(),
            2
        );
        Ok(())
    }

    #[test]
    fn real_shared_traces_load() -> Result<(), TraceError> {
        let base = Path::new("/work/shared/traces");
        if !base.exists() {
            return Err(TraceError::Empty(" (shared traces folder missing)".into()));
        }
        let b = Trace::load(
            &base.join("bitbrains-rnd/2013-7/1.csv"),
            TraceFormat::Bitbrains,
            None,
            UNITS,
        )?;
        assert!(b.samples().len() > 1000);
        let a = Trace::load(
            &base.join("alibaba-2018/c_12104.csv"),
            TraceFormat::Alibaba2018,
            None,
            UNITS,
        )?;
        assert!(a.samples().len() > 1000);
        let g = Trace::load(
            &base.join("alibaba-genai-2026/pod_memory_util.csv.gz"),
            TraceFormat::AlibabaGenai,
            None,
            UNITS,
        )?;
        assert!(g.samples().len() > 100);
        Ok(())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,300}") {
            for f in [TraceFormat::Bitbrains, TraceFormat::Alibaba2018, TraceFormat::AlibabaGenai] {
                let _ = Trace::parse(&s, f, None, UNITS);
            }
        }

        #[test]
        fn lookup_holds_values(offsets in proptest::collection::btree_set(0u64..1_000_000, 1..50), t in 0u64..5_000_000) {
            let points: Vec<(i64, u64, u64)> = offsets.iter().map(|o| (*o as i64, *o, 0)).collect();
            let trace = Trace::from_points(points).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let s = trace.at(t);
            let local = t % trace.period_ms;
            prop_assert!(s.offset_ms <= local || s.offset_ms == 0);
        }
    }
}
