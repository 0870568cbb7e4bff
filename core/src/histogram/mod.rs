//! Decaying exponential histograms: the memory of how much a container used.
//!
//! The layout and arithmetic follow the upstream VPA recommender (so that, with the same samples, percentiles come
//! out the same), with two differences that change no result: weights are stored only for the span of buckets
//! that ever held weight (a typical container touches a few dozen of 176 buckets), and the serialised form is a
//! short run of normalised integer weights.

mod checkpoint;
mod decaying;
mod options;

pub use checkpoint::HistogramCheckpoint;
pub use decaying::{DecayingHistogram, PercentileMode};
pub use options::HistogramOptions;

/// Why a histogram could not be built or restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    #[error("invalid histogram options: {0}")]
    InvalidOptions(&'static str),
    #[error("checkpoint version {0} is not supported (this build reads version {1})")]
    UnsupportedVersion(u32, u32),
    #[error("checkpoint was written with a different bucket layout ({0})")]
    LayoutMismatch(String),
    #[error("checkpoint is malformed: {0}")]
    Malformed(&'static str),
}

#[cfg(test)]
mod tests;
