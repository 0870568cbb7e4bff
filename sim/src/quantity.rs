//! Kubernetes quantity strings ("250m", "1.5", "128Mi", "1e3") to integers and back.
//!
//! The simulator works in millicores and bytes. Parsing is exact (integer arithmetic on the decimal digits) and
//! rounds up, as the API server does when it reports a `MilliValue`/`Value`.

use thiserror::Error;

/// Why a quantity string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuantityError {
    #[error("empty quantity")]
    Empty,
    #[error("quantity {0:?} is not a number with an optional suffix")]
    Malformed(String),
    #[error("quantity {0:?} is negative")]
    Negative(String),
    #[error("quantity {0:?} is too large")]
    Overflow(String),
}

/// A parsed quantity as an exact rational `num / den` (den is a power of ten).
struct Rational {
    num: u128,
    den: u128,
}

fn split_suffix(s: &str) -> (&str, &str) {
    let idx = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '+' || *c == '-'))
        .map_or(s.len(), |(i, _)| i);
    (&s[..idx], &s[idx..])
}

fn parse_rational(input: &str) -> Result<Rational, QuantityError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    let malformed = || QuantityError::Malformed(input.to_string());
    let overflow = || QuantityError::Overflow(input.to_string());
    let (number, suffix) = split_suffix(s);
    let number = match number.strip_prefix('+') {
        Some(rest) => rest,
        None if number.starts_with('-') => {
            // "-0" is still zero; anything else is refused: the simulator never sees negative resources.
            if number[1..].chars().all(|c| c == '0' || c == '.') && number.len() > 1 {
                "0"
            } else {
                return Err(QuantityError::Negative(input.to_string()));
            }
        }
        None => number,
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(malformed());
    }
    if !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return Err(malformed());
    }
    if int_part.len() + frac_part.len() > 30 {
        return Err(overflow());
    }
    let mut num: u128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        num = num * 10 + u128::from(c as u8 - b'0');
    }
    let mut den: u128 = 10u128.pow(frac_part.len() as u32);
    let (mul, div): (u128, u128) = match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1_000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        other => {
            let exp = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))
                .ok_or_else(malformed)?;
            let exp: i32 = exp.parse().map_err(|_| malformed())?;
            if !(-18..=18).contains(&exp) {
                return Err(overflow());
            }
            if exp >= 0 {
                (10u128.pow(exp as u32), 1)
            } else {
                (1, 10u128.pow((-exp) as u32))
            }
        }
    };
    num = num.checked_mul(mul).ok_or_else(overflow)?;
    den = den.checked_mul(div).ok_or_else(overflow)?;
    Ok(Rational { num, den })
}

fn scaled_ceil(input: &str, scale: u128) -> Result<u64, QuantityError> {
    let r = parse_rational(input)?;
    let overflow = || QuantityError::Overflow(input.to_string());
    let scaled = r.num.checked_mul(scale).ok_or_else(overflow)?;
    let value = scaled.div_ceil(r.den);
    u64::try_from(value).map_err(|_| overflow())
}

/// CPU quantity in millicores, rounded up ("0.1" → 100, "1u" → 1).
pub fn parse_cpu_millis(s: &str) -> Result<u64, QuantityError> {
    scaled_ceil(s, 1000)
}

/// Memory (or any plain) quantity in whole units, rounded up ("128Mi" → 134217728).
pub fn parse_bytes(s: &str) -> Result<u64, QuantityError> {
    scaled_ceil(s, 1)
}

/// Canonical CPU string: whole cores when exact ("2"), otherwise millicores ("250m").
pub fn format_cpu_millis(m: u64) -> String {
    if m.is_multiple_of(1000) {
        format!("{}", m / 1000)
    } else {
        format!("{m}m")
    }
}

/// Canonical memory string: the largest exact binary suffix ("128Mi"), else plain bytes.
pub fn format_bytes(b: u64) -> String {
    const SUFFIXES: [(&str, u32); 5] = [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10), ("", 0)];
    if b == 0 {
        return "0".to_string();
    }
    for (suffix, shift) in SUFFIXES {
        if b.is_multiple_of(1u64 << shift) {
            return format!("{}{suffix}", b >> shift);
        }
    }
    b.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_cpu_millis("250m"), Ok(250));
        assert_eq!(parse_cpu_millis("1"), Ok(1000));
        assert_eq!(parse_cpu_millis("0.1"), Ok(100));
        assert_eq!(parse_cpu_millis("1.5"), Ok(1500));
        assert_eq!(parse_cpu_millis("1u"), Ok(1));
        assert_eq!(parse_cpu_millis("100000n"), Ok(1));
        assert_eq!(
            parse_cpu_millis("2e3m"),
            Err(QuantityError::Malformed("2e3m".into()))
        );
        assert_eq!(parse_bytes("128Mi"), Ok(128 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1_000_000_000));
        assert_eq!(parse_bytes("1e3"), Ok(1000));
        assert_eq!(parse_bytes("1.5Ki"), Ok(1536));
        assert_eq!(parse_bytes("+5"), Ok(5));
        assert_eq!(parse_bytes("-0"), Ok(0));
        assert!(matches!(parse_bytes("-5"), Err(QuantityError::Negative(_))));
        assert!(matches!(
            parse_bytes("5Xi"),
            Err(QuantityError::Malformed(_))
        ));
        assert!(matches!(parse_bytes(""), Err(QuantityError::Empty)));
        assert!(matches!(parse_bytes("."), Err(QuantityError::Malformed(_))));
        assert!(matches!(
            parse_bytes("99999999Ei"),
            Err(QuantityError::Overflow(_))
        ));
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_cpu_millis(250), "250m");
        assert_eq!(format_cpu_millis(2000), "2");
        assert_eq!(format_bytes(128 << 20), "128Mi");
        assert_eq!(format_bytes(1000), "1000");
        assert_eq!(format_bytes(0), "0");
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_cpu_millis(&s);
            let _ = parse_bytes(&s);
        }

        #[test]
        fn round_trips(m in 0u64..10_000_000, b in 0u64..(1u64 << 50)) {
            prop_assert_eq!(parse_cpu_millis(&format_cpu_millis(m)), Ok(m));
            prop_assert_eq!(parse_bytes(&format_bytes(b)), Ok(b));
        }
    }
}
