//! Kubernetes resource quantities as the API server reads and writes them, and the integer newtypes Tailor
//! computes with.
//!
//! The API server keeps quantities as exact decimals and rounds anything finer than one nano-unit away from zero.
//! We store the same thing as an `i128` count of nano-units, which is exact for every value up to about 1.7e29.
//! The API server accepts even larger decimal quantities; no pod resource comes within twenty orders of magnitude of
//! that, so Tailor rejects them with [`QuantityError::OutOfRange`] instead of carrying a big-number library.

mod format;
mod parse;
mod units;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use units::{Bytes, MilliCpu};

/// How a quantity is written back out; remembered from the string it was parsed from, as the API server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `12e6`
    DecimalExponent,
    /// `12Mi` (12 × 2^20)
    BinarySI,
    /// `12M` (12 × 10^6)
    DecimalSI,
}

/// Why a quantity string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("empty quantity")]
    Empty,
    #[error("quantity {0:?} is not of the form <signed number><suffix>")]
    FormatWrong(String),
    #[error("quantity {0:?} has an unknown suffix")]
    Suffix(String),
    #[error("quantity {0:?} is outside the range Tailor represents exactly (|value| < 1e29)")]
    OutOfRange(String),
    #[error("quantity {0} does not fit in a 64-bit {1}")]
    Overflow(String, &'static str),
    #[error("quantity {0} is negative, and {1} cannot be")]
    Negative(String, &'static str),
}

/// An exact Kubernetes quantity: a count of nano-units plus the format it is written in.
///
/// Equality and ordering compare values only, as `Quantity.Cmp` does in apimachinery: `1Ki` equals `1024`.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

pub(crate) const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// Largest magnitude we keep: beyond this, multiplying by 100 during canonical formatting could overflow.
pub(crate) const MAX_NANOS: i128 = i128::MAX / 1000;

impl Quantity {
    /// Parses a quantity string with the API server's grammar, rounding and caps.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        parse::parse(s)
    }

    /// A quantity from a nano-unit count; `None` if it is out of the represented range.
    pub fn from_nanos(nanos: i128, format: Format) -> Option<Self> {
        (nanos.abs() <= MAX_NANOS).then_some(Self { nanos, format })
    }

    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value scaled to `10^-scale_exp` units, rounded away from zero like apimachinery's `ScaledValue`.
    /// `scaled_value(0)` is `Value()`, `scaled_value(3)` is `MilliValue()`.
    pub fn scaled_value(&self, scale_exp: u32) -> Option<i64> {
        let divisor = 10i128.checked_pow(9u32.checked_sub(scale_exp)?)?;
        let (quot, rem) = (self.nanos / divisor, self.nanos % divisor);
        let rounded = if rem > 0 {
            quot + 1
        } else if rem < 0 {
            quot - 1
        } else {
            quot
        };
        i64::try_from(rounded).ok()
    }

    /// The canonical string the API server would write for this quantity.
    pub fn to_canonical_string(&self) -> String {
        format::canonical(self.nanos, self.format)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_canonical_string())
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_canonical_string())
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
