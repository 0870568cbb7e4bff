//! tailor-recommender: see the library documentation.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tailor_recommender::run::run(tailor_recommender::args::Args::parse()).await
}
