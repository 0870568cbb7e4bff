//! Exponential bucket layout: bucket `n` is `first × ratio^n` wide, so relative resolution is the same for a
//! 10 m sidecar and a 64-core database.

use super::HistogramError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramOptions {
    first_bucket_size: f64,
    ratio: f64,
    num_buckets: usize,
    epsilon: f64,
    ln_ratio: f64,
}

impl HistogramOptions {
    /// Buckets covering `[0, max_value]`: the first `first_bucket_size` wide, each next one `ratio` times wider.
    /// Weights below `epsilon` count as empty.
    pub fn exponential(
        max_value: f64,
        first_bucket_size: f64,
        ratio: f64,
        epsilon: f64,
    ) -> Result<Self, HistogramError> {
        let finite = [max_value, first_bucket_size, ratio, epsilon]
            .iter()
            .all(|v| v.is_finite());
        if !finite || max_value <= 0.0 || first_bucket_size <= 0.0 || epsilon <= 0.0 {
            return Err(HistogramError::InvalidOptions(
                "values must be finite and positive",
            ));
        }
        if ratio <= 1.0 {
            return Err(HistogramError::InvalidOptions(
                "ratio must be greater than 1",
            ));
        }
        if bucket_count(max_value, first_bucket_size, ratio) > f64::from(u16::MAX) {
            return Err(HistogramError::InvalidOptions("at most 65535 buckets"));
        }
        Ok(Self::build(max_value, first_bucket_size, ratio, epsilon))
    }

    fn build(max_value: f64, first_bucket_size: f64, ratio: f64, epsilon: f64) -> Self {
        Self {
            first_bucket_size,
            ratio,
            num_buckets: bucket_count(max_value, first_bucket_size, ratio) as usize,
            epsilon,
            ln_ratio: ratio.ln(),
        }
    }

    /// Upstream VPA's CPU layout, in cores: first bucket 0.01 core, 5% growth, up to 1000 cores (176 buckets).
    pub fn cpu_default() -> Self {
        Self::build(1000.0, 0.01, 1.05, 1e-4)
    }

    /// Upstream VPA's memory layout, in bytes: first bucket 10 MB, 5% growth, up to 1 TB (176 buckets).
    pub fn memory_default() -> Self {
        Self::build(1e12, 1e7, 1.05, 1e-4)
    }

    pub fn num_buckets(&self) -> usize {
        self.num_buckets
    }

    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    pub fn first_bucket_size(&self) -> f64 {
        self.first_bucket_size
    }

    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// The bucket a value falls in; values outside the range go to the first or last bucket.
    pub fn find_bucket(&self, value: f64) -> usize {
        if value.is_nan() || value < self.first_bucket_size {
            return 0;
        }
        let b = ((value * (self.ratio - 1.0) / self.first_bucket_size + 1.0).ln() / self.ln_ratio)
            as usize;
        b.min(self.num_buckets - 1)
    }

    /// Lower edge of bucket `b`.
    pub fn bucket_start(&self, b: usize) -> f64 {
        if b == 0 {
            return 0.0;
        }
        self.first_bucket_size * (self.ratio.powf(b as f64) - 1.0) / (self.ratio - 1.0)
    }
}

fn bucket_count(max_value: f64, first_bucket_size: f64, ratio: f64) -> f64 {
    ((max_value * (ratio - 1.0) / first_bucket_size + 1.0).ln() / ratio.ln()).ceil() + 1.0
}
