use proptest::prelude::*;

use super::*;

fn canon(s: &str) -> String {
    Quantity::parse(s)
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
        .to_canonical_string()
}

#[test]
fn canonical_forms_match_the_api_server() {
    // Expected strings are what kube-apiserver writes back for these inputs (apimachinery's documented examples
    // and the rules in CanonicalizeBytes).
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("1.5", "1500m"),
        ("1.5Gi", "1536Mi"),
        ("100m", "100m"),
        ("0.1", "100m"),
        ("1000m", "1"),
        ("1000", "1k"),
        ("1024", "1024"),
        ("1e3", "1e3"),
        ("1E3", "1e3"),
        ("1e+3", "1e3"),
        ("1.5e3", "1500"),
        ("12e6", "12e6"),
        ("1e-10", "1e-9"),
        ("1Ki", "1Ki"),
        ("1024Ki", "1Mi"),
        ("0.5Ki", "512"),
        ("1.1Ki", "1126400m"),
        ("8Ei", "9223372036854775807"),
        ("-8Ei", "-9223372036854775807"),
        ("1G", "1G"),
        ("1000000G", "1P"),
        ("1000E", "1e21"),
        ("0.9n", "1n"),
        ("-0.9n", "-1n"),
        ("1.000000000001", "1000000001n"),
        ("-1.5", "-1500m"),
        ("+2", "2"),
        ("007", "7"),
        ("5.", "5"),
        (".5", "500m"),
        ("1.", "1"),
        (".", "0"),
        ("+", "0"),
        ("-", "0"),
        ("1Mi", "1Mi"),
        ("123456789", "123456789"),
        ("18446744073709551616", "18446744073709551616"),
        ("0.000001", "1u"),
        ("129e-2", "1290e-3"),
    ];
    for (input, want) in cases {
        assert_eq!(canon(input), want, "input {input:?}");
    }
}

#[test]
fn binary_values_off_a_1024_multiple_settle_to_decimal_on_the_second_trip() {
    // Found by the fuzzer; the API server does the same: the first write keeps the binary format but has no
    // binary suffix to use, and the plain number then reads back as decimal.
    let first = canon("62.5Ki");
    assert_eq!(first, "64000");
    assert_eq!(canon(&first), "64k");
    assert_eq!(
        Quantity::parse("64k").unwrap(),
        Quantity::parse("62.5Ki").unwrap()
    );
}

#[test]
fn junk_is_a_typed_error() {
    use QuantityError::*;
    type IsExpected = fn(&QuantityError) -> bool;
    let cases: [(&str, IsExpected); 10] = [
        ("", |e| matches!(e, Empty)),
        ("abc", |e| matches!(e, FormatWrong(_))),
        ("1Gb", |e| matches!(e, FormatWrong(_))),
        ("1 Gi", |e| matches!(e, FormatWrong(_))),
        ("1.5.5", |e| matches!(e, FormatWrong(_))),
        ("1e3m", |e| matches!(e, FormatWrong(_))),
        ("1k3", |e| matches!(e, Suffix(_))),
        ("1e", |e| matches!(e, Suffix(_))),
        ("1i", |e| matches!(e, Suffix(_))),
        ("1e100", |e| matches!(e, OutOfRange(_))),
    ];
    for (input, is_expected) in cases {
        let err = Quantity::parse(input).expect_err(input);
        assert!(is_expected(&err), "{input:?} gave {err:?}");
    }
}

#[test]
fn extreme_exponents_neither_panic_nor_wrap() {
    // Found by the fuzzer (an exponent near i64::MAX overflowed the scale arithmetic).
    let huge = format!(".10e{}", i64::MAX);
    assert!(matches!(
        Quantity::parse(&huge),
        Err(QuantityError::OutOfRange(_))
    ));
    assert_eq!(canon(&format!("0e{}", i64::MAX)), "0");
    assert_eq!(canon(&format!("5e{}", i64::MIN)), "1e-9");
    assert_eq!(canon(&format!("-5e{}", i64::MIN)), "-1e-9");
    assert!(matches!(
        Quantity::parse("1e9223372036854775808"),
        Err(QuantityError::Suffix(_))
    ));
}

#[test]
fn integer_units_round_away_from_zero() {
    assert_eq!(MilliCpu::parse("0.1m"), Ok(MilliCpu(1)));
    assert_eq!(MilliCpu::parse("-0.1m"), Ok(MilliCpu(-1)));
    assert_eq!(MilliCpu::parse("1"), Ok(MilliCpu(1000)));
    assert_eq!(MilliCpu::parse("250m"), Ok(MilliCpu(250)));
    assert_eq!(MilliCpu::parse("2.5"), Ok(MilliCpu(2500)));
    assert_eq!(Bytes::parse("100m"), Ok(Bytes(1)));
    assert_eq!(Bytes::parse("1Gi"), Ok(Bytes(1 << 30)));
    assert_eq!(Bytes::parse("1G"), Ok(Bytes(1_000_000_000)));
    assert!(matches!(
        Bytes::parse("1e25"),
        Err(QuantityError::Overflow(..))
    ));
    assert!(matches!(
        MilliCpu::parse_non_negative("-1"),
        Err(QuantityError::Negative(..))
    ));
}

#[test]
fn integer_units_format_like_the_api_server() {
    assert_eq!(MilliCpu(250).to_quantity_string(), "250m");
    assert_eq!(MilliCpu(1000).to_quantity_string(), "1");
    assert_eq!(MilliCpu(1500).to_quantity_string(), "1500m");
    assert_eq!(MilliCpu(0).to_quantity_string(), "0");
    assert_eq!(MilliCpu(2_000_000).to_quantity_string(), "2k");
    assert_eq!(Bytes(1 << 30).to_quantity_string(), "1Gi");
    assert_eq!(Bytes(1536 << 20).to_quantity_string(), "1536Mi");
    assert_eq!(Bytes(1000).to_quantity_string(), "1k");
    assert_eq!(Bytes(1500).to_quantity_string(), "1500");
    assert_eq!(Bytes(1_000_000_000).to_quantity_string(), "1000000000");
    assert_eq!(Bytes(-2048).to_quantity_string(), "-2Ki");
}

#[test]
fn vpa_float_conversions_truncate_and_clamp() {
    assert_eq!(MilliCpu::from_cores(0.0259), MilliCpu(25));
    assert_eq!(MilliCpu::from_cores(-1.0), MilliCpu(0));
    assert_eq!(MilliCpu::from_cores(f64::NAN), MilliCpu(0));
    assert_eq!(MilliCpu::from_cores(f64::INFINITY), MilliCpu::MAX);
    assert_eq!(Bytes::from_f64(1.9), Bytes(1));
    assert_eq!(Bytes(100).scale(1.15), Bytes(114));
    assert_eq!(Bytes(100).scale(f64::INFINITY), Bytes::MAX);
    assert_eq!(MilliCpu(7).round_up_to(5), MilliCpu(10));
    assert_eq!(MilliCpu(10).round_up_to(5), MilliCpu(10));
    assert_eq!(Bytes(10).mul_ratio(3, 4), Bytes(7));
    assert_eq!(Bytes(i64::MAX).mul_ratio(2, 1), Bytes(i64::MAX));
    assert_eq!(Bytes(5).mul_ratio(1, 0), Bytes(i64::MAX));
}

#[test]
fn serde_uses_integers_for_units_and_strings_for_quantities() {
    assert_eq!(serde_json::to_string(&MilliCpu(250)).unwrap(), "250");
    let q: Quantity = serde_json::from_str("\"1.5Gi\"").unwrap();
    assert_eq!(serde_json::to_string(&q).unwrap(), "\"1536Mi\"");
    assert!(serde_json::from_str::<Quantity>("\"1Gb\"").is_err());
}

fn quantity_strings() -> impl Strategy<Value = String> {
    let sign = prop_oneof![Just(""), Just("-"), Just("+")];
    let suffix = prop_oneof![
        Just("".to_owned()),
        prop::sample::select(vec!["n", "u", "m", "k", "M", "G", "T", "P", "E"])
            .prop_map(str::to_owned),
        prop::sample::select(vec!["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]).prop_map(str::to_owned),
        (-12i32..24).prop_map(|e| format!("e{e}")),
    ];
    (sign, "[0-9]{0,12}", prop::option::of("[0-9]{0,10}"), suffix).prop_map(
        |(s, n, d, suf)| match d {
            Some(d) => format!("{s}{n}.{d}{suf}"),
            None => format!("{s}{n}{suf}"),
        },
    )
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,24}") {
        let _ = Quantity::parse(&s);
    }

    #[test]
    fn canonical_form_round_trips(s in quantity_strings()) {
        if let Ok(q) = Quantity::parse(&s) {
            let canonical = q.to_canonical_string();
            let again = Quantity::parse(&canonical).unwrap();
            prop_assert_eq!(again, q, "{} -> {}", s, canonical);
            let settled = again.to_canonical_string();
            prop_assert_eq!(Quantity::parse(&settled).unwrap().to_canonical_string(), settled);
        }
    }

    #[test]
    fn millicores_round_trip(m in any::<i64>()) {
        prop_assert_eq!(MilliCpu::parse(&MilliCpu(m).to_quantity_string()), Ok(MilliCpu(m)));
    }

    #[test]
    fn bytes_round_trip(b in any::<i64>()) {
        prop_assert_eq!(Bytes::parse(&Bytes(b).to_quantity_string()), Ok(Bytes(b)));
    }

    #[test]
    fn ordering_is_preserved(a in any::<i64>(), b in any::<i64>()) {
        let (qa, qb) = (Bytes(a).to_quantity(), Bytes(b).to_quantity());
        prop_assert_eq!(a.cmp(&b), qa.cmp(&qb));
        let (ca, cb) = (MilliCpu(a).to_quantity(), MilliCpu(b).to_quantity());
        prop_assert_eq!(a.cmp(&b), ca.cmp(&cb));
    }
}
