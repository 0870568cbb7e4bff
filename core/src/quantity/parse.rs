//! The quantity grammar, scanned the way apimachinery's `parseQuantityString` scans it, so that Tailor accepts and
//! refuses exactly the strings the API server does (including its lenient corners: `"."`, `"+"` and `"-"` are all
//! zero there, and so they are here).

use super::{Format, MAX_NANOS, NANOS_PER_UNIT, Quantity, QuantityError};

const SUFFIX_CHARS: &[u8] = b"eEinumkKMGTP";

/// The pieces of a quantity string before any arithmetic.
struct Scanned<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn scan(s: &str) -> Result<Option<Scanned<'_>>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        // Only a sign and zeros: apimachinery returns zero without looking at anything else.
        return Ok(None);
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = if pos == num_start {
        "0"
    } else {
        &s[num_start..pos]
    };
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
    }
    let suffix_start = pos;
    while pos < end && SUFFIX_CHARS.contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong(s.to_owned()));
    }
    Ok(Some(Scanned {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    }))
}

/// Base (2 or 10), exponent and format named by a suffix.
fn interpret(suffix: &str) -> Option<(u32, i64, Format)> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exp) = decimal {
        return Some((10, exp, Format::DecimalSI));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exp) = binary {
        return Some((2, exp, Format::BinarySI));
    }
    let rest = suffix.strip_prefix(['e', 'E'])?;
    let exp = rest.parse::<i64>().ok()?;
    Some((10, exp, Format::DecimalExponent))
}

/// `value × 10^shift`, rounded away from zero when `shift` drops digits; `None` on overflow.
fn shift10(value: i128, shift: i64) -> Option<i128> {
    if value == 0 {
        return Some(0);
    }
    if shift >= 0 {
        let factor = 10i128.checked_pow(u32::try_from(shift).ok()?)?;
        return value.checked_mul(factor);
    }
    let Some(divisor) = u32::try_from(-shift)
        .ok()
        .and_then(|d| 10i128.checked_pow(d))
    else {
        // Dividing by more than 10^38 leaves nothing but the rounding step.
        return Some(value.signum());
    };
    let (quot, rem) = (value / divisor, value % divisor);
    Some(if rem == 0 {
        quot
    } else {
        quot + value.signum()
    })
}

pub(super) fn parse(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    let Some(scanned) = scan(s)? else {
        return Ok(Quantity {
            nanos: 0,
            format: Format::DecimalSI,
        });
    };
    let (base, exponent, mut format) =
        interpret(scanned.suffix).ok_or_else(|| QuantityError::Suffix(s.to_owned()))?;
    let out_of_range = || QuantityError::OutOfRange(s.to_owned());

    let mut digits: i128 = 0;
    for c in scanned.num.bytes().chain(scanned.denom.bytes()) {
        digits = digits
            .checked_mul(10)
            .and_then(|d| d.checked_add(i128::from(c - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let denom_len = i64::try_from(scanned.denom.len()).map_err(|_| out_of_range())?;

    let mut nanos = if base == 10 {
        // Saturating is exact enough: a shift past ±i64 is far beyond both the nano floor and the range limit.
        let shift = exponent.saturating_sub(denom_len).saturating_add(9);
        shift10(digits, shift).ok_or_else(out_of_range)?
    } else {
        let power = 1i128.checked_shl(u32::try_from(exponent).map_err(|_| out_of_range())?);
        let scaled = power
            .and_then(|p| digits.checked_mul(p))
            .ok_or_else(out_of_range)?;
        shift10(scaled, 9 - denom_len).ok_or_else(out_of_range)?
    };
    if nanos > MAX_NANOS {
        return Err(out_of_range());
    }
    if format == Format::BinarySI {
        // apimachinery silently caps binary quantities at 2^63-1 units.
        nanos = nanos.min(i128::from(i64::MAX) * NANOS_PER_UNIT);
        if nanos > 0 && nanos < NANOS_PER_UNIT {
            format = Format::DecimalSI;
        }
    }
    if !scanned.positive {
        nanos = -nanos;
    }
    Ok(Quantity { nanos, format })
}
