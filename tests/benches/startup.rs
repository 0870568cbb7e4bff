//! Start-up time of the test bed (goal: at most 20 s after the first build), measured by starting
//! and dropping whole control planes one after the other. The baseline printed next to it is
//! `kube-apiserver --version` in the same run: the bare cost of loading the ~120 MB binary.
//!
//! `cargo bench -p tailor-tests --bench startup` (runs: `TAILOR_STARTUP_RUNS`, default 3).

use std::time::{Duration, Instant};

use tailor_tests::{ControlPlane, default_bin_dir};

const GOAL: Duration = Duration::from_secs(20);

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("TAILOR_STARTUP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Runtime::new()?;

    let exec_start = Instant::now();
    let status = std::process::Command::new(default_bin_dir().join("kube-apiserver"))
        .arg("--version")
        .output()?
        .status;
    let baseline = exec_start.elapsed();
    anyhow::ensure!(
        status.success(),
        "kube-apiserver --version failed: {status}"
    );

    let mut totals = Vec::with_capacity(runs);
    for run in 1..=runs {
        let (times, teardown) = runtime.block_on(async {
            let cp = ControlPlane::start().await?;
            let times = cp.startup_times();
            let stop = Instant::now();
            drop(cp);
            Ok::<_, anyhow::Error>((times, stop.elapsed()))
        })?;
        println!(
            "run {run}: total {:.2} s (etcd {:.2} s, kube-apiserver {:.2} s, controllers {:.2} s); teardown {:.2} s",
            times.total.as_secs_f64(),
            times.etcd.as_secs_f64(),
            times.apiserver.as_secs_f64(),
            times.controllers.as_secs_f64(),
            teardown.as_secs_f64()
        );
        totals.push(times.total);
    }
    totals.sort();
    let median = totals[totals.len() / 2];
    println!(
        "startup median {:.2} s over {runs} runs = {:.2} x the 20 s goal = {:.0} x `kube-apiserver --version` ({:.3} s)",
        median.as_secs_f64(),
        median.as_secs_f64() / GOAL.as_secs_f64(),
        median.as_secs_f64() / baseline.as_secs_f64(),
        baseline.as_secs_f64()
    );
    // For `make bench`'s summary table (benchsum/), when `TAILOR_BENCH_FIGURES` names the run's figures folder.
    if let Some(dir) = std::env::var_os("TAILOR_BENCH_FIGURES") {
        let figures = serde_json::json!({
            "median_ns": median.as_secs_f64() * 1e9,
            "apiserver_version_ns": baseline.as_secs_f64() * 1e9,
            "runs": runs,
        });
        std::fs::write(
            std::path::Path::new(&dir).join("startup.json"),
            figures.to_string(),
        )?;
    }
    anyhow::ensure!(
        median <= GOAL,
        "median start-up {median:?} exceeds the {GOAL:?} goal"
    );
    Ok(())
}
