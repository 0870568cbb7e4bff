//! tailor-updater: see the library crate for what it does.

use clap::Parser;
use tailor_updater::config::Args;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tailor_k8s::telemetry::init(&args.log)?;
    tailor_updater::run(args).await
}
