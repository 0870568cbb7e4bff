//! The two integer quantities Tailor computes with. Arithmetic saturates rather than wraps: a recommendation that
//! hits `i64::MAX` is absurd but harmless, a wrapped one would be negative.

use std::fmt;

use super::{Format, NANOS_PER_UNIT, Quantity, QuantityError};

/// Upstream VPA clamps every resource amount to this (`MaxResourceAmount`); we keep the same ceiling so that
/// "no history" upper bounds come out identical.
pub const MAX_RESOURCE_AMOUNT: i64 = 100_000_000_000_000;

macro_rules! integer_quantity {
    ($name:ident, $unit:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            Default,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub const ZERO: Self = Self(0);
            pub const MAX: Self = Self(MAX_RESOURCE_AMOUNT);

            pub fn get(self) -> i64 {
                self.0
            }

            pub fn saturating_add(self, rhs: Self) -> Self {
                Self(self.0.saturating_add(rhs.0))
            }

            pub fn saturating_sub(self, rhs: Self) -> Self {
                Self(self.0.saturating_sub(rhs.0))
            }

            pub fn checked_add(self, rhs: Self) -> Option<Self> {
                self.0.checked_add(rhs.0).map(Self)
            }

            pub fn checked_sub(self, rhs: Self) -> Option<Self> {
                self.0.checked_sub(rhs.0).map(Self)
            }

            /// `self × num / den` in exact integer arithmetic, rounded toward zero and saturated; `den == 0`
            /// saturates too. Used for proportional limits, where upstream VPA also truncates.
            pub fn mul_ratio(self, num: i64, den: i64) -> Self {
                if den == 0 {
                    return Self(if self.0 == 0 || num == 0 { 0 } else { i64::MAX });
                }
                let v = i128::from(self.0) * i128::from(num) / i128::from(den);
                Self(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }))
            }

            /// Clamps to `[0, MAX_RESOURCE_AMOUNT]`, the range of any amount Tailor recommends.
            pub fn clamp_resource(self) -> Self {
                Self(self.0.clamp(0, MAX_RESOURCE_AMOUNT))
            }

            /// Upstream VPA's `resourceAmountFromFloat`: negative and NaN become zero, large values saturate at
            /// [`MAX_RESOURCE_AMOUNT`], everything else truncates toward zero.
            fn from_f64_amount(amount: f64) -> Self {
                if amount.is_nan() || amount < 0.0 {
                    Self(0)
                } else if amount > MAX_RESOURCE_AMOUNT as f64 {
                    Self(MAX_RESOURCE_AMOUNT)
                } else {
                    // Truncation is the point: it reproduces upstream numbers bit for bit.
                    Self(amount as i64)
                }
            }

            /// Scales by a float factor the way upstream VPA's `ScaleResource` does (truncating, clamped).
            pub fn scale(self, factor: f64) -> Self {
                Self::from_f64_amount(self.0 as f64 * factor)
            }

            /// Rounds up to a multiple of `step` (no-op for `step <= 1`), saturating.
            pub fn round_up_to(self, step: i64) -> Self {
                if step <= 1 {
                    return self;
                }
                let rem = self.0.rem_euclid(step);
                if rem == 0 {
                    self
                } else {
                    Self(self.0.saturating_add(step - rem))
                }
            }

            /// Parses a Kubernetes quantity string into this unit, rounding away from zero like the API server.
            pub fn parse(s: &str) -> Result<Self, QuantityError> {
                Self::try_from(&Quantity::parse(s)?)
            }

            /// The canonical Kubernetes string for this amount.
            pub fn to_quantity_string(self) -> String {
                self.to_quantity().to_canonical_string()
            }
        }

        impl TryFrom<&Quantity> for $name {
            type Error = QuantityError;

            fn try_from(q: &Quantity) -> Result<Self, Self::Error> {
                q.scaled_value(Self::SCALE_EXP)
                    .map(Self)
                    .ok_or_else(|| QuantityError::Overflow(q.to_canonical_string(), $unit))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_quantity_string())
            }
        }

        impl std::str::FromStr for $name {
            type Err = QuantityError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

integer_quantity!(MilliCpu, "millicores", "CPU in thousandths of a core.");
integer_quantity!(Bytes, "bytes", "Memory in bytes.");

impl MilliCpu {
    const SCALE_EXP: u32 = 3;

    /// Upstream VPA's `CPUAmountFromCores`: truncating, clamped to `[0, MAX_RESOURCE_AMOUNT]`.
    pub fn from_cores(cores: f64) -> Self {
        Self::from_f64_amount(cores * 1000.0)
    }

    pub fn as_cores(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// CPU is written in decimal SI, as the API server writes `NewMilliQuantity(v, DecimalSI)`: `250m`, `1`, `1500m`.
    pub fn to_quantity(self) -> Quantity {
        Quantity {
            nanos: i128::from(self.0) * (NANOS_PER_UNIT / 1000),
            format: Format::DecimalSI,
        }
    }

    /// Parses, refusing negative amounts: a negative request is a bug in whoever produced it.
    pub fn parse_non_negative(s: &str) -> Result<Self, QuantityError> {
        let v = Self::parse(s)?;
        if v.0 < 0 {
            return Err(QuantityError::Negative(s.to_owned(), "CPU amount"));
        }
        Ok(v)
    }
}

impl Bytes {
    const SCALE_EXP: u32 = 0;

    /// Upstream VPA's `MemoryAmountFromBytes`: truncating, clamped to `[0, MAX_RESOURCE_AMOUNT]`.
    pub fn from_f64(bytes: f64) -> Self {
        Self::from_f64_amount(bytes)
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }

    /// Memory is written in binary SI (`1Gi`, `1536Mi`), falling back to decimal for values below 1024 or not a
    /// multiple of it, exactly as `NewQuantity(v, BinarySI)` prints.
    pub fn to_quantity(self) -> Quantity {
        Quantity {
            nanos: i128::from(self.0) * NANOS_PER_UNIT,
            format: Format::BinarySI,
        }
    }

    /// Parses, refusing negative amounts.
    pub fn parse_non_negative(s: &str) -> Result<Self, QuantityError> {
        let v = Self::parse(s)?;
        if v.0 < 0 {
            return Err(QuantityError::Negative(s.to_owned(), "memory amount"));
        }
        Ok(v)
    }
}
