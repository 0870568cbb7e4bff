//! The stored form of a histogram: a short run of integer weights, normalised so the largest is 10 000, plus the
//! total weight that restores their scale. Upstream VPA checkpoints the same information as a map; a run is about
//! half the size because bucket numbers are implied, and typical containers fill a contiguous span.

use std::time::Duration;

use super::{DecayingHistogram, HistogramError, HistogramOptions};
use crate::time::Timestamp;

/// Checkpoint format version; bump when the meaning of any field changes.
pub const CHECKPOINT_VERSION: u32 = 1;

const MAX_CHECKPOINT_WEIGHT: f64 = 10_000.0;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistogramCheckpoint {
    #[serde(rename = "v")]
    pub version: u32,
    /// Bucket layout `[first bucket size, ratio, bucket count]` the weights belong to.
    #[serde(rename = "l")]
    pub layout: (f64, f64, u16),
    /// Decay reference, unix milliseconds; absent for a histogram that never saw a sample.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<i64>,
    #[serde(rename = "t")]
    pub total_weight: f64,
    /// Bucket index of `weights[0]`.
    #[serde(rename = "o")]
    pub first_bucket: u16,
    #[serde(rename = "w")]
    pub weights: Vec<u32>,
}

fn layout_of(options: &HistogramOptions) -> (f64, f64, u16) {
    (
        options.first_bucket_size(),
        options.ratio(),
        u16::try_from(options.num_buckets()).unwrap_or(u16::MAX),
    )
}

impl DecayingHistogram {
    /// The compact stored form. Weights lose precision to 1/10 000 of the largest bucket (as upstream's do): the
    /// cumulative weight below any bucket moves by at most (occupied buckets / 10 000) of the largest bucket's
    /// share, so a restored percentile p lies between the original's at p - e and p + e, e at most 1.8 % for the
    /// CPU layout and far less for histograms fed with many samples. Across a gap between sparse samples that can
    /// be more than a bucket.
    pub fn to_checkpoint(&self) -> HistogramCheckpoint {
        let max = self.buckets().map(|(_, w)| w).fold(0.0, f64::max);
        let mut first = 0usize;
        let mut weights = Vec::new();
        if max > 0.0 {
            for (b, w) in self.buckets() {
                let scaled = (w / max * MAX_CHECKPOINT_WEIGHT).round() as u32;
                if weights.is_empty() {
                    if scaled == 0 {
                        continue;
                    }
                    first = b;
                }
                weights.push(scaled);
            }
            while weights.last() == Some(&0) {
                weights.pop();
            }
        }
        HistogramCheckpoint {
            version: CHECKPOINT_VERSION,
            layout: layout_of(self.options()),
            reference: self.reference().map(Timestamp::unix_millis),
            total_weight: if weights.is_empty() {
                0.0
            } else {
                self.total_weight()
            },
            first_bucket: u16::try_from(first).unwrap_or(u16::MAX),
            weights,
        }
    }

    /// Restores a histogram from its stored form, refusing anything that does not fit this layout.
    pub fn from_checkpoint(
        options: HistogramOptions,
        half_life: Duration,
        cp: &HistogramCheckpoint,
    ) -> Result<Self, HistogramError> {
        if cp.version != CHECKPOINT_VERSION {
            return Err(HistogramError::UnsupportedVersion(
                cp.version,
                CHECKPOINT_VERSION,
            ));
        }
        if cp.layout != layout_of(&options) {
            return Err(HistogramError::LayoutMismatch(format!(
                "stored {:?}, expected {:?}",
                cp.layout,
                layout_of(&options)
            )));
        }
        if !(cp.total_weight.is_finite() && cp.total_weight >= 0.0) {
            return Err(HistogramError::Malformed(
                "total weight must be finite and not negative",
            ));
        }
        let first = usize::from(cp.first_bucket);
        if first + cp.weights.len() > options.num_buckets() {
            return Err(HistogramError::Malformed(
                "weights run past the last bucket",
            ));
        }
        let sum: f64 = cp.weights.iter().map(|&w| f64::from(w)).sum();
        if sum == 0.0 {
            let reference = cp.reference.map(Timestamp::from_unix_millis);
            return Ok(Self::from_parts(
                options,
                half_life,
                reference,
                0,
                Vec::new(),
                0.0,
            ));
        }
        let ratio = cp.total_weight / sum;
        let weights = cp.weights.iter().map(|&w| f64::from(w) * ratio).collect();
        Ok(Self::from_parts(
            options,
            half_life,
            cp.reference.map(Timestamp::from_unix_millis),
            first,
            weights,
            cp.total_weight,
        ))
    }
}
