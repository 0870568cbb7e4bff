//! `tailor`: see the library documentation.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tailor_cli::args::{Cli, Command};
use tracing_subscriber::EnvFilter;

async fn run(cli: Cli) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&cli.log_level)
        .map_err(|e| anyhow::anyhow!("--log-level {:?}: {e}", cli.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let text = match &cli.command {
        Command::Report(args) => tailor_cli::run::run_report(args).await?,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the whole cause chain: what an operator needs, without a backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
