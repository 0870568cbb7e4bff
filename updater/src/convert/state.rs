//! The planner's per-pod memory kept on the pod itself (annotation `tailor.dev/resize-state`), so an updater
//! restart or a leader change does not forget cooldowns, back-offs, the Infeasible and Deferred caches, OOM
//! floors or the resize being followed through, and so does not cause a burst of repeated resizes.
//!
//! The value is compact JSON with a version field. It is outside input when read back (anyone can edit a
//! pod's annotations), so it is parsed strictly into typed values; anything malformed is an error the caller
//! logs, and the pod is then planned as if nothing were remembered — never a panic.

use serde::{Deserialize, Serialize};
use tailor_core::plan::memory::{ChangedAt, HeldAttempt};
use tailor_core::plan::{
    ContainerChange, OomFloor, PodMemory, Requirements, ResizeKind, ResizeRecord, ResourceValues,
};
use tailor_core::time::Timestamp;

/// Annotation the updater writes its per-pod memory into.
pub const STATE_ANNOTATION: &str = "tailor.dev/resize-state";

const VERSION: u32 = 1;
/// A state larger than this is refused (a pod has at most a few dozen containers).
const MAX_LEN: usize = 64 * 1024;

/// Why a stored state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state annotation is {0} bytes, over the {MAX_LEN}-byte limit")]
    TooLarge(usize),
    #[error("malformed state annotation: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported state version {0}")]
    Version(u32),
    #[error("negative quantity in the state annotation")]
    Negative,
    #[error("unknown resize kind {0:?}")]
    Kind(String),
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Stored {
    v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<StoredResize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    infeasible: Option<Vec<StoredChange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deferred: Option<StoredHeld>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backoff_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oom_handled_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    oom_floors: Vec<StoredFloor>,
    /// When CPU and memory last changed (unix ms); absent in states written before per-resource cooldowns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cpu_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mem_at: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct StoredResize {
    at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
    kind: String,
    changes: Vec<StoredChange>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct StoredHeld {
    until: i64,
    changes: Vec<StoredChange>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct StoredFloor {
    container: String,
    bytes: i64,
    until: i64,
}

/// One container's change; each value is millicores or bytes, absent when the field is unset.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct StoredChange {
    name: String,
    before: [Option<i64>; 4],
    after: [Option<i64>; 4],
}

fn flatten(r: &Requirements) -> [Option<i64>; 4] {
    [
        r.requests.cpu.map(|c| c.0),
        r.requests.memory.map(|b| b.0),
        r.limits.cpu.map(|c| c.0),
        r.limits.memory.map(|b| b.0),
    ]
}

fn unflatten(v: [Option<i64>; 4]) -> Result<Requirements, StateError> {
    if v.iter().flatten().any(|x| *x < 0) {
        return Err(StateError::Negative);
    }
    Ok(Requirements {
        requests: ResourceValues::new(v[0], v[1]),
        limits: ResourceValues::new(v[2], v[3]),
    })
}

fn store_changes(changes: &[ContainerChange]) -> Vec<StoredChange> {
    changes
        .iter()
        .map(|c| StoredChange {
            name: c.name.clone(),
            before: flatten(&c.before),
            after: flatten(&c.after),
        })
        .collect()
}

fn load_changes(changes: Vec<StoredChange>) -> Result<Vec<ContainerChange>, StateError> {
    changes
        .into_iter()
        .map(|c| {
            Ok(ContainerChange {
                name: c.name,
                before: unflatten(c.before)?,
                after: unflatten(c.after)?,
            })
        })
        .collect()
}

fn kind_name(k: ResizeKind) -> &'static str {
    match k {
        ResizeKind::Resize => "resize",
        ResizeKind::Revert => "revert",
        ResizeKind::Boost => "boost",
        ResizeKind::Unboost => "unboost",
    }
}

fn kind_from(s: &str) -> Result<ResizeKind, StateError> {
    Ok(match s {
        "resize" => ResizeKind::Resize,
        "revert" => ResizeKind::Revert,
        "boost" => ResizeKind::Boost,
        "unboost" => ResizeKind::Unboost,
        other => return Err(StateError::Kind(other.to_owned())),
    })
}

fn ms(t: Timestamp) -> i64 {
    t.unix_millis()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

/// The annotation value for `m`.
pub fn format_state(m: &PodMemory) -> String {
    let stored = Stored {
        v: VERSION,
        last: m.last_resize.as_ref().map(|r| StoredResize {
            at: ms(r.at),
            generation: r.generation,
            kind: kind_name(r.kind).to_owned(),
            changes: store_changes(&r.changes),
        }),
        infeasible: m.infeasible.as_deref().map(store_changes),
        deferred: m.deferred.as_ref().map(|d| StoredHeld {
            until: ms(d.until),
            changes: store_changes(&d.changes),
        }),
        backoff_until: m.backoff_until.map(ms),
        oom_handled_at: m.oom_handled_at.map(ms),
        oom_floors: m
            .oom_floors
            .iter()
            .map(|f| StoredFloor {
                container: f.container.clone(),
                bytes: f.memory_bytes,
                until: ms(f.until),
            })
            .collect(),
        cpu_at: m.changed_at.cpu.map(ms),
        mem_at: m.changed_at.memory.map(ms),
    };
    // Serializing plain structs of strings and integers cannot fail; an empty object is the safe fallback.
    serde_json::to_string(&stored).unwrap_or_else(|_| format!("{{\"v\":{VERSION}}}"))
}

/// Reads an annotation value back.
pub fn parse_state(s: &str) -> Result<PodMemory, StateError> {
    if s.len() > MAX_LEN {
        return Err(StateError::TooLarge(s.len()));
    }
    let stored: Stored = serde_json::from_str(s)?;
    if stored.v != VERSION {
        return Err(StateError::Version(stored.v));
    }
    let last_resize = match stored.last {
        Some(r) => Some(ResizeRecord {
            at: ts(r.at),
            generation: r.generation,
            kind: kind_from(&r.kind)?,
            changes: load_changes(r.changes)?,
        }),
        None => None,
    };
    let infeasible = stored.infeasible.map(load_changes).transpose()?;
    let deferred = match stored.deferred {
        Some(d) => Some(HeldAttempt {
            changes: load_changes(d.changes)?,
            until: ts(d.until),
        }),
        None => None,
    };
    let mut oom_floors = Vec::with_capacity(stored.oom_floors.len());
    for f in stored.oom_floors {
        if f.bytes < 0 {
            return Err(StateError::Negative);
        }
        oom_floors.push(OomFloor {
            container: f.container,
            memory_bytes: f.bytes,
            until: ts(f.until),
        });
    }
    Ok(PodMemory {
        last_resize,
        infeasible,
        backoff_until: stored.backoff_until.map(ts),
        deferred,
        oom_handled_at: stored.oom_handled_at.map(ts),
        oom_floors,
        changed_at: ChangedAt {
            cpu: stored.cpu_at.map(ts),
            memory: stored.mem_at.map(ts),
        },
    })
}

/// The memory stored on a pod, if any; a malformed value is logged and ignored.
pub fn stored_memory(pod: &k8s_openapi::api::core::v1::Pod) -> Option<PodMemory> {
    let value = pod.metadata.annotations.as_ref()?.get(STATE_ANNOTATION)?;
    match parse_state(value) {
        Ok(m) => Some(m),
        Err(error) => {
            tracing::warn!(pod = pod.metadata.name.as_deref().unwrap_or_default(), %error, "ignoring a malformed resize-state annotation");
            None
        }
    }
}
