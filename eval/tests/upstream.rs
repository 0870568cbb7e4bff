//! The small subset `make test` runs: the upstream VPA Go driver against tailor-core's upstream mode on real
//! traces (their recommendations must agree within one histogram bucket), and every contender through the
//! replay and scorer, whose invariants are checked against an independent recount.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tailor_core::estimate::Resources;
use tailor_core::quantity::Bytes;
use tailor_core::time::Timestamp;
use tailor_eval::contender::{Contender, ContenderSpec, Tailor, TailorVariant, VpaGo};
use tailor_eval::fill::{FillConfig, MinuteSeries, to_minutes};
use tailor_eval::policy::ResizePolicy;
use tailor_eval::report::{BASELINE, TAILOR, summary};
use tailor_eval::run::{evaluate, load_shared};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the driver with its script (a no-op when up to date); a missing Go toolchain fails the test with the
/// script's message rather than skipping it.
fn driver() -> PathBuf {
    static DRIVER: OnceLock<PathBuf> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            let path = std::env::var_os("TAILOR_VPA_DRIVER")
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join(".build/vpa-driver"));
            let status = Command::new(root().join("eval/vpa-driver/build.sh"))
                .env("TAILOR_VPA_DRIVER", &path)
                .status()
                .expect("eval/vpa-driver/build.sh runs");
            assert!(
                status.success(),
                "building the upstream VPA driver failed (see above)"
            );
            path
        })
        .clone()
}

fn traces_dir() -> PathBuf {
    std::env::var_os("TAILOR_EVAL_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/traces"))
}

fn subset() -> Vec<MinuteSeries> {
    load_shared(&traces_dir(), Some(1))
        .expect("the shared traces load")
        .iter()
        .map(|t| to_minutes(t, &FillConfig::default()))
        .collect()
}

/// Within one 5 % bucket (plus a unit of integer truncation).
fn close(a: i64, b: i64) -> bool {
    let (a, b) = (a as f64, b as f64);
    (a - b).abs() <= 0.05 * a.abs().max(b.abs()) + 1.0
}

fn assert_close(what: &str, at: Timestamp, go: Resources, rust: Resources) {
    assert!(
        close(go.cpu.get(), rust.cpu.get()) && close(go.memory.get(), rust.memory.get()),
        "{what} at {at}: upstream Go {go:?}, tailor-core upstream mode {rust:?}"
    );
}

#[test]
fn upstream_go_driver_equals_tailor_core_upstream_mode() {
    let driver = driver();
    let mut compared = 0;
    let mut exact = 0;
    for s in subset() {
        let mut go = VpaGo::spawn(&driver).expect("driver starts");
        let mut rust = Tailor::new(TailorVariant::upstream_mode());
        let mut memory_request = Bytes(512 << 20);
        for (i, m) in s.minutes.iter().enumerate() {
            go.observe(m.at, m.cpu, m.memory).expect("go observes");
            rust.observe(m.at, m.cpu, m.memory).expect("rust observes");
            // An OOM kill every ~2 days, so the bump logic is compared too.
            if m.memory.is_some() && i % 2900 == 1450 {
                go.record_oom(m.at, memory_request, memory_request)
                    .expect("go oom");
                rust.record_oom(m.at, memory_request, memory_request)
                    .expect("rust oom");
                memory_request = memory_request.scale(1.3);
            }
            if i % 30 == 29 {
                let now = m.at.saturating_add(std::time::Duration::from_secs(60));
                let g = go
                    .recommend(now)
                    .expect("go answers")
                    .expect("a recommendation");
                let r = rust
                    .recommend(now)
                    .expect("rust answers")
                    .expect("a recommendation");
                assert_close(
                    &format!("{}/{} target", s.dataset, s.name),
                    now,
                    g.target,
                    r.target,
                );
                assert_close("lower bound", now, g.lower_bound, r.lower_bound);
                assert_close("upper bound", now, g.upper_bound, r.upper_bound);
                compared += 1;
                exact += usize::from(g.target == r.target);
            }
        }
    }
    eprintln!("{exact} of {compared} recommendation targets identical");
    assert!(compared > 1000, "only {compared} recommendations compared");
    // Same histograms and the same walk: beyond float rounding, the targets are identical.
    assert!(
        exact * 100 >= compared * 99,
        "{exact} of {compared} targets identical"
    );
}

#[test]
fn subset_scores_every_contender_and_compares_tailor_with_the_vpa_baseline() {
    let traces = load_shared(&traces_dir(), Some(1)).expect("the shared traces load");
    let contenders = ContenderSpec::all(driver());
    let fill = FillConfig::default();
    let eval = evaluate(
        &traces,
        &contenders,
        &fill,
        &ResizePolicy::default(),
        &[],
        2,
    )
    .expect("the subset replays");
    let datasets = ["bitbrains-rnd", "alibaba-2018", "alibaba-genai-2026"];
    for d in datasets {
        for c in &contenders {
            let s = eval
                .dataset_score(d, &c.name())
                .unwrap_or_else(|| panic!("{d} has no score for {}", c.name()));
            assert!(s.minutes > 60, "{d}/{}: {} minutes", c.name(), s.minutes);
            for slack in [s.cpu_slack(), s.memory_slack()].into_iter().flatten() {
                assert!(
                    (0.0..=1.0).contains(&slack),
                    "{d}/{}: slack {slack}",
                    c.name()
                );
            }
            assert!(s.under_minutes <= s.minutes);
            assert!(s.throttled_minutes <= s.cpu_under_minutes);
            assert!(s.oom_kills <= s.memory_under_minutes);
            assert!(s.disruptive_resizes <= s.resizes);
        }
        // The static contender never resizes, and its slack is recounted here independently.
        let st = eval.dataset_score(d, "static").expect("static scored");
        assert_eq!(st.resizes, 0);
        let series: Vec<MinuteSeries> = traces
            .iter()
            .filter(|t| t.dataset == d)
            .map(|t| to_minutes(t, &fill))
            .collect();
        let (mut num, mut den) = (0.0, 0.0);
        for s in &series {
            for m in &s.minutes {
                if let Some(c) = m.cpu {
                    den += s.provisioned.cpu.get() as f64;
                    num += (s.provisioned.cpu.get() - c.get()).max(0) as f64;
                }
            }
        }
        if den > 0.0 {
            let recount = num / den;
            let scored = st.cpu_slack().expect("cpu measured");
            assert!(
                (recount - scored).abs() < 1e-9,
                "{d}: {recount} vs {scored}"
            );
        }
        // Upstream mode and the upstream binary make the same decisions on the same samples.
        let go = eval.dataset_score(d, BASELINE).expect("baseline");
        let rust = eval
            .dataset_score(d, "tailor-upstream-mode")
            .expect("upstream mode");
        assert_eq!(go.oom_kills, rust.oom_kills, "{d}: OOM kills");
        let diff = |a: Option<f64>, b: Option<f64>| (a.unwrap_or(0.0) - b.unwrap_or(0.0)).abs();
        assert!(
            diff(go.cpu_slack(), rust.cpu_slack()) < 0.02,
            "{d}: CPU slack {go:?} vs {rust:?}"
        );
        assert!(
            diff(go.memory_slack(), rust.memory_slack()) < 0.02,
            "{d}: memory slack"
        );
    }
    // Tailor's defaults are compared against the VPA baseline in every dataset's summary.
    let table = summary(&eval);
    for d in datasets {
        assert!(table.contains(&format!("Dataset `{d}`")));
    }
    assert_eq!(
        table
            .matches(&format!("Goal ({TAILOR} vs {BASELINE})"))
            .count(),
        datasets.len()
    );
}
