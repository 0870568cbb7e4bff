use proptest::prelude::*;

use super::*;
use tailor_core::quantity::{Bytes, MilliCpu};

const BB_HEADER: &str = "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]";

#[test]
fn civil_dates_match_known_unix_times() {
    assert_eq!(unix_seconds_from_civil(1970, 1, 1, 0, 0, 0), 0);
    assert_eq!(unix_seconds_from_civil(2023, 4, 2, 0, 9, 0), 1_680_394_140);
    assert_eq!(unix_seconds_from_civil(2000, 3, 1, 0, 0, 0), 951_868_800);
    assert_eq!(unix_seconds_from_civil(1969, 12, 31, 23, 59, 59), -1);
}

#[test]
fn bitbrains_converts_mhz_to_cores_and_kib_to_bytes() {
    let text = format!(
        "{BB_HEADER}\n1372629804;\t2;\t5851.9989;\t87.7799835;\t1.5;\t8218624.0;\t1034592.8;\t1;\t2;\t3;\t4\n"
    );
    let t = parse_bitbrains("bb", "1", &text).expect("valid");
    // 87.78 MHz of 2 cores at 2926 MHz each = 0.030 cores.
    assert_eq!(t.points[0].cpu, Some(MilliCpu(30)));
    assert_eq!(
        t.points[0].memory,
        Some(Bytes::from_f64(1034592.8 * 1024.0))
    );
    assert_eq!(t.provisioned.cpu, MilliCpu(2000));
    assert_eq!(t.provisioned.memory, Bytes(8_218_624 * 1024));
}

#[test]
fn bitbrains_errors_are_typed() {
    assert!(matches!(
        parse_bitbrains("bb", "x", "nope\n1;2"),
        Err(ImportError::Header { .. })
    ));
    assert!(matches!(
        parse_bitbrains("bb", "x", BB_HEADER),
        Err(ImportError::Empty)
    ));
    let off = format!("{BB_HEADER}\n1;0;0;0;0;0;0\n2;2;2000;1000;0;1024;512\n");
    let t = parse_bitbrains("bb", "x", &off).expect("a VM that was off is skipped");
    assert_eq!(t.points.len(), 1);
    assert_eq!(t.points[0].cpu, Some(MilliCpu(1000)));
    let zero_cap = format!("{BB_HEADER}\n1;2;0;1;1;1;1\n");
    assert!(matches!(
        parse_bitbrains("bb", "x", &zero_cap),
        Err(ImportError::Invalid { line: 2, .. })
    ));
    let short = format!("{BB_HEADER}\n1;2;3\n");
    assert!(matches!(
        parse_bitbrains("bb", "x", &short),
        Err(ImportError::Invalid { line: 2, .. })
    ));
}

#[test]
fn alibaba_2018_is_a_percentage_of_the_stated_request() {
    let t = parse_alibaba_2018(
        "ali",
        "c",
        "TIMESTAMP,CPU_USAGE_ACTUAL\n2023.04.02-00:09:00:000,7.2\n2023.04.02-00:10:00:500,50\n",
    )
    .expect("valid");
    assert_eq!(t.points[0].at.unix_millis(), 1_680_394_140_000);
    assert_eq!(t.points[1].at.unix_millis(), 1_680_394_200_500);
    assert_eq!(t.points[0].cpu, Some(MilliCpu(288)));
    assert_eq!(t.points[1].cpu, Some(MilliCpu(2000)));
    assert_eq!(t.provisioned.cpu, ALIBABA_2018_REQUEST);
    assert!(matches!(
        parse_alibaba_2018(
            "a",
            "c",
            "TIMESTAMP,CPU_USAGE_ACTUAL\n2023.13.02-00:09:00:000,1\n"
        ),
        Err(ImportError::Invalid { line: 2, .. })
    ));
    assert!(matches!(
        parse_alibaba_2018(
            "a",
            "c",
            "TIMESTAMP,CPU_USAGE_ACTUAL\n2023.01.02-00:09:00:000,-1\n"
        ),
        Err(ImportError::Invalid { line: 2, .. })
    ));
}

#[test]
fn genai_splits_by_container_and_scales_by_the_limit() {
    let text = "value,timestamp_anon,container_ip\n0.5,100.0,a\n0.25,160.0,\n0.75,40.0,a\n";
    let traces = parse_genai("g", text).expect("valid");
    assert_eq!(traces.len(), 2);
    let a = &traces[0];
    assert_eq!(a.name, "a");
    assert_eq!(a.points[0].at.unix_millis(), 40_000, "sorted by time");
    assert_eq!(a.points[0].memory, Some(GENAI_MEMORY_LIMIT.scale(0.75)));
    assert_eq!(traces[1].name, "unnamed");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).expect("in memory");
    let bytes = gz.finish().expect("in memory");
    assert_eq!(
        read_genai_gz("g", bytes.as_slice()).expect("valid gzip"),
        traces
    );
    assert!(matches!(
        read_genai_gz("g", &b"not gzip"[..]),
        Err(ImportError::Io(_))
    ));
}

#[test]
fn prometheus_matrix_becomes_one_trace_per_series() {
    let json = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"namespace":"ns","pod":"p","container":"c"},"values":[[1700000000,"0.5"],[1700000060.5,"NaN"],[1700000120,"1.25"]]},
        {"metric":{},"values":[]}]}}"#;
    let t = parse_prometheus("prom", json, PromResource::Cpu, None).expect("valid");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].name, "ns/p/c");
    assert_eq!(t[0].points.len(), 2);
    assert_eq!(t[0].points[1].cpu, Some(MilliCpu(1250)));
    assert_eq!(t[0].provisioned.cpu, MilliCpu(1250), "peak by default");
    let bad = r#"{"status":"error","data":{"resultType":"matrix","result":[]}}"#;
    assert!(matches!(
        parse_prometheus("p", bad, PromResource::Cpu, None),
        Err(ImportError::PromStatus(_))
    ));
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    assert!(matches!(
        parse_prometheus("p", vector, PromResource::Memory, None),
        Err(ImportError::PromResultType(_))
    ));
    let negative = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"-3"]]}]}}"#;
    assert!(matches!(
        parse_prometheus("p", negative, PromResource::Memory, None),
        Err(ImportError::Invalid { .. })
    ));
}

proptest! {
    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in "\\PC{0,400}") {
        let _ = parse_bitbrains("d", "n", &format!("{BB_HEADER}\n{s}"));
        let _ = parse_alibaba_2018("d", "n", &format!("TIMESTAMP,CPU_USAGE_ACTUAL\n{s}"));
        let _ = parse_genai("d", &format!("value,timestamp_anon,container_ip\n{s}"));
        let _ = parse_prometheus("d", &s, PromResource::Cpu, None);
        let _ = read_genai_gz("d", s.as_bytes());
    }

    #[test]
    fn parsers_never_panic_on_field_soup(
        rows in prop::collection::vec(prop::collection::vec("[-0-9.eE:;,a-z ]{0,12}", 0..12), 0..20)
    ) {
        let body: String = rows.iter().map(|r| r.join(";") + "\n").collect();
        let _ = parse_bitbrains("d", "n", &format!("{BB_HEADER}\n{body}"));
        let body: String = rows.iter().map(|r| r.join(",") + "\n").collect();
        let _ = parse_alibaba_2018("d", "n", &format!("TIMESTAMP,CPU_USAGE_ACTUAL\n{body}"));
        let _ = parse_genai("d", &format!("value,timestamp_anon,container_ip\n{body}"));
    }

    #[test]
    fn valid_bitbrains_rows_round_trip(
        rows in prop::collection::vec((1u32..64, 1000.0f64..4000.0, 0.0f64..1.0, 1.0f64..1e8, 0.0f64..1.0), 1..30)
    ) {
        let mut text = format!("{BB_HEADER}\n");
        for (i, (cores, mhz, used, mem_kib, mem_used)) in rows.iter().enumerate() {
            let cap = f64::from(*cores) * mhz;
            text.push_str(&format!(
                "{};\t{cores};\t{cap};\t{};\t0;\t{mem_kib};\t{};\t0;\t0;\t0;\t0\n",
                1_372_629_804 + 300 * i as i64, cap * used, mem_kib * mem_used
            ));
        }
        let t = parse_bitbrains("d", "n", &text).expect("valid rows parse");
        prop_assert_eq!(t.points.len(), rows.len());
        for (p, (cores, _, used, mem_kib, mem_used)) in t.points.iter().zip(&rows) {
            let want = f64::from(*cores) * used * 1000.0;
            let got = p.cpu.expect("cpu").get() as f64;
            prop_assert!((got - want).abs() <= 1.0 + want * 1e-9, "cpu {got} vs {want}");
            let want = mem_kib * mem_used * 1024.0;
            let got = p.memory.expect("memory").get() as f64;
            prop_assert!((got - want).abs() <= 1.0 + want * 1e-9);
        }
    }

    #[test]
    fn alibaba_timestamps_round_trip(y in 1971i64..2100, mo in 1i64..=12, d in 1i64..=28, h in 0i64..24, mi in 0i64..60, s in 0i64..60, ms in 0i64..1000) {
        let text = format!("{y:04}.{mo:02}.{d:02}-{h:02}:{mi:02}:{s:02}:{ms:03}");
        let at = alibaba2018::parse_timestamp(&text).expect("valid timestamp");
        prop_assert_eq!(at.unix_millis(), unix_seconds_from_civil(y, mo, d, h, mi, s) * 1000 + ms);
        // Consecutive days are 86 400 s apart.
        prop_assert_eq!(unix_seconds_from_civil(y, mo, d + 1, h, mi, s) - unix_seconds_from_civil(y, mo, d, h, mi, s), 86_400);
    }

    #[test]
    fn prometheus_values_round_trip(values in prop::collection::vec((0u32..1_000_000, 0.0f64..1e12), 1..40)) {
        let pairs: Vec<String> = values.iter().enumerate()
            .map(|(i, (_, v))| format!("[{},\"{v}\"]", 1_700_000_000 + 60 * i as i64)).collect();
        let json = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"pod":"p"}},"values":[{}]}}]}}}}"#,
            pairs.join(",")
        );
        let t = parse_prometheus("d", &json, PromResource::Memory, Some(7)).expect("valid export");
        prop_assert_eq!(t[0].points.len(), values.len());
        prop_assert_eq!(t[0].provisioned.memory, Bytes(7));
        for (p, (_, v)) in t[0].points.iter().zip(&values) {
            prop_assert_eq!(p.memory, Some(Bytes::from_f64(*v)));
        }
    }
}
