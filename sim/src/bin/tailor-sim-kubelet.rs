//! `tailor-sim-kubelet`: thin entry point; everything lives in the `tailor_sim` library.

use anyhow::Context;
use clap::Parser;
use tailor_sim::cli::Args;
use tailor_sim::kubelet::{Clients, SimView, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if args.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let config = args.to_config()?;
    let clients = match &args.node_kubeconfig_dir {
        Some(dir) => {
            let mut map = std::collections::BTreeMap::new();
            for node in &config.nodes {
                let path = dir.join(format!("{}.kubeconfig", node.name));
                map.insert(node.name.clone(), client_from(&path).await?);
            }
            Clients::PerNode(map)
        }
        None => match &args.kubeconfig {
            Some(path) => Clients::Shared(client_from(path).await?),
            None => Clients::Shared(kube::Client::try_default().await?),
        },
    };
    run(clients, config, SimView::default(), shutdown_signal()).await?;
    Ok(())
}

async fn client_from(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await?;
    Ok(kube::Client::try_from(cfg)?)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
