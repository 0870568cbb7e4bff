//! Calendar date to Unix time, for timestamps written as text without a zone (treated as UTC).

/// Seconds since the Unix epoch of a proleptic-Gregorian UTC date and time. Fields are not range-checked here.
pub fn unix_seconds_from_civil(year: i64, month: i64, day: i64, h: i64, m: i64, s: i64) -> i64 {
    // Days from civil (H. Hinnant's algorithm): shift the year to start in March so leap days come last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + m * 60 + s
}
