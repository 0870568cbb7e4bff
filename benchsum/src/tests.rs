#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use crate::collect::{Missing, RunFiles};
use crate::parse::{self, ParseError};
use crate::render::{self, RunInfo, Tally};
use crate::rows::rows;
use crate::spec::{Goal, LogFigure, Source, Unit, command_line};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

#[test]
fn criterion_estimates_are_read_in_nanoseconds() {
    let e = parse::criterion_estimates(&fixture("criterion_estimates.json")).unwrap();
    assert_eq!(e.median_ns, 41_327_796.708_333_33);
    assert_eq!(e.mean_ns, 43_263_211.385_424_95);
    assert!(matches!(
        parse::criterion_estimates(r#"{"mean":{"point_estimate":1.0}}"#),
        Err(ParseError::Json(_))
    ));
}

#[test]
fn time_v_peak_rss_is_in_bytes() {
    assert_eq!(
        parse::max_rss_bytes(&fixture("time_v.txt")).unwrap(),
        992.0 * 1024.0
    );
    assert!(matches!(
        parse::max_rss_bytes("Command exited with non-zero status 1\n"),
        Err(ParseError::NotFound(_))
    ));
    assert!(matches!(
        parse::max_rss_bytes("\tMaximum resident set size (kbytes): lots\n"),
        Err(ParseError::NotANumber { .. })
    ));
}

#[test]
fn figure_files_give_named_numbers() {
    let text = fixture("histogram.json");
    assert_eq!(
        parse::figure(&text, "cpu_histogram_week_bytes").unwrap(),
        134.0
    );
    assert!(matches!(
        parse::figure(&text, "nope"),
        Err(ParseError::NotFound(_))
    ));
    assert!(matches!(
        parse::figure(r#"{"a":"12"}"#, "a"),
        Err(ParseError::NotANumber { .. })
    ));
    assert!(parse::figure("[1]", "a").is_err());
}

#[test]
fn debug_durations_in_every_unit() {
    assert_eq!(parse::debug_duration_ns("1.5s"), Some(1.5e9));
    assert_eq!(parse::debug_duration_ns("68.123456ms"), Some(68_123_456.0));
    assert_eq!(parse::debug_duration_ns("97.5µs"), Some(97_500.0));
    assert_eq!(parse::debug_duration_ns("12ns"), Some(12.0));
    assert_eq!(parse::debug_duration_ns("12"), None);
    assert_eq!(parse::debug_duration_ns("-1s"), None);
    assert_eq!(parse::debug_duration_ns("ms"), None);
}

#[test]
fn e2e_log_lines() {
    let oom = fixture("updater_oom.log");
    let tag = "OOM seen -> resize seen";
    assert_eq!(
        parse::duration_after(&oom, tag, &["p50"]).unwrap(),
        68_123_456.0
    );
    assert_eq!(
        parse::duration_after(&oom, tag, &["p99"]).unwrap(),
        97_500.0
    );
    let web = fixture("webhook_e2e.log");
    let tag = "pod creation (";
    let ms = |m: &[&str]| parse::number_after(&web, tag, m).unwrap();
    assert_eq!(ms(&["with webhook", "p50"]), 12.34);
    assert_eq!(ms(&["with webhook", "p99"]), 20.10);
    assert_eq!(ms(&["without", "p50"]), 10.0);
    assert_eq!(ms(&["without", "p99"]), 15.0);
    assert!(matches!(
        parse::number_after(&web, "no such line", &["p50"]),
        Err(ParseError::NotFound(_))
    ));
    assert!(matches!(
        parse::number_after(&web, tag, &["p75"]),
        Err(ParseError::NotFound(_))
    ));
}

#[test]
fn printed_tables_and_script_lines() {
    let sampling = fixture("sampling.log");
    assert_eq!(parse::table_row(&sampling, "agent_reopen").unwrap(), 17.88);
    assert_eq!(
        parse::table_row(&sampling, "cgroups_rs_0_5_1").unwrap(),
        65.78
    );
    assert!(matches!(
        parse::table_row(&sampling, "agent"),
        Err(ParseError::NotFound(_))
    ));
    assert!(matches!(
        parse::table_row("  agent_reopen n/a\n", "agent_reopen"),
        Err(ParseError::NotANumber { .. })
    ));
    let rss = fixture("bench_rss.log");
    assert_eq!(
        parse::number_after(&rss, "peak RSS:", &["peak RSS:"]).unwrap(),
        11.5
    );
    assert_eq!(
        parse::number_after(&rss, "peak RSS:", &["containers,"]).unwrap(),
        7.1
    );
    assert_eq!(
        parse::number_after(&rss, "CPU:", &["sweeps:"]).unwrap(),
        31.7
    );
}

#[test]
fn machine_facts() {
    assert_eq!(
        parse::load_average("4.26 4.28 3.95 3/512 12345\n"),
        Some([4.26, 4.28, 3.95])
    );
    assert_eq!(parse::load_average("4.26 x"), None);
    assert_eq!(
        parse::cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n").as_deref(),
        Some("AMD EPYC 7B13")
    );
    assert_eq!(
        parse::mem_total_bytes("MemTotal:        8000000 kB\nMemFree: 1 kB\n"),
        Some(8_000_000.0 * 1024.0)
    );
}

/// A run folder with every file the rows name: criterion estimates copied from the fixture, figure files,
/// `/usr/bin/time -v` reports and test logs.
fn fake_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let criterion = dir.path().join("criterion");
    let figures = dir.path().join("figures");
    std::fs::create_dir_all(&figures).unwrap();
    let mut sources: Vec<Source> = rows().iter().map(|r| r.source).collect();
    sources.extend(rows().iter().filter_map(|r| r.baseline.map(|b| b.source)));
    for source in sources {
        let (from, to) = match source {
            Source::Criterion { id, .. } | Source::CriterionRate { id, .. } => (
                "criterion_estimates.json".to_owned(),
                criterion.join(id).join("new/estimates.json"),
            ),
            Source::Figure { file, .. } | Source::Log { file, .. } => {
                (file.to_owned(), figures.join(file))
            }
            Source::MaxRss { file } => ("time_v.txt".to_owned(), figures.join(file)),
        };
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures().join(from), to).unwrap();
    }
    dir
}

fn files(dir: &Path, started: Option<SystemTime>) -> RunFiles {
    RunFiles {
        criterion: dir.join("criterion"),
        figures: dir.join("figures"),
        started,
    }
}

#[test]
fn every_row_reads_from_a_complete_run() {
    let dir = fake_run();
    let run = files(
        dir.path(),
        Some(SystemTime::now() - Duration::from_secs(3600)),
    );
    for row in rows() {
        let m = run.measure(&row);
        let v = m.value.unwrap_or_else(|e| panic!("{}: {e}", row.figure));
        assert!(v.is_finite() && v > 0.0, "{}: {v}", row.figure);
        if let Some(b) = m.baseline {
            b.unwrap_or_else(|e| panic!("{} baseline: {e}", row.figure));
        }
    }
}

#[test]
fn derived_figures_are_scaled() {
    let dir = fake_run();
    let run = files(dir.path(), None);
    let median = 41_327_796.708_333_33;
    let per = run
        .read(Source::Criterion {
            id: "sample_330_containers/agent_reopen",
            per: 330.0,
        })
        .unwrap();
    assert!((per - median / 330.0).abs() < 1e-6);
    let rate = run
        .read(Source::CriterionRate {
            id: "scale_100k/ingest_100_containers",
            elements: 100.0,
        })
        .unwrap();
    assert!((rate - 100.0 / (median / 1e9)).abs() < 1e-6);
    let web = run
        .read(Source::Log {
            file: "webhook_e2e.log",
            parse: LogFigure::Number {
                line: "pod creation (",
                after: &["without", "p99"],
                scale: 1e6,
            },
        })
        .unwrap();
    assert_eq!(web, 15.0e6);
}

#[test]
fn files_older_than_the_run_are_stale_and_absent_files_unreadable() {
    let dir = fake_run();
    let run = files(
        dir.path(),
        Some(SystemTime::now() + Duration::from_secs(3600)),
    );
    for row in rows() {
        assert!(matches!(
            run.measure(&row).value,
            Err(Missing::Stale { .. })
        ));
    }
    let empty = tempfile::tempdir().unwrap();
    let run = files(empty.path(), None);
    assert!(matches!(
        run.measure(&rows()[0]).value,
        Err(Missing::Unreadable { .. })
    ));
}

#[test]
fn table_states_value_goal_ratio_met_and_command() {
    let dir = fake_run();
    let run = files(dir.path(), None);
    let rows = rows();
    let measured: Vec<_> = rows.iter().map(|r| run.measure(r)).collect();
    let (table, tally) = render::table(&rows, &measured, "--warm-up-time 1");
    assert_eq!(table.lines().count(), rows.len() + 2);
    // Planner: the fixture's 41.3 ms over the same fixture as baseline, goal 200 ms.
    assert!(
        table.contains(
            "| planner (#7) | planning pass, 50k pods | 41.3 ms | ≤ 200 ms | 1.00× QoS-only pass (41.3 ms) | yes | \
             `cargo bench -p tailor-core --bench planner -- --warm-up-time 1` |"
        ),
        "{table}"
    );
    // The histogram add (41 ms against 50 ns) misses its goal.
    assert!(
        table.contains("| add one sample | 41.3 ms | ≤ 50 ns | — | **no** |"),
        "{table}"
    );
    assert!(table.contains("| 134 B | ≤ 1 KiB | — | yes |"), "{table}");
    assert!(table.contains("`node-agent/bench-rss.sh`"), "{table}");
    assert_eq!(tally.missing, 0);
    assert_eq!(tally.met + tally.not_met + tally.no_goal, rows.len());

    let doc = render::document(
        &RunInfo {
            date: "2026-11-23 07:00 UTC".into(),
            load_start: Some([4.0, 3.0, 2.0]),
            ..RunInfo::default()
        },
        &rows,
        &measured[..rows.len() - 1]
            .iter()
            .map(|_| crate::collect::Measured {
                value: Err(Missing::Stale { path: "x".into() }),
                baseline: None,
            })
            .collect::<Vec<_>>(),
    );
    assert!(doc.contains("at the start: 4.00, 3.00, 2.00; at the end: not recorded"));
    assert!(doc.contains("## Missing figures"));
    assert!(doc.contains("older than this run's start"));
}

#[test]
fn tally_counts_every_outcome() {
    let rows = &rows()[..1];
    let m = |v: f64| crate::collect::Measured {
        value: Ok(v),
        baseline: None,
    };
    assert_eq!(
        render::table(rows, &[m(10.0)], "").1,
        Tally {
            met: 1,
            ..Tally::default()
        }
    );
    assert_eq!(render::table(rows, &[m(60.0)], "").1.not_met, 1);
}

#[test]
fn commands_drop_the_placeholder_without_bench_args() {
    let c = "cargo bench -p tailor-core --bench planner -- {BENCH_ARGS}";
    assert_eq!(
        command_line(c, " "),
        "cargo bench -p tailor-core --bench planner"
    );
    assert_eq!(
        command_line(c, "--measurement-time 2"),
        "cargo bench -p tailor-core --bench planner -- --measurement-time 2"
    );
}

#[test]
fn values_read_naturally() {
    assert_eq!(render::format_value(Unit::Time, 33.04), "33.0 ns");
    assert_eq!(render::format_value(Unit::Time, 13_700.0), "13.7 µs");
    assert_eq!(render::format_value(Unit::Time, 9.65e9), "9.65 s");
    assert_eq!(render::format_value(Unit::Bytes, 280_000_000.0), "267 MiB");
    assert_eq!(
        render::format_value(Unit::Rate("reports/s"), 461_000.0),
        "461 k reports/s"
    );
    assert_eq!(Goal::AtLeast(200_000.0).met(461_000.0), Some(true));
    assert_eq!(Goal::None.met(1.0), None);
}

/// Every command in the table is one the Makefile runs, so the table never names a command nobody ran.
#[test]
fn every_command_is_in_the_makefile() {
    let makefile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile")).unwrap();
    let normalised = makefile
        .replace("$(CARGO)", "cargo")
        .replace("$(BENCH_ARGS)", "{BENCH_ARGS}")
        .replace("$(BENCH_FIGURES)", "target/bench-figures");
    for row in rows() {
        assert!(
            normalised.contains(row.command),
            "the Makefile does not run `{}`",
            row.command
        );
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(text in ".{0,200}") {
        let _ = parse::criterion_estimates(&text);
        let _ = parse::figure(&text, "a");
        let _ = parse::max_rss_bytes(&text);
        let _ = parse::debug_duration_ns(&text);
        let _ = parse::number_after(&text, "p", &["p50", "p99"]);
        let _ = parse::duration_after(&text, "", &["p50"]);
        let _ = parse::load_average(&text);
        let _ = parse::cpu_model(&text);
        let _ = parse::mem_total_bytes(&text);
    }

    #[test]
    fn debug_durations_round_trip(nanos in 0u64..10_000_000_000_000) {
        let d = Duration::from_nanos(nanos);
        let parsed = parse::debug_duration_ns(&format!("{d:?}")).unwrap();
        let expected = nanos as f64;
        prop_assert!((parsed - expected).abs() <= expected * 1e-12 + 1e-6, "{d:?} -> {parsed}");
    }

    #[test]
    fn time_v_reports_round_trip(kib in 0u64..1 << 40) {
        let report = format!("\tCommand being timed: \"x\"\n\tMaximum resident set size (kbytes): {kib}\n");
        prop_assert_eq!(parse::max_rss_bytes(&report).unwrap(), kib as f64 * 1024.0);
    }
}
