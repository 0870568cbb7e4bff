//! Canonical form, as apimachinery's `CanonicalizeBytes` writes it: no fractional digits, the largest exponent
//! that loses nothing, decimal exponents in steps of three, binary suffixes only for whole values of 1024 or more.

use super::{Format, NANOS_PER_UNIT};

fn decimal_suffix(exp: i32) -> Option<&'static str> {
    Some(match exp {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

fn binary_suffix(exp: u32) -> &'static str {
    ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp as usize]
}

/// Mantissa and base-10 exponent with the exponent a multiple of three, as large as possible without losing digits.
fn decimal_parts(nanos: i128) -> (i128, i32) {
    let (mut mantissa, mut exp) = (nanos, -9i32);
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exp += 1;
    }
    // Values are kept below i128::MAX / 1000, so scaling back by at most 100 cannot overflow.
    match exp.rem_euclid(3) {
        1 => (mantissa * 10, exp - 1),
        2 => (mantissa * 100, exp - 2),
        _ => (mantissa, exp),
    }
}

pub(super) fn canonical(nanos: i128, format: Format) -> String {
    if nanos == 0 {
        return "0".to_owned();
    }
    let whole = nanos % NANOS_PER_UNIT == 0;
    let small = nanos.abs() < 1024 * NANOS_PER_UNIT;
    if format == Format::BinarySI && whole && !small {
        let mut value = nanos / NANOS_PER_UNIT;
        let mut exp = 0u32;
        while exp < 6 && value % 1024 == 0 {
            value /= 1024;
            exp += 1;
        }
        return format!("{value}{}", binary_suffix(exp));
    }
    let (mantissa, exp) = decimal_parts(nanos);
    let suffix = match (format, decimal_suffix(exp)) {
        (Format::DecimalExponent, _) if exp == 0 => String::new(),
        (Format::DecimalExponent, _) | (_, None) => format!("e{exp}"),
        (_, Some(s)) => s.to_owned(),
    };
    format!("{mantissa}{suffix}")
}
