//! Command-line flags, kubectl-style: `--kubeconfig`, `--context`, `-n/--namespace`, `-A/--all-namespaces`,
//! `-o table|json|csv`; each with an environment fallback where an operator would script it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::render::OutputFormat;

/// Tailor: in-place vertical pod autoscaling for Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "tailor", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log filter for diagnostics on stderr (`tracing_subscriber::EnvFilter` syntax).
    #[arg(long, global = true, env = "TAILOR_LOG", default_value = "warn")]
    pub log_level: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dry run: per workload and container, current requests and limits against the VPA's recommendation, the
    /// change, the savings summed over replicas, and risk flags (recent OOM kills, limits below the target,
    /// low confidence). Reads only; changes nothing.
    Report(ReportArgs),
}

/// Flags of `tailor report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount).
    #[arg(long, env = "TAILOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context).
    #[arg(long, env = "TAILOR_CONTEXT")]
    pub context: Option<String>,
    /// Namespace to report on (default: the context's namespace, or `default`).
    #[arg(short = 'n', long, env = "TAILOR_NAMESPACE")]
    pub namespace: Option<String>,
    /// Report on every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        env = "TAILOR_OUTPUT",
        default_value = "table"
    )]
    pub output: OutputFormat,
    /// Namespace of Tailor's recommender, whose checkpoint ConfigMaps carry OOM floors and history.
    #[arg(
        long,
        env = "TAILOR_CHECKPOINT_NAMESPACE",
        default_value = "tailor-system"
    )]
    pub checkpoint_namespace: String,
    /// How far back (seconds) an OOM kill in a pod's status counts as recent.
    #[arg(long, env = "TAILOR_OOM_WINDOW_SECONDS", default_value_t = 86_400)]
    pub oom_window_seconds: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tailor").chain(args.iter().copied()))
    }

    #[test]
    fn kubectl_style_flags() {
        let cli = parse(&["report", "-A", "-o", "csv", "--context", "prod"]).expect("parses");
        let Command::Report(r) = cli.command;
        assert!(r.all_namespaces);
        assert_eq!(r.output, OutputFormat::Csv);
        assert_eq!(r.context.as_deref(), Some("prod"));
        let cli = parse(&["report", "-n", "shop"]).expect("parses");
        let Command::Report(r) = cli.command;
        assert_eq!(r.namespace.as_deref(), Some("shop"));
        assert_eq!(r.output, OutputFormat::Table);
        assert_eq!(r.checkpoint_namespace, "tailor-system");
    }

    #[test]
    fn namespace_and_all_namespaces_conflict() {
        assert!(parse(&["report", "-n", "a", "-A"]).is_err());
        assert!(parse(&["report", "-o", "yaml"]).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
