//! Parsers for the cgroup v2 interface file shapes (kernel `Documentation/admin-guide/cgroup-v2.rst`,
//! "Format"): single values, `max`-or-number, `cpu.max`'s pair, flat keyed (`KEY VALUE` lines) and nested keyed
//! (`KEY SUB=VALUE ...` lines, as in PSI files). They borrow the text, allocate nothing on success, look values up
//! by key (the kernel adds keys between releases, in the middle of files) and never panic.

use thiserror::Error;

/// Why a cgroup file's content could not be parsed. Carries enough to find the bad spot, never the whole file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("file is empty")]
    Empty,
    #[error("file is not UTF-8")]
    NotUtf8,
    #[error("line {line}: expected `KEY VALUE`")]
    BadLine { line: usize },
    #[error("line {line}: expected `KEY=VALUE` fields")]
    BadField { line: usize },
    #[error("{key}: {value:?} is not an unsigned integer")]
    BadNumber { key: String, value: String },
    #[error("{key}: {value:?} is not a percentage with two decimals")]
    BadPercent { key: String, value: String },
    #[error("required key {0} is missing")]
    MissingKey(&'static str),
    #[error("expected `$MAX $PERIOD`, got {0:?}")]
    BadCpuMax(String),
    #[error("cpu.max period must be positive")]
    ZeroPeriod,
}

/// Longest excerpt of bad input kept in an error, so a corrupt file cannot blow up logs.
const EXCERPT: usize = 32;

fn excerpt(s: &[u8]) -> String {
    String::from_utf8_lossy(&s[..s.len().min(EXCERPT)]).into_owned()
}

/// Parses an unsigned decimal integer: digits only (no sign, no spaces), no overflow.
pub fn parse_u64(key: &str, value: &str) -> Result<u64, ParseError> {
    parse_u64_bytes(key.as_bytes(), value.as_bytes())
}

/// [`parse_u64`] on raw bytes, as read from the file (the sampler's hot path skips UTF-8 validation: every
/// byte that matters is ASCII, and anything else is rejected here or ignored as an unknown key).
pub fn parse_u64_bytes(key: &[u8], value: &[u8]) -> Result<u64, ParseError> {
    let bad = || ParseError::BadNumber {
        key: excerpt(key),
        value: excerpt(value),
    };
    if value.is_empty() {
        return Err(bad());
    }
    let mut n: u64 = 0;
    for &b in value {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return Err(bad());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(digit)))
            .ok_or_else(bad)?;
    }
    Ok(n)
}

/// Parses a percentage with up to two decimals (`13.40`, `0.00`, `100`) into hundredths (1340, 0, 10000).
pub fn parse_percent_hundredths(key: &str, value: &str) -> Result<u32, ParseError> {
    parse_percent_hundredths_bytes(key.as_bytes(), value.as_bytes())
}

/// [`parse_percent_hundredths`] on raw bytes.
pub fn parse_percent_hundredths_bytes(key: &[u8], value: &[u8]) -> Result<u32, ParseError> {
    let bad = || ParseError::BadPercent {
        key: excerpt(key),
        value: excerpt(value),
    };
    let (int, frac) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &value[value.len()..]),
    };
    if int.is_empty() || frac.len() > 2 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let whole = parse_u64_bytes(key, int).map_err(|_| bad())?;
    let mut hundredths = 0u64;
    for (i, b) in frac.iter().enumerate() {
        let scale = if i == 0 { 10 } else { 1 };
        hundredths += u64::from(b - b'0') * scale;
    }
    let total = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(hundredths))
        .ok_or_else(bad)?;
    u32::try_from(total).map_err(|_| bad())
}

/// The content of a single-value file without its trailing newline; errors if nothing is left.
fn single(content: &[u8]) -> Result<&[u8], ParseError> {
    let end = content
        .iter()
        .rposition(|&b| b != b'\n' && b != b' ')
        .map_or(0, |i| i + 1);
    if end == 0 {
        Err(ParseError::Empty)
    } else {
        Ok(&content[..end])
    }
}

/// A single-value file holding one unsigned integer (`memory.current`, `memory.peak`).
pub fn parse_single_u64(key: &str, content: &str) -> Result<u64, ParseError> {
    parse_single_u64_bytes(key, content.as_bytes())
}

/// [`parse_single_u64`] on raw bytes.
pub fn parse_single_u64_bytes(key: &str, content: &[u8]) -> Result<u64, ParseError> {
    parse_u64_bytes(key.as_bytes(), single(content)?)
}

/// A single-value file holding an unsigned integer or `max` (`memory.max`, `memory.high`). `max` is `None`.
pub fn parse_max_or_u64(key: &str, content: &str) -> Result<Option<u64>, ParseError> {
    parse_max_or_u64_bytes(key, content.as_bytes())
}

/// [`parse_max_or_u64`] on raw bytes.
pub fn parse_max_or_u64_bytes(key: &str, content: &[u8]) -> Result<Option<u64>, ParseError> {
    match single(content)? {
        b"max" => Ok(None),
        v => parse_u64_bytes(key.as_bytes(), v).map(Some),
    }
}

/// `cpu.max`: quota (µs, or `None` for `max`) and period (µs) per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    pub quota_usec: Option<u64>,
    pub period_usec: u64,
}

impl CpuMax {
    /// The limit in millicores, rounded down; `None` when there is no limit.
    pub fn millicores(&self) -> Option<u64> {
        // period_usec is never 0 (the parser rejects it); checked_div keeps this total anyway.
        self.quota_usec
            .and_then(|q| q.saturating_mul(1_000).checked_div(self.period_usec))
    }
}

/// Parses `cpu.max` (`$MAX $PERIOD`, `$MAX` may be `max`).
pub fn parse_cpu_max(content: &str) -> Result<CpuMax, ParseError> {
    parse_cpu_max_bytes(content.as_bytes())
}

/// [`parse_cpu_max`] on raw bytes.
pub fn parse_cpu_max_bytes(content: &[u8]) -> Result<CpuMax, ParseError> {
    let line = single(content)?;
    let mut fields = line.split(|&b| b == b' ');
    let (Some(max), Some(period), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(ParseError::BadCpuMax(excerpt(line)));
    };
    let quota_usec = if max == b"max" {
        None
    } else {
        Some(parse_u64_bytes(b"cpu.max", max)?)
    };
    let period_usec = parse_u64_bytes(b"cpu.max period", period)?;
    if period_usec == 0 {
        return Err(ParseError::ZeroPeriod);
    }
    Ok(CpuMax {
        quota_usec,
        period_usec,
    })
}

/// Text of a key or value cut out of valid UTF-8 at ASCII delimiters, which is always valid itself.
fn text(b: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(b).map_err(|_| ParseError::NotUtf8)
}

/// Walks a flat-keyed file (`KEY VALUE` per line) and hands each `(key, value)` pair to `visit`.
///
/// Blank lines are skipped; a line that is not exactly two space-separated fields is an error. Values are
/// passed as text so callers parse only the keys they use: a future kernel key with an odd value cannot break
/// them.
pub fn for_each_flat<'a>(
    content: &'a str,
    mut visit: impl FnMut(&'a str, &'a str) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for_each_flat_bytes(content.as_bytes(), |k, v| visit(text(k)?, text(v)?))
}

/// [`for_each_flat`] on raw bytes: one pass over the content, no allocation, no UTF-8 validation.
pub fn for_each_flat_bytes<'a>(
    content: &'a [u8],
    mut visit: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut any = false;
    let mut line_no = 0;
    let mut rest = content;
    while !rest.is_empty() {
        line_no += 1;
        // One scan per line finds the separator, rejects a third field and finds the end.
        let mut space = None;
        let mut end = rest.len();
        for (i, &b) in rest.iter().enumerate() {
            if b == b'\n' {
                end = i;
                break;
            }
            if b == b' ' {
                if space.is_some() {
                    return Err(ParseError::BadLine { line: line_no });
                }
                space = Some(i);
            }
        }
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if line.is_empty() {
            continue;
        }
        let Some(sp) = space.filter(|&sp| sp > 0 && sp + 1 < line.len()) else {
            return Err(ParseError::BadLine { line: line_no });
        };
        any = true;
        visit(&line[..sp], &line[sp + 1..])?;
    }
    if any { Ok(()) } else { Err(ParseError::Empty) }
}

/// Walks a nested-keyed file (`KEY SUB=VALUE SUB=VALUE ...` per line) and hands each `(key, sub, value)` to
/// `visit`. Blank lines are skipped; a field without `=` is an error.
pub fn for_each_nested<'a>(
    content: &'a str,
    mut visit: impl FnMut(&'a str, &'a str, &'a str) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for_each_nested_bytes(content.as_bytes(), |k, s, v| {
        visit(text(k)?, text(s)?, text(v)?)
    })
}

/// [`for_each_nested`] on raw bytes.
pub fn for_each_nested_bytes<'a>(
    content: &'a [u8],
    mut visit: impl FnMut(&'a [u8], &'a [u8], &'a [u8]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut any = false;
    for (i, line) in content.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(|&b| b == b' ');
        let key = fields
            .next()
            .filter(|k| !k.is_empty())
            .ok_or(ParseError::BadLine { line: i + 1 })?;
        let mut subs = 0;
        for field in fields {
            let eq = field
                .iter()
                .position(|&b| b == b'=')
                .ok_or(ParseError::BadField { line: i + 1 })?;
            let (sub, value) = (&field[..eq], &field[eq + 1..]);
            if sub.is_empty() || value.is_empty() {
                return Err(ParseError::BadField { line: i + 1 });
            }
            subs += 1;
            visit(key, sub, value)?;
        }
        if subs == 0 {
            return Err(ParseError::BadField { line: i + 1 });
        }
        any = true;
    }
    if any { Ok(()) } else { Err(ParseError::Empty) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("k", "0"), Ok(0));
        assert_eq!(parse_u64("k", "18446744073709551615"), Ok(u64::MAX));
        assert!(parse_u64("k", "18446744073709551616").is_err());
        for bad in ["", "-1", "+1", "1 ", "1.5", "x"] {
            assert!(parse_u64("k", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent_hundredths("k", "13.40"), Ok(1340));
        assert_eq!(parse_percent_hundredths("k", "0.00"), Ok(0));
        assert_eq!(parse_percent_hundredths("k", "100.00"), Ok(10_000));
        assert_eq!(parse_percent_hundredths("k", "7.5"), Ok(750));
        assert_eq!(parse_percent_hundredths("k", "3"), Ok(300));
        for bad in [
            "",
            ".5",
            "1.234",
            "1.x",
            "-1.00",
            "1e3",
            "99999999999999999999.00",
        ] {
            assert!(parse_percent_hundredths("k", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn single_values() {
        assert_eq!(parse_single_u64("memory.current", "123\n"), Ok(123));
        assert_eq!(parse_single_u64("memory.current", "123"), Ok(123));
        assert_eq!(
            parse_single_u64("memory.current", "\n"),
            Err(ParseError::Empty)
        );
        assert_eq!(parse_max_or_u64("memory.max", "max\n"), Ok(None));
        assert_eq!(
            parse_max_or_u64("memory.max", "268435456\n"),
            Ok(Some(268_435_456))
        );
        assert!(parse_max_or_u64("memory.max", "maxx\n").is_err());
    }

    #[test]
    fn cpu_max() {
        let m = parse_cpu_max("50000 100000\n").expect("parses");
        assert_eq!(
            m,
            CpuMax {
                quota_usec: Some(50_000),
                period_usec: 100_000
            }
        );
        assert_eq!(m.millicores(), Some(500));
        let m = parse_cpu_max("max 100000\n").expect("parses");
        assert_eq!(m.millicores(), None);
        assert_eq!(
            parse_cpu_max("20000 100010").expect("parses").millicores(),
            Some(199)
        );
        assert_eq!(parse_cpu_max("max 0\n"), Err(ParseError::ZeroPeriod));
        assert!(matches!(
            parse_cpu_max("max\n"),
            Err(ParseError::BadCpuMax(_))
        ));
        assert!(matches!(
            parse_cpu_max("1 2 3\n"),
            Err(ParseError::BadCpuMax(_))
        ));
    }

    #[test]
    fn flat_keyed() {
        let mut seen = Vec::new();
        for_each_flat("a 1\nb 2\n\nc x\n", |k, v| {
            seen.push((k, v));
            Ok(())
        })
        .expect("parses");
        assert_eq!(seen, [("a", "1"), ("b", "2"), ("c", "x")]);
        assert_eq!(
            for_each_flat("a 1\nb\n", |_, _| Ok(())),
            Err(ParseError::BadLine { line: 2 })
        );
        assert_eq!(
            for_each_flat("a 1 2\n", |_, _| Ok(())),
            Err(ParseError::BadLine { line: 1 })
        );
        assert_eq!(for_each_flat("", |_, _| Ok(())), Err(ParseError::Empty));
    }

    #[test]
    fn nested_keyed() {
        let mut seen = Vec::new();
        for_each_nested(
            "some avg10=1.00 total=5\nfull avg10=0.00 total=0\n",
            |k, s, v| {
                seen.push((k, s, v));
                Ok(())
            },
        )
        .expect("parses");
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[1], ("some", "total", "5"));
        assert_eq!(
            for_each_nested("some avg10\n", |_, _, _| Ok(())),
            Err(ParseError::BadField { line: 1 })
        );
        assert_eq!(
            for_each_nested("some\n", |_, _, _| Ok(())),
            Err(ParseError::BadField { line: 1 })
        );
    }
}
