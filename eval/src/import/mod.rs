//! Importers for the trace formats in `shared/traces/` and for a Prometheus range-query export. Each keeps its
//! source's units and states the one assumption it has to make (what a percentage is a percentage of).

mod alibaba2018;
mod bitbrains;
mod civil;
mod genai;
mod prometheus;

pub use alibaba2018::{ALIBABA_2018_REQUEST, parse_alibaba_2018};
pub use bitbrains::parse_bitbrains;
pub use civil::unix_seconds_from_civil;
pub use genai::{GENAI_MEMORY_LIMIT, parse_genai, read_genai_gz};
pub use prometheus::{PromResource, parse_prometheus};

/// Why a trace could not be read. Line numbers count from 1 and include the header.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {reason}")]
    Invalid { line: usize, reason: String },
    #[error("missing or unexpected header: expected {expected:?}, found {found:?}")]
    Header { expected: String, found: String },
    #[error("the trace holds no usable samples")]
    Empty,
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("Prometheus export status is {0:?}, not \"success\"")]
    PromStatus(String),
    #[error("Prometheus export resultType is {0:?}, expected \"matrix\"")]
    PromResultType(String),
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
}

fn invalid(line: usize, reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        line,
        reason: reason.into(),
    }
}

/// A finite, non-negative float, or a typed error naming the column.
fn number(line: usize, field: &str, column: &str) -> Result<f64, ImportError> {
    let v: f64 = field.trim().parse().map_err(|_| {
        invalid(
            line,
            format!("{column}: {:?} is not a number", field.trim()),
        )
    })?;
    if !v.is_finite() || v < 0.0 {
        return Err(invalid(
            line,
            format!("{column}: {v} is not a finite non-negative number"),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests;
