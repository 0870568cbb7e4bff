//! tailor-demo: runs Tailor's whole pipeline locally (see the library docs) and shows what it does.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use tailor_demo::components::Launch;
use tailor_demo::observe::{Observer, snapshot};
use tailor_demo::stack::{Stack, StackOptions};
use tailor_demo::summary::Summary;
use tailor_demo::{table, workloads};

/// Tailor on a local control plane with simulated nodes: node-agents, recommender and updater as real processes.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// How long to watch before the summary (ignored with --keep-running).
    #[arg(long, env = "TAILOR_DEMO_SECONDS", default_value_t = 180)]
    duration_seconds: u64,
    /// Seconds between table refreshes.
    #[arg(long, default_value_t = 5)]
    refresh_seconds: u64,
    /// Keep everything running until Ctrl-C, and print how to reach the API.
    #[arg(long)]
    keep_running: bool,
    /// Folder for logs, certificates and tokens (default: a temp dir, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Folder with the tailor-node-agent, tailor-recommender and tailor-updater binaries (default: next to
    /// this executable).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("tailor-demo-")
                .tempdir()
                .context("creating the demo dir")?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = std::fs::File::create(dir.join("demo.log")).context("creating demo.log")?;
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let launch = match &args.bin_dir {
        Some(bin_dir) => Launch::Processes {
            bin_dir: bin_dir.clone(),
        },
        None => Launch::sibling_binaries()?,
    };
    println!(
        "Tailor demo: logs, certificates and tokens in {}",
        dir.display()
    );

    let options = StackOptions::new(launch);
    let mut stack = tokio::select! {
        s = Stack::start(&options, &dir, |step| println!("* {step}")) => s?,
        () = stop_signal() => {
            println!("interrupted during start-up; everything started so far was stopped");
            return Ok(());
        }
    };
    let outcome = run(&args, &mut stack, &dir).await;
    println!("* stopping the updater, node-agents, recommender, simulator and control plane");
    let stopped = stack.stop().await;
    let summary = outcome?;
    stopped?;
    println!("* everything stopped\n\n{summary}");
    Ok(())
}

/// Deploys the workloads, prints the table until the time is up or a signal arrives; returns the summary.
async fn run(args: &Args, stack: &mut Stack, dir: &std::path::Path) -> anyhow::Result<String> {
    let workloads = workloads::default_workloads();
    println!("* creating the workloads and their VPAs:");
    for w in &workloads {
        println!(
            "    {:<7} {} replica(s), {:<30} VPA mode {}",
            w.name, w.replicas, w.story, w.mode
        );
    }
    stack.deploy(&workloads).await?;
    for (label, path) in stack.logs() {
        println!("    log of {label}: {}", path.display());
    }
    if args.keep_running {
        let kubeconfig = stack
            .control_plane()
            .kubeconfig_path()
            .display()
            .to_string();
        println!(
            "\nThe demo keeps running until Ctrl-C. The API server is at {} (admin kubeconfig: {kubeconfig}).\n\
             Use any kubectl with it, e.g.:\n  KUBECONFIG={kubeconfig} kubectl get vpa,pods -o wide\n  \
             KUBECONFIG={kubeconfig} kubectl get events --sort-by=.lastTimestamp\n\
             Logs, certificates and tokens: {}",
            stack.control_plane().api_url(),
            dir.display()
        );
    }
    let start = Instant::now();
    let client = stack.admin_client();
    let mut observer = Observer::default();
    let mut ticker = tokio::time::interval(Duration::from_secs(args.refresh_seconds.max(1)));
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = &mut stop => {
                println!("\ninterrupted");
                break;
            }
        }
        stack.check()?;
        match snapshot(&client, &workloads).await {
            Ok(snap) => {
                observer.observe(snap.clone());
                print!(
                    "{}",
                    table::render(start.elapsed(), &workloads, &snap, &observer.restarts, 8)
                );
            }
            Err(e) => println!("(could not read the cluster: {e})"),
        }
        if !args.keep_running && start.elapsed() >= Duration::from_secs(args.duration_seconds) {
            break;
        }
    }
    Ok(Summary::compute(&workloads, &observer).render())
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
