//! `tailor-eval`: replays traces through every contender, prints a table per dataset and writes the full results
//! and plots.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tailor_eval::contender::ContenderSpec;
use tailor_eval::fill::FillConfig;
use tailor_eval::import::{PromResource, parse_prometheus};
use tailor_eval::plot::{legend, plot_trace};
use tailor_eval::policy::ResizePolicy;
use tailor_eval::report::{per_trace, summary};
use tailor_eval::run::{Evaluation, MIN_MINUTES, evaluate, load_shared};
use tailor_eval::sweep;

/// Contenders drawn in the plots (all of them would be unreadable); the tables have every one.
const PLOTTED: [&str; 5] = [
    "static",
    "krr-like",
    "vpa-upstream",
    "tailor-defaults",
    "tailor-all-improvements",
];

#[derive(Debug, Parser)]
#[command(
    about = "Trace-replay evaluation of Tailor against the upstream VPA recommender and baselines"
)]
struct Cli {
    /// Folder holding the shared traces (bitbrains-rnd/, alibaba-2018/, alibaba-genai-2026/).
    #[arg(long, env = "TAILOR_EVAL_TRACES", default_value = "../shared/traces")]
    traces: PathBuf,
    /// The upstream VPA driver built by eval/vpa-driver/build.sh.
    #[arg(long, env = "TAILOR_VPA_DRIVER", default_value = ".build/vpa-driver")]
    driver: PathBuf,
    /// Where results.md and the plots go; nothing is written without it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the first N traces of each dataset.
    #[arg(long)]
    subset: Option<usize>,
    /// `dataset/trace` to plot (repeatable); default: the first scored trace of each dataset.
    #[arg(long)]
    plot: Vec<String>,
    /// Seed of the fill-in noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Half-width of the multiplicative noise on held CPU minutes.
    #[arg(long, default_value_t = 0.1)]
    cpu_spread: f64,
    #[arg(long, env = "TAILOR_EVAL_JOBS", default_value_t = 2)]
    jobs: usize,
    /// Resize with the simplified stand-in rules (`eval/src/policy.rs`) instead of the real planner.
    #[arg(long)]
    stand_in_policy: bool,
    /// Also run the candidate changes to the core's defaults (marked `candidate-`, never defaults).
    #[arg(long)]
    candidates: bool,
    /// Score a grid of Tailor settings against the upstream VPA instead (`eval/src/sweep.rs`); with `--out`,
    /// writes sweep.md there and leaves results.md alone.
    #[arg(long, conflicts_with = "candidates")]
    sweep: bool,
    /// Only the contenders whose names contain one of these (comma-separated); the table's goal line needs
    /// `vpa-upstream` and `tailor-defaults`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only the datasets whose names contain one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    datasets: Vec<String>,
    /// Replay a Prometheus range-query JSON export instead of the shared traces.
    #[arg(long)]
    prometheus: Option<PathBuf>,
    /// What the exported series measure.
    #[arg(long, value_enum, default_value = "memory")]
    prom_resource: PromResource,
    /// Static initial request of every exported series (millicores or bytes); default: each series' peak.
    #[arg(long)]
    prom_initial: Option<i64>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let traces = match &cli.prometheus {
        Some(p) => {
            let json =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            parse_prometheus("prometheus", &json, cli.prom_resource, cli.prom_initial)
                .with_context(|| format!("parsing {}", p.display()))?
        }
        None => load_shared(&cli.traces, cli.subset)?,
    };
    let fill = FillConfig {
        seed: cli.seed,
        cpu_spread: cli.cpu_spread,
        ..FillConfig::default()
    };
    let policy = ResizePolicy {
        core_planner: !cli.stand_in_policy,
        ..ResizePolicy::default()
    };
    let mut contenders = if cli.sweep {
        sweep::contenders(cli.driver.clone())
    } else if cli.candidates {
        ContenderSpec::with_candidates(cli.driver.clone())
    } else {
        ContenderSpec::all(cli.driver.clone())
    };
    if !cli.only.is_empty() {
        contenders.retain(|c| cli.only.iter().any(|o| c.name().contains(o.as_str())));
    }
    let mut traces = traces;
    if !cli.datasets.is_empty() {
        traces.retain(|t| cli.datasets.iter().any(|d| t.dataset.contains(d.as_str())));
    }
    let mut plot = cli.plot.clone();
    if plot.is_empty() {
        let mut seen: Vec<&str> = Vec::new();
        for t in &traces {
            if !seen.contains(&t.dataset.as_str()) && t.points.len() >= MIN_MINUTES {
                seen.push(&t.dataset);
                plot.push(format!("{}/{}", t.dataset, t.name));
            }
        }
    }
    if cli.sweep {
        let eval = evaluate(&traces, &contenders, &fill, &policy, &[], cli.jobs)?;
        let table = format!(
            "{}\n## Per dataset, every metric\n{}",
            sweep::table(&eval),
            summary(&eval)
        );
        println!("{table}");
        if let Some(out) = &cli.out {
            write_sweep(out, &table, &fill)?;
        }
        return Ok(());
    }
    let eval = evaluate(&traces, &contenders, &fill, &policy, &plot, cli.jobs)?;
    let tables = summary(&eval);
    println!("{tables}");
    if let Some(out) = &cli.out {
        write_results(out, &eval, &tables, &fill, &policy)?;
    }
    Ok(())
}

fn write_sweep(out: &std::path::Path, table: &str, fill: &FillConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let args: Vec<String> = std::env::args().collect();
    let md = format!(
        "# Settings sweep against the upstream VPA\n\n\
         Produced by `make eval-sweep`, which runs:\n\n```\n{}\n```\n\n\
         Same replay, fill-in (seed {}) and planner as `results.md`; memory limit = request. Each row is one \
         setting applied to every trace; the cut is 1 − slack/VPA's slack, pooled per dataset. The goal of issue \
         8 needs a cut of at least +30% in every column with harms ≤ VPA everywhere. Grid and names: \
         `eval/src/sweep.rs`; findings: `README.md` in this folder.\n\n{table}",
        args.join(" "),
        fill.seed
    );
    let path = out.join("sweep.md");
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn write_results(
    out: &std::path::Path,
    eval: &Evaluation,
    tables: &str,
    fill: &FillConfig,
    policy: &ResizePolicy,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut md = String::from("# Trace-replay evaluation results\n\n");
    let args: Vec<String> = std::env::args().collect();
    let _ = writeln!(
        md,
        "Produced by `make eval`, which runs:\n\n```\n{}\n```\n",
        args.join(" ")
    );
    let _ = writeln!(
        md,
        "Fill-in: seed {}, held CPU ×(1 ± U({})), gaps over {} s left empty. Resize policy: {:?}. \
         Method and assumptions: see `docs/eval/README.md`.\n",
        fill.seed,
        fill.cpu_spread,
        fill.max_gap.as_secs(),
        policy
    );
    md.push_str("## Per dataset (pooled over its traces)\n");
    md.push_str(tables);
    md.push_str("\n## Plots\n\n");
    for ((dataset, trace), runs) in &eval.plots {
        let runs: Vec<_> = runs
            .iter()
            .filter(|(n, _)| PLOTTED.contains(&n.as_str()))
            .cloned()
            .collect();
        let runs = runs.as_slice();
        let file = format!("{dataset}__{trace}.png");
        let (cpu_max, mem_max) = plot_trace(&out.join(&file), runs)?;
        let names: Vec<String> = runs.iter().map(|(n, _)| n.clone()).collect();
        let _ = writeln!(
            md,
            "- `{file}`: `{dataset}/{trace}`, top panel CPU (0–{:.2} cores), bottom panel memory (0–{:.2} GiB), \
             x = minutes; {}\n",
            cpu_max / 1000.0,
            mem_max / (1024.0 * 1024.0 * 1024.0),
            legend(&names)
        );
    }
    md.push_str("\n## Per trace\n");
    md.push_str(&per_trace(eval));
    if !eval.skipped.is_empty() {
        let _ = writeln!(
            md,
            "\n## Not scored (under {MIN_MINUTES} minutes after fill-in)\n\n{}",
            eval.skipped.join(", ")
        );
    }
    let path = out.join("results.md");
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
