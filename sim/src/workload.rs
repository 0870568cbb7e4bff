//! Workload models: what a container wants (CPU, anonymous memory, page cache) as a pure function of the time
//! since the container started. Randomness is a hash of (seed, time slot), so a model replays identically.
//!
//! Models are configured as JSON, e.g. in the pod annotation `sim.tailor.dev/workload`:
//! `{"kind":"leak","cpu":"100m","memory":"32Mi","leak_per_second":"4Mi"}`, or per container:
//! `{"app":{"kind":"constant","cpu":"250m","memory":"64Mi"}}`.

use crate::cgroup::engine::Demand;
use crate::naming::splitmix64;
use crate::quantity::{QuantityError, parse_bytes, parse_cpu_millis};
use crate::trace::Trace;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// The annotation holding a pod's workload model.
pub const WORKLOAD_ANNOTATION: &str = "sim.tailor.dev/workload";

/// A workload configuration was refused.
#[derive(Debug, Error)]
pub enum WorkloadError {
    #[error("workload JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("workload field {field}: {source}")]
    Quantity {
        field: &'static str,
        source: QuantityError,
    },
    #[error("workload: {0}")]
    Invalid(String),
    #[error("workload trace: {0}")]
    Trace(#[from] crate::trace::TraceError),
}

/// A workload model with all quantities resolved to integers.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Flat demand.
    Constant { cpu_millis: u64, memory: u64 },
    /// A sine day: demand swings between min and max over `period_ms`, starting at `phase_ms`.
    Diurnal {
        cpu_min: u64,
        cpu_max: u64,
        memory_min: u64,
        memory_max: u64,
        period_ms: u64,
        phase_ms: u64,
    },
    /// A base load with short seeded spikes: each `interval_ms` slot has a spike with probability `chance_pct`.
    Spiky {
        cpu_base: u64,
        cpu_spike: u64,
        memory: u64,
        memory_spike: u64,
        interval_ms: u64,
        spike_ms: u64,
        chance_pct: u64,
        seed: u64,
    },
    /// A JVM-like start: high CPU for `burst_ms`, then steady; memory ramps up during the burst.
    StartupBurst {
        cpu_burst: u64,
        burst_ms: u64,
        cpu_steady: u64,
        memory: u64,
    },
    /// Memory grows by `leak_per_s` bytes per second from `memory_start`.
    Leak {
        cpu_millis: u64,
        memory_start: u64,
        leak_per_s: u64,
    },
    /// Replay of a recorded trace, `speedup` trace-seconds per second, holding each sample for its step and
    /// adding seeded multiplicative noise of ±`noise_pct` percent per second.
    Trace {
        trace: Arc<Trace>,
        speedup: u64,
        noise_pct: u64,
        seed: u64,
    },
}

/// A model plus the page cache the workload keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub model: Model,
    pub page_cache: u64,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawModel {
    Constant {
        cpu: String,
        memory: String,
        page_cache: Option<String>,
    },
    Diurnal {
        cpu_min: String,
        cpu_max: String,
        memory_min: String,
        memory_max: String,
        period_seconds: Option<u64>,
        phase_seconds: Option<u64>,
        page_cache: Option<String>,
    },
    Spiky {
        cpu: String,
        cpu_spike: String,
        memory: String,
        memory_spike: Option<String>,
        interval_seconds: Option<u64>,
        spike_seconds: Option<u64>,
        chance_percent: Option<u64>,
        seed: Option<u64>,
        page_cache: Option<String>,
    },
    StartupBurst {
        cpu_burst: String,
        burst_seconds: u64,
        cpu: String,
        memory: String,
        page_cache: Option<String>,
    },
    Leak {
        cpu: String,
        memory: String,
        leak_per_second: String,
        page_cache: Option<String>,
    },
    Trace {
        path: String,
        format: crate::trace::TraceFormat,
        /// Which series in a multi-series file (alibaba-genai: container_ip).
        series: Option<String>,
        /// Millicores for a CPU value of 1.0 (alibaba-2018's unit is a scale, not cores).
        cpu_unit: Option<String>,
        /// Bytes for a memory value of 1.0 (alibaba-genai gives a fraction of the limit).
        memory_unit: Option<String>,
        speedup: Option<u64>,
        noise_percent: Option<u64>,
        seed: Option<u64>,
        page_cache: Option<String>,
    },
}

fn cpu(field: &'static str, s: &str) -> Result<u64, WorkloadError> {
    parse_cpu_millis(s).map_err(|source| WorkloadError::Quantity { field, source })
}

fn mem(field: &'static str, s: &str) -> Result<u64, WorkloadError> {
    parse_bytes(s).map_err(|source| WorkloadError::Quantity { field, source })
}

fn cache(s: &Option<String>) -> Result<u64, WorkloadError> {
    s.as_deref().map_or(Ok(0), |s| mem("page_cache", s))
}

impl Workload {
    /// Parses one model from JSON.
    pub fn from_json(text: &str) -> Result<Self, WorkloadError> {
        let raw: RawModel = serde_json::from_str(text)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawModel) -> Result<Self, WorkloadError> {
        let (model, page_cache) = match raw {
            RawModel::Constant {
                cpu: c,
                memory,
                page_cache,
            } => (
                Model::Constant {
                    cpu_millis: cpu("cpu", &c)?,
                    memory: mem("memory", &memory)?,
                },
                cache(&page_cache)?,
            ),
            RawModel::Diurnal {
                cpu_min,
                cpu_max,
                memory_min,
                memory_max,
                period_seconds,
                phase_seconds,
                page_cache,
            } => {
                let period_ms = period_seconds.unwrap_or(86_400).max(1) * 1000;
                (
                    Model::Diurnal {
                        cpu_min: cpu("cpu_min", &cpu_min)?,
                        cpu_max: cpu("cpu_max", &cpu_max)?,
                        memory_min: mem("memory_min", &memory_min)?,
                        memory_max: mem("memory_max", &memory_max)?,
                        period_ms,
                        phase_ms: phase_seconds.unwrap_or(0) * 1000,
                    },
                    cache(&page_cache)?,
                )
            }
            RawModel::Spiky {
                cpu: c,
                cpu_spike,
                memory,
                memory_spike,
                interval_seconds,
                spike_seconds,
                chance_percent,
                seed,
                page_cache,
            } => {
                let interval_ms = interval_seconds.unwrap_or(60).max(1) * 1000;
                let spike_ms = spike_seconds.unwrap_or(5) * 1000;
                if spike_ms > interval_ms {
                    return Err(WorkloadError::Invalid(
                        "spike_seconds must not exceed interval_seconds".into(),
                    ));
                }
                let memory = mem("memory", &memory)?;
                (
                    Model::Spiky {
                        cpu_base: cpu("cpu", &c)?,
                        cpu_spike: cpu("cpu_spike", &cpu_spike)?,
                        memory,
                        memory_spike: memory_spike
                            .as_deref()
                            .map_or(Ok(memory), |s| mem("memory_spike", s))?,
                        interval_ms,
                        spike_ms,
                        chance_pct: chance_percent.unwrap_or(50).min(100),
                        seed: seed.unwrap_or(0),
                    },
                    cache(&page_cache)?,
                )
            }
            RawModel::StartupBurst {
                cpu_burst,
                burst_seconds,
                cpu: c,
                memory,
                page_cache,
            } => (
                Model::StartupBurst {
                    cpu_burst: cpu("cpu_burst", &cpu_burst)?,
                    burst_ms: burst_seconds * 1000,
                    cpu_steady: cpu("cpu", &c)?,
                    memory: mem("memory", &memory)?,
                },
                cache(&page_cache)?,
            ),
            RawModel::Leak {
                cpu: c,
                memory,
                leak_per_second,
                page_cache,
            } => (
                Model::Leak {
                    cpu_millis: cpu("cpu", &c)?,
                    memory_start: mem("memory", &memory)?,
                    leak_per_s: mem("leak_per_second", &leak_per_second)?,
                },
                cache(&page_cache)?,
            ),
            RawModel::Trace {
                path,
                format,
                series,
                cpu_unit,
                memory_unit,
                speedup,
                noise_percent,
                seed,
                page_cache,
            } => {
                let units = crate::trace::Units {
                    cpu_millis_per_unit: cpu_unit
                        .as_deref()
                        .map_or(Ok(1000), |s| cpu("cpu_unit", s))?,
                    bytes_per_unit: memory_unit
                        .as_deref()
                        .map_or(Ok(1 << 30), |s| mem("memory_unit", s))?,
                };
                let trace = Trace::load(
                    std::path::Path::new(&path),
                    format,
                    series.as_deref(),
                    units,
                )?;
                (
                    Model::Trace {
                        trace: Arc::new(trace),
                        speedup: speedup.unwrap_or(1).max(1),
                        noise_pct: noise_percent.unwrap_or(0).min(100),
                        seed: seed.unwrap_or(0),
                    },
                    cache(&page_cache)?,
                )
            }
        };
        Ok(Workload { model, page_cache })
    }

    /// Demand at `since_start_ms` after the container started.
    pub fn demand(&self, since_start_ms: u64) -> Demand {
        let (cpu_millis, anon_bytes) = self.model.cpu_and_memory(since_start_ms);
        Demand {
            cpu_millis,
            anon_bytes,
            file_bytes: self.page_cache,
        }
    }
}

fn lerp(min: u64, max: u64, frac: f64) -> u64 {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    lo + ((hi - lo) as f64 * frac.clamp(0.0, 1.0)).round() as u64
}

impl Model {
    fn cpu_and_memory(&self, t_ms: u64) -> (u64, u64) {
        match self {
            Model::Constant { cpu_millis, memory } => (*cpu_millis, *memory),
            Model::Diurnal {
                cpu_min,
                cpu_max,
                memory_min,
                memory_max,
                period_ms,
                phase_ms,
            } => {
                let pos = ((t_ms + phase_ms) % period_ms) as f64 / *period_ms as f64;
                // Trough at phase 0, peak at half a period.
                let frac = 0.5 - 0.5 * (pos * std::f64::consts::TAU).cos();
                (
                    lerp(*cpu_min, *cpu_max, frac),
                    lerp(*memory_min, *memory_max, frac),
                )
            }
            Model::Spiky {
                cpu_base,
                cpu_spike,
                memory,
                memory_spike,
                interval_ms,
                spike_ms,
                chance_pct,
                seed,
            } => {
                let slot = t_ms / interval_ms;
                let h = splitmix64(seed ^ splitmix64(slot));
                let spiking = h % 100 < *chance_pct && {
                    let room = interval_ms - spike_ms;
                    let start = if room == 0 { 0 } else { (h >> 8) % (room + 1) };
                    let offset = t_ms % interval_ms;
                    offset >= start && offset < start + spike_ms
                };
                if spiking {
                    (*cpu_spike, *memory_spike)
                } else {
                    (*cpu_base, *memory)
                }
            }
            Model::StartupBurst {
                cpu_burst,
                burst_ms,
                cpu_steady,
                memory,
            } => {
                if t_ms < *burst_ms {
                    let frac = 0.5 + 0.5 * t_ms as f64 / *burst_ms as f64;
                    (*cpu_burst, lerp(0, *memory, frac))
                } else {
                    (*cpu_steady, *memory)
                }
            }
            Model::Leak {
                cpu_millis,
                memory_start,
                leak_per_s,
            } => {
                let grown = u128::from(*leak_per_s) * u128::from(t_ms) / 1000;
                (
                    *cpu_millis,
                    memory_start.saturating_add(u64::try_from(grown).unwrap_or(u64::MAX)),
                )
            }
            Model::Trace {
                trace,
                speedup,
                noise_pct,
                seed,
            } => {
                let trace_ms = t_ms.saturating_mul(*speedup);
                let s = trace.at(trace_ms);
                if *noise_pct == 0 {
                    return (s.cpu_millis, s.memory_bytes);
                }
                let h = splitmix64(seed ^ splitmix64(t_ms / 1000));
                let spread = 2 * noise_pct + 1;
                let pct = 100 + (h % spread) - noise_pct;
                (s.cpu_millis * pct / 100, s.memory_bytes)
            }
        }
    }
}

/// A pod's workload configuration: one model for every container, or one per container name.
#[derive(Debug, Clone, PartialEq)]
pub enum PodWorkload {
    All(Workload),
    PerContainer(BTreeMap<String, Workload>),
}

impl PodWorkload {
    /// Parses the annotation value: either a model (`{"kind":...}`) or a map of container name → model.
    pub fn from_json(text: &str) -> Result<Self, WorkloadError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        match &value {
            serde_json::Value::Object(map) if map.contains_key("kind") => Ok(PodWorkload::All(
                Workload::from_raw(serde_json::from_value(value)?)?,
            )),
            serde_json::Value::Object(map) => {
                let mut out = BTreeMap::new();
                for (name, v) in map {
                    out.insert(
                        name.clone(),
                        Workload::from_raw(serde_json::from_value(v.clone())?)?,
                    );
                }
                Ok(PodWorkload::PerContainer(out))
            }
            _ => Err(WorkloadError::Invalid("expected a JSON object".into())),
        }
    }

    /// The model for one container, if configured.
    pub fn for_container(&self, name: &str) -> Option<&Workload> {
        match self {
            PodWorkload::All(w) => Some(w),
            PodWorkload::PerContainer(m) => m.get(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constant_and_leak() -> Result<(), WorkloadError> {
        let w = Workload::from_json(
            r#"{"kind":"constant","cpu":"250m","memory":"64Mi","page_cache":"8Mi"}"#,
        )?;
        assert_eq!(
            w.demand(0),
            Demand {
                cpu_millis: 250,
                anon_bytes: 64 << 20,
                file_bytes: 8 << 20
            }
        );
        assert_eq!(w.demand(99_999_999), w.demand(0));
        let l = Workload::from_json(
            r#"{"kind":"leak","cpu":"100m","memory":"32Mi","leak_per_second":"1Mi"}"#,
        )?;
        assert_eq!(l.demand(10_000).anon_bytes, 42 << 20);
        assert_eq!(l.demand(10_500).anon_bytes, (42 << 20) + (1 << 19));
        Ok(())
    }

    #[test]
    fn diurnal_peaks_at_half_period() -> Result<(), WorkloadError> {
        let w = Workload::from_json(
            r#"{"kind":"diurnal","cpu_min":"100m","cpu_max":"1","memory_min":"10Mi","memory_max":"20Mi","period_seconds":100}"#,
        )?;
        assert_eq!(w.demand(0).cpu_millis, 100);
        assert_eq!(w.demand(50_000).cpu_millis, 1000);
        assert_eq!(w.demand(50_000).anon_bytes, 20 << 20);
        assert_eq!(w.demand(100_000).cpu_millis, 100);
        Ok(())
    }

    #[test]
    fn startup_burst_then_steady() -> Result<(), WorkloadError> {
        let w = Workload::from_json(
            r#"{"kind":"startup_burst","cpu_burst":"2","burst_seconds":30,"cpu":"200m","memory":"100Mi"}"#,
        )?;
        assert_eq!(w.demand(1000).cpu_millis, 2000);
        assert!(w.demand(1000).anon_bytes < 100 << 20);
        assert_eq!(w.demand(30_000).cpu_millis, 200);
        assert_eq!(w.demand(30_000).anon_bytes, 100 << 20);
        Ok(())
    }

    #[test]
    fn spiky_is_seeded_and_spikes() -> Result<(), WorkloadError> {
        let text = r#"{"kind":"spiky","cpu":"100m","cpu_spike":"2","memory":"10Mi","interval_seconds":10,"spike_seconds":2,"chance_percent":50,"seed":7}"#;
        let a = Workload::from_json(text)?;
        let b = Workload::from_json(text)?;
        let series: Vec<u64> = (0..10_000).map(|s| a.demand(s * 100).cpu_millis).collect();
        assert_eq!(
            series,
            (0..10_000)
                .map(|s| b.demand(s * 100).cpu_millis)
                .collect::<Vec<_>>()
        );
        let spikes = series.iter().filter(|c| **c == 2000).count();
        // ~50% of slots spike for 2 of 10 s: about 10% of samples; allow a wide band.
        assert!((500..1500).contains(&spikes), "{spikes}");
        let other = Workload::from_json(&text.replace("\"seed\":7", "\"seed\":8"))?;
        assert_ne!(
            series,
            (0..10_000)
                .map(|s| other.demand(s * 100).cpu_millis)
                .collect::<Vec<_>>()
        );
        Ok(())
    }

    #[test]
    fn pod_workload_forms() -> Result<(), WorkloadError> {
        let all = PodWorkload::from_json(r#"{"kind":"constant","cpu":"1","memory":"1Mi"}"#)?;
        assert!(all.for_container("anything").is_some());
        let per =
            PodWorkload::from_json(r#"{"app":{"kind":"constant","cpu":"1","memory":"1Mi"}}"#)?;
        assert!(per.for_container("app").is_some());
        assert!(per.for_container("sidecar").is_none());
        assert!(PodWorkload::from_json("[1]").is_err());
        assert!(Workload::from_json(r#"{"kind":"constant","cpu":"lots","memory":"1Mi"}"#).is_err());
        assert!(
            Workload::from_json(r#"{"kind":"constant","cpu":"1","memory":"1Mi","bogus":1}"#)
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn trace_model_replays_a_shared_trace() -> Result<(), WorkloadError> {
        let json = r#"{"kind":"trace","format":"bitbrains","path":"/work/shared/traces/bitbrains-rnd/2013-7/1.csv","speedup":300}"#;
        let w = Workload::from_json(json)?;
        let Model::Trace { trace, .. } = &w.model else {
            return Err(WorkloadError::Invalid("not a trace".into()));
        };
        // speedup 300: one 5-minute trace sample per wall second.
        assert_eq!(w.demand(0).cpu_millis, trace.samples()[0].cpu_millis);
        assert_eq!(w.demand(1000).anon_bytes, trace.samples()[1].memory_bytes);
        let noisy = Workload::from_json(&json.replace(
            "\"speedup\":300",
            "\"speedup\":300,\"noise_percent\":10,\"seed\":3",
        ))?;
        let base = w.demand(5000).cpu_millis;
        let n = noisy.demand(5000).cpu_millis;
        assert!(
            n * 100 >= base * 90 && n * 100 <= base * 110,
            "{n} vs {base}"
        );
        assert!(Workload::from_json(&json.replace("1.csv", "missing.csv")).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,120}") {
            let _ = PodWorkload::from_json(&s);
        }

        #[test]
        fn diurnal_stays_in_band(t in 0u64..1_000_000_000) {
            let m = Model::Diurnal { cpu_min: 100, cpu_max: 900, memory_min: 5, memory_max: 50, period_ms: 86_400_000, phase_ms: 0 };
            let (c, mem) = m.cpu_and_memory(t);
            prop_assert!((100..=900).contains(&c));
            prop_assert!((5..=50).contains(&mem));
        }
    }
}
