//! `bench-summary`: prints the table of one `make bench` run and writes docs/benchmarks.md.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tailor_benchsum::collect::RunFiles;
use tailor_benchsum::render::{self, RunInfo};
use tailor_benchsum::{parse, rows};

#[derive(Debug, Parser)]
#[command(about = "One summary table of every benchmark figure of a `make bench` run")]
struct Args {
    /// Criterion's output folder.
    #[arg(long, env = "BENCH_CRITERION_DIR", default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// Where the benches wrote figure files, logs and `/usr/bin/time -v` reports; its `started` stamp
    /// marks the run's start (older files are stale), `loadavg-start` and `loadavg-end` the load around it.
    #[arg(
        long,
        env = "TAILOR_BENCH_FIGURES",
        default_value = "target/bench-figures"
    )]
    figures_dir: PathBuf,
    /// Criterion arguments the run passed (shown in each command).
    #[arg(
        long,
        env = "BENCH_ARGS",
        default_value = "",
        allow_hyphen_values = true
    )]
    bench_args: String,
    /// Write the Markdown document here as well.
    #[arg(long)]
    out: Option<PathBuf>,
    /// A sentence about the machine's state during the run.
    #[arg(
        long,
        env = "BENCH_NOTE",
        default_value = "Shared machine: other engineers were building and testing on the same cores during \
                         this run, so wall-clock figures are noisier and slower than on an idle machine \
                         (thread-CPU and byte figures are not affected)."
    )]
    note: String,
    /// Exit with an error when a figure is missing or stale.
    #[arg(long)]
    strict: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = std::fs::metadata(args.figures_dir.join("started"))
        .and_then(|m| m.modified())
        .ok();
    let files = RunFiles {
        criterion: args.criterion_dir,
        figures: args.figures_dir.clone(),
        started,
    };
    let rows = rows::rows();
    let measured: Vec<_> = rows.iter().map(|r| files.measure(r)).collect();
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let info = RunInfo {
        date: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
        load_start: parse::load_average(&read(args.figures_dir.join("loadavg-start"))),
        // `make bench` records the load when the benches end; a later summary of the same run keeps it.
        load_end: parse::load_average(&read(args.figures_dir.join("loadavg-end")))
            .or_else(|| parse::load_average(&read("/proc/loadavg".into()))),
        cpus: std::thread::available_parallelism().ok().map(usize::from),
        cpu_model: parse::cpu_model(&read("/proc/cpuinfo".into())),
        mem_total_bytes: parse::mem_total_bytes(&read("/proc/meminfo".into())),
        bench_args: args.bench_args,
        note: args.note,
    };
    let doc = render::document(&info, &rows, &measured);
    println!("{doc}");
    if let Some(out) = &args.out {
        std::fs::write(out, &doc).with_context(|| format!("writing {}", out.display()))?;
        println!("(written to {})", out.display());
    }
    let missing = measured.iter().filter(|m| m.value.is_err()).count();
    if args.strict && missing > 0 {
        anyhow::bail!("{missing} figure(s) missing or stale; see \"Missing figures\" above");
    }
    Ok(())
}
