//! A histogram whose old samples weigh less: every sample's weight is multiplied by `2^((t − reference)/halfLife)`,
//! so a sample one half-life newer counts twice as much. Instead of shrinking old weights as time passes, new ones
//! grow; the reference moves forward (and all weights are rescaled) before the factor could overflow a float.

use std::time::Duration;

use super::{HistogramError, HistogramOptions};
use crate::time::{Timestamp, duration_millis};

/// Half-lives after the reference beyond which the reference is moved forward (2^100 is far from f64's limit).
const MAX_DECAY_EXPONENT: i64 = 100;

/// How a percentile is read from bucket weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum PercentileMode {
    /// Upstream VPA's rule: the upper edge of the bucket where the running weight reaches the percentile
    /// (the start of the last bucket if it is reached there). Biased up by up to one bucket (5%).
    #[default]
    BucketEnd,
    /// Linear interpolation inside that bucket: removes the bias for a better estimate at the same resolution.
    Interpolate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecayingHistogram {
    options: HistogramOptions,
    half_life: Duration,
    reference: Option<Timestamp>,
    /// Index of the bucket `weights[0]` stands for; buckets outside the stored span weigh zero.
    offset: usize,
    weights: Vec<f64>,
    total_weight: f64,
    /// Span of buckets holding at least epsilon (meaningless while empty), maintained as upstream does.
    min_bucket: usize,
    max_bucket: usize,
}

impl DecayingHistogram {
    pub fn new(options: HistogramOptions, half_life: Duration) -> Self {
        Self {
            options,
            half_life: half_life.max(Duration::from_millis(1)),
            reference: None,
            offset: 0,
            weights: Vec::new(),
            total_weight: 0.0,
            min_bucket: options.num_buckets() - 1,
            max_bucket: 0,
        }
    }

    pub fn options(&self) -> &HistogramOptions {
        &self.options
    }

    pub fn half_life(&self) -> Duration {
        self.half_life
    }

    pub fn reference(&self) -> Option<Timestamp> {
        self.reference
    }

    /// Sum of (decayed) weights, relative to the current reference.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    pub fn is_empty(&self) -> bool {
        self.weight(self.min_bucket) < self.options.epsilon()
    }

    /// Weight currently held by bucket `b`.
    pub fn weight(&self, b: usize) -> f64 {
        b.checked_sub(self.offset)
            .and_then(|i| self.weights.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// Adds a sample of `value` (in the layout's unit) with `weight`, observed at `time`.
    /// Non-finite values and non-positive weights are ignored: they carry no information.
    pub fn add_sample(&mut self, value: f64, weight: f64, time: Timestamp) {
        if value.is_nan() || !(weight > 0.0 && weight.is_finite()) {
            return;
        }
        let w = weight * self.decay_factor(time);
        let b = self.options.find_bucket(value);
        *self.slot_mut(b) += w;
        self.total_weight += w;
        self.min_bucket = self.min_bucket.min(b);
        self.max_bucket = self.max_bucket.max(b);
    }

    /// Removes (up to) `weight` of a sample added earlier with the same value and time.
    pub fn subtract_sample(&mut self, value: f64, weight: f64, time: Timestamp) {
        if value.is_nan() || !(weight > 0.0 && weight.is_finite()) {
            return;
        }
        let decayed = weight * self.decay_factor(time);
        let b = self.options.find_bucket(value);
        let held = self.weight(b);
        let w = decayed.min(held);
        if w <= 0.0 {
            return;
        }
        let slot = self.slot_mut(b);
        *slot -= w;
        let left = *slot;
        self.total_weight -= w;
        if left < self.options.epsilon() {
            self.update_min_max();
        }
    }

    /// Adds every weight of `other` (same layout and half-life), aligning both to the later reference first.
    pub fn merge(&mut self, other: &Self) -> Result<(), HistogramError> {
        if self.options != other.options || self.half_life != other.half_life {
            return Err(HistogramError::InvalidOptions(
                "merged histograms must share layout and half-life",
            ));
        }
        if other.is_empty() {
            return Ok(());
        }
        let shifted;
        let other = match (self.reference, other.reference) {
            (None, Some(r)) => {
                self.reference = Some(r);
                other
            }
            (Some(mine), Some(theirs)) if mine < theirs => {
                self.shift_reference(theirs);
                other
            }
            (Some(mine), Some(theirs)) if theirs < mine => {
                let mut copy = other.clone();
                copy.shift_reference(mine);
                shifted = copy;
                &shifted
            }
            _ => other,
        };
        for b in other.min_bucket..=other.max_bucket {
            let w = other.weight(b);
            if w != 0.0 {
                *self.slot_mut(b) += w;
            }
        }
        self.total_weight += other.total_weight;
        self.min_bucket = self.min_bucket.min(other.min_bucket);
        self.max_bucket = self.max_bucket.max(other.max_bucket);
        Ok(())
    }

    /// The value below which `p` (0..=1) of the weight lies; zero for an empty histogram.
    pub fn percentile(&self, p: f64, mode: PercentileMode) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let threshold = p * self.total_weight;
        // Same walk as upstream (stop at the first bucket reaching the threshold, else at the last non-empty
        // one), except that `partial` always includes bucket `b`, which interpolation needs.
        let mut partial = 0.0;
        let mut b = self.min_bucket;
        loop {
            partial += self.weight(b);
            if partial >= threshold || b >= self.max_bucket {
                break;
            }
            b += 1;
        }
        let last = self.options.num_buckets() - 1;
        if b >= last {
            return self.options.bucket_start(b);
        }
        let (start, end) = (
            self.options.bucket_start(b),
            self.options.bucket_start(b + 1),
        );
        match mode {
            PercentileMode::BucketEnd => end,
            PercentileMode::Interpolate => {
                let w = self.weight(b);
                if w <= 0.0 {
                    return end;
                }
                let before = partial - w;
                let fraction = ((threshold - before) / w).clamp(0.0, 1.0);
                start + fraction * (end - start)
            }
        }
    }

    /// Multiplies every weight by `factor` (>= 0).
    pub fn scale(&mut self, factor: f64) {
        if !(factor >= 0.0 && factor.is_finite()) {
            return;
        }
        for w in &mut self.weights {
            *w *= factor;
        }
        self.total_weight *= factor;
        self.update_min_max();
    }

    /// Iterates `(bucket, weight)` over the non-empty span.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let span = if self.is_empty() {
            0..0
        } else {
            self.min_bucket..self.max_bucket + 1
        };
        span.map(|b| (b, self.weight(b)))
    }

    pub(super) fn from_parts(
        options: HistogramOptions,
        half_life: Duration,
        reference: Option<Timestamp>,
        offset: usize,
        weights: Vec<f64>,
        total_weight: f64,
    ) -> Self {
        let mut h = Self::new(options, half_life);
        h.reference = reference;
        h.offset = offset;
        h.weights = weights;
        h.total_weight = total_weight;
        h.min_bucket = offset;
        h.max_bucket = (offset + h.weights.len()).saturating_sub(1);
        h.update_min_max();
        h
    }

    /// Bytes held on the heap by this histogram (for memory accounting in benchmarks and metrics).
    pub fn heap_bytes(&self) -> usize {
        self.weights.capacity() * std::mem::size_of::<f64>()
    }

    fn decay_factor(&mut self, time: Timestamp) -> f64 {
        let reference = match self.reference {
            Some(r) => r,
            None => {
                let r = time.round_to(self.half_life);
                self.reference = Some(r);
                r
            }
        };
        let horizon = duration_millis(self.half_life).saturating_mul(MAX_DECAY_EXPONENT);
        let reference = if time.unix_millis() > reference.unix_millis().saturating_add(horizon) {
            self.shift_reference(time);
            self.reference.unwrap_or(reference)
        } else {
            reference
        };
        time.units_since(reference, self.half_life).exp2()
    }

    /// Moves the reference to `to` (rounded to a half-life) and rescales weights so nothing changes relatively.
    fn shift_reference(&mut self, to: Timestamp) {
        let new_ref = to.round_to(self.half_life);
        if let Some(old) = self.reference {
            let exponent = old.units_since(new_ref, self.half_life).round();
            self.scale(exponent.exp2());
        }
        self.reference = Some(new_ref);
    }

    fn slot_mut(&mut self, b: usize) -> &mut f64 {
        if self.weights.is_empty() {
            self.offset = b;
            self.weights.push(0.0);
        } else if b < self.offset {
            let grow = self.offset - b;
            self.weights.splice(0..0, std::iter::repeat_n(0.0, grow));
            self.offset = b;
        } else if b >= self.offset + self.weights.len() {
            self.weights.resize(b - self.offset + 1, 0.0);
        }
        let i = b - self.offset;
        &mut self.weights[i]
    }

    fn update_min_max(&mut self) {
        let last = self.options.num_buckets() - 1;
        let eps = self.options.epsilon();
        while self.weight(self.min_bucket) < eps && self.min_bucket < last {
            self.min_bucket += 1;
        }
        while self.weight(self.max_bucket) < eps && self.max_bucket > 0 {
            self.max_bucket -= 1;
        }
        if self.is_empty() {
            // Nothing is left worth keeping: release the storage so idle aggregates cost a few bytes.
            self.weights = Vec::new();
            self.offset = 0;
        }
    }
}
