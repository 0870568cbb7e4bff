//! Command-line flags (each with an environment fallback) and their translation into settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use tailor_core::estimate::{EstimatorConfig, MemoryLimitPolicy};
use tailor_core::histogram::PercentileMode;
use tailor_core::model::AggregateConfig;
use tailor_k8s::admin::AdminArgs;
use tailor_k8s::leader::LeaderArgs;
use tailor_k8s::telemetry::LogArgs;

use crate::ingest::auth::AuthPolicy;
use crate::model::ModelOptions;
use crate::recommend::RecommendConfig;

/// tailor-recommender: turns node-agent usage reports into VPA recommendations.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub leader: LeaderArgs,

    /// Address of the report endpoint.
    #[arg(long, env = "TAILOR_LISTEN_ADDR", default_value = "0.0.0.0:8443")]
    pub listen_addr: SocketAddr,
    /// PEM certificate chain of the report endpoint.
    #[arg(long, env = "TAILOR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the report endpoint.
    #[arg(long, env = "TAILOR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of the certificate files; a changed pair is served without a restart.
    #[arg(long, env = "TAILOR_TLS_RELOAD_INTERVAL_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub tls_reload_interval_seconds: u64,
    /// Serve reports over plain HTTP (tests only: tokens would cross the network in clear).
    #[arg(long, env = "TAILOR_INSECURE_HTTP", default_value_t = false)]
    pub insecure_http: bool,
    /// Largest report body accepted, in bytes.
    #[arg(long, env = "TAILOR_MAX_REPORT_BYTES", default_value_t = 8 << 20)]
    pub max_report_bytes: usize,

    /// The node-agent ServiceAccount, as `namespace:name`; the only sender accepted.
    #[arg(
        long,
        env = "TAILOR_AGENT_SERVICE_ACCOUNT",
        default_value = "tailor-system:tailor-node-agent"
    )]
    pub agent_service_account: String,
    /// Accept tokens that are not bound to a node (then the report's own `node` field is trusted).
    #[arg(long, env = "TAILOR_ALLOW_UNBOUND_TOKENS", default_value_t = false)]
    pub allow_unbound_tokens: bool,
    /// Audiences the node-agent tokens must carry (default: the API server's).
    #[arg(
        long = "token-audience",
        env = "TAILOR_TOKEN_AUDIENCES",
        value_delimiter = ','
    )]
    pub token_audiences: Vec<String>,

    /// The name VPAs use in `spec.recommenders` to pick this recommender.
    #[arg(long, env = "TAILOR_RECOMMENDER_NAME", default_value = "tailor")]
    pub recommender_name: String,
    /// Also serve VPAs that name no recommender (when Tailor is the cluster's only recommender).
    #[arg(long, env = "TAILOR_SERVE_UNNAMED_VPAS", default_value_t = false)]
    pub serve_unnamed_vpas: bool,

    /// Seconds between recommendation passes (an OOM kill triggers one at once).
    #[arg(
        long,
        env = "TAILOR_RECOMMENDATION_INTERVAL_SECONDS",
        default_value_t = 10
    )]
    pub recommendation_interval_seconds: u64,
    /// Seconds between checkpoint writes (a crash loses at most this much history).
    #[arg(long, env = "TAILOR_CHECKPOINT_INTERVAL_SECONDS", default_value_t = 60)]
    pub checkpoint_interval_seconds: u64,
    /// Namespace of the checkpoint ConfigMaps (the recommender's own).
    #[arg(
        long,
        env = "TAILOR_CHECKPOINT_NAMESPACE",
        default_value = "tailor-system"
    )]
    pub checkpoint_namespace: String,
    /// Import upstream VerticalPodAutoscalerCheckpoints for workloads without history.
    #[arg(long, env = "TAILOR_IMPORT_UPSTREAM_CHECKPOINTS", default_value_t = true, action = ArgAction::Set)]
    pub import_upstream_checkpoints: bool,
    /// Status and checkpoint writes in flight at once.
    #[arg(long, env = "TAILOR_WRITE_CONCURRENCY", default_value_t = 10)]
    pub write_concurrency: usize,
    /// Compute and log, but never write to the API.
    #[arg(long, env = "TAILOR_DRY_RUN", default_value_t = false)]
    pub dry_run: bool,

    /// How long an OOM kill's bump holds as a memory floor, in seconds; 0 is upstream's behaviour.
    #[arg(long, env = "TAILOR_OOM_FLOOR_HOLD_SECONDS", default_value_t = 24 * 3600)]
    pub oom_floor_hold_seconds: u64,

    /// Half-life of the CPU usage histogram, in seconds. Tailor's default is 15 minutes (CPU follows the level of
    /// demand through the day); upstream VPA's is 86400.
    #[arg(long, env = "TAILOR_CPU_HALF_LIFE_SECONDS", default_value_t = 900)]
    pub cpu_half_life_seconds: u64,

    /// Percentile of the CPU histogram the target is set from (upstream VPA's default too).
    #[arg(long, env = "TAILOR_TARGET_CPU_PERCENTILE", default_value_t = 0.9)]
    pub target_cpu_percentile: f64,

    /// Fraction added on top of the CPU percentiles. Tailor's default is 0.05; upstream VPA's
    /// `--recommendation-margin-fraction` is 0.15 for both resources.
    #[arg(long, env = "TAILOR_CPU_MARGIN_FRACTION", default_value_t = 0.05)]
    pub cpu_margin_fraction: f64,

    /// Fraction added on top of the memory percentiles (upstream VPA's default too).
    #[arg(long, env = "TAILOR_MEMORY_MARGIN_FRACTION", default_value_t = 0.15)]
    pub memory_margin_fraction: f64,

    /// How memory limits are recommended: `keep-ratio` (none: the updater keeps each limit's ratio to its
    /// request, as upstream) or `from-peaks` (the limit from the daily peaks, written to the VPA's
    /// `tailor.dev/memory-limits` annotation, with the OOM floor on it). Needs VPA `patch` in RBAC.
    #[arg(
        long,
        env = "TAILOR_MEMORY_LIMIT_POLICY",
        value_enum,
        default_value = "keep-ratio"
    )]
    pub memory_limit_policy: MemoryLimitFlag,

    /// Percentile of the daily peaks the memory limit is set from (with `from-peaks`).
    #[arg(long, env = "TAILOR_MEMORY_LIMIT_PERCENTILE", default_value_t = 0.9)]
    pub memory_limit_percentile: f64,

    /// Size memory requests from every working-set sample instead of the daily peaks. Only with
    /// `--memory-limit-policy from-peaks`: the peaks then guard the limit while the request follows typical use.
    #[arg(long, env = "TAILOR_MEMORY_REQUEST_FROM_SAMPLES")]
    pub memory_request_from_samples: bool,

    /// Percentile of the memory histogram the request target is set from (upstream: 0.9).
    #[arg(long, env = "TAILOR_TARGET_MEMORY_PERCENTILE", default_value_t = 0.9)]
    pub target_memory_percentile: f64,
    /// Keep start-up samples out of the steady-state histogram.
    #[arg(long, env = "TAILOR_STARTUP_SPLIT", default_value_t = true, action = ArgAction::Set)]
    pub startup_split: bool,
    /// Count heavy CPU throttling as demand above the limit.
    #[arg(long, env = "TAILOR_THROTTLING_SIGNAL", default_value_t = true, action = ArgAction::Set)]
    pub throttling_signal: bool,
    /// Share of CFS periods throttled from which an interval counts as starved, and from which a container's
    /// recent share sets the VPA's CPUThrottled condition.
    #[arg(long, env = "TAILOR_THROTTLING_THRESHOLD", default_value_t = 0.1)]
    pub throttling_threshold: f64,
    /// Interpolate inside histogram buckets instead of upstream's bucket-end rule.
    #[arg(long, env = "TAILOR_INTERPOLATE_PERCENTILES", default_value_t = false)]
    pub interpolate_percentiles: bool,
    /// Round CPU figures up to a multiple of this many millicores (1: no rounding, upstream's default).
    #[arg(long, env = "TAILOR_ROUND_CPU_MILLICORES", default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub round_cpu_millicores: i64,
    /// Round memory figures up to a multiple of this many bytes (default 1 MiB; 1 is upstream's default, none).
    #[arg(long, env = "TAILOR_ROUND_MEMORY_BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(i64).range(1..=1 << 40))]
    pub round_memory_bytes: i64,
    /// Below this many days of history a recommendation is flagged LowConfidence.
    #[arg(long, env = "TAILOR_LOW_CONFIDENCE_DAYS", default_value_t = 1.0)]
    pub low_confidence_days: f64,
    /// Most recommendation gauges exported (bounds the scrape on big clusters).
    #[arg(long, env = "TAILOR_MAX_RECOMMENDATION_SERIES", default_value_t = 5000)]
    pub max_recommendation_series: usize,
}

/// A flag combination that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// Neither TLS files nor the explicit opt-out.
    #[error("the report endpoint needs --tls-cert and --tls-key (or --insecure-http for tests)")]
    NoTls,
    /// The ServiceAccount flag is not `namespace:name`.
    #[error("--agent-service-account must be namespace:name, got {0:?}")]
    ServiceAccount(String),
    /// Requests from samples with limits kept at their ratio would pull limits down with the requests.
    #[error("--memory-request-from-samples needs --memory-limit-policy from-peaks")]
    SamplesWithoutLimits,
    /// A percentile outside (0, 1].
    #[error("{0} must be in (0, 1], got {1}")]
    Percentile(&'static str, f64),
    /// A safety margin below 0 or absurdly large (over 10×).
    #[error("{0} must be between 0 and 10, got {1}")]
    Margin(&'static str, f64),
}

/// `--memory-limit-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MemoryLimitFlag {
    KeepRatio,
    FromPeaks,
}

impl Args {
    /// Parses flags from `argv` (the first item is the program name), for embedding and tests.
    pub fn parse_from_iter<I, T>(argv: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(argv)
    }

    /// Checks flag combinations.
    pub fn validate(&self) -> Result<(), ArgsError> {
        if self.tls_cert.is_none() && !self.insecure_http {
            return Err(ArgsError::NoTls);
        }
        if self.memory_request_from_samples
            && self.memory_limit_policy != MemoryLimitFlag::FromPeaks
        {
            return Err(ArgsError::SamplesWithoutLimits);
        }
        for (flag, p) in [
            ("--target-cpu-percentile", self.target_cpu_percentile),
            ("--target-memory-percentile", self.target_memory_percentile),
            ("--memory-limit-percentile", self.memory_limit_percentile),
        ] {
            if !(p > 0.0 && p <= 1.0) {
                return Err(ArgsError::Percentile(flag, p));
            }
        }
        for (flag, m) in [
            ("--cpu-margin-fraction", self.cpu_margin_fraction),
            ("--memory-margin-fraction", self.memory_margin_fraction),
        ] {
            if !(0.0..=10.0).contains(&m) {
                return Err(ArgsError::Margin(flag, m));
            }
        }
        self.auth_policy().map(|_| ())
    }

    /// Who may post reports.
    pub fn auth_policy(&self) -> Result<AuthPolicy, ArgsError> {
        let (ns, name) = self
            .agent_service_account
            .split_once(':')
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty())
            .ok_or_else(|| ArgsError::ServiceAccount(self.agent_service_account.clone()))?;
        Ok(AuthPolicy {
            allow_unbound_tokens: self.allow_unbound_tokens,
            ..AuthPolicy::service_account(ns, name)
        })
    }

    /// Model settings.
    pub fn model_options(&self) -> ModelOptions {
        ModelOptions {
            aggregate: AggregateConfig {
                oom_floor_hold: Duration::from_secs(self.oom_floor_hold_seconds),
                cpu_half_life: Duration::from_secs(self.cpu_half_life_seconds.max(1)),
                memory_usage_histogram: self.memory_request_from_samples,
                ..AggregateConfig::default()
            },
            startup_split: self.startup_split,
            throttling_signal: self.throttling_signal,
            throttling_threshold: self.throttling_threshold,
        }
    }

    /// Recommendation settings.
    pub fn recommend_config(&self) -> RecommendConfig {
        let mode = if self.interpolate_percentiles {
            PercentileMode::Interpolate
        } else {
            PercentileMode::BucketEnd
        };
        RecommendConfig {
            estimator: EstimatorConfig {
                percentile_mode: mode,
                round_cpu_millicores: self.round_cpu_millicores,
                round_memory_bytes: self.round_memory_bytes,
                target_cpu_percentile: self.target_cpu_percentile.clamp(0.0, 1.0),
                target_memory_percentile: self.target_memory_percentile.clamp(0.0, 1.0),
                cpu_safety_margin_fraction: self.cpu_margin_fraction.clamp(0.0, 10.0),
                memory_safety_margin_fraction: self.memory_margin_fraction.clamp(0.0, 10.0),
                memory_limit: match self.memory_limit_policy {
                    MemoryLimitFlag::KeepRatio => MemoryLimitPolicy::KeepRatio,
                    MemoryLimitFlag::FromPeaks => MemoryLimitPolicy::FromPeaks {
                        percentile: self.memory_limit_percentile.clamp(0.0, 1.0),
                        // The margin upstream puts on the request it sizes from these peaks.
                        margin_fraction: self.memory_margin_fraction.clamp(0.0, 10.0),
                    },
                },
                ..EstimatorConfig::tailor()
            },
            low_confidence_below: self.low_confidence_days,
            throttled_at: self.throttling_threshold.clamp(0.0, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        let mut argv = vec!["tailor-recommender"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("parses")
    }

    #[test]
    fn memory_limit_flags_are_checked_and_reach_the_estimator() {
        let args = parse(&["--insecure-http", "--memory-request-from-samples"]);
        assert!(matches!(
            args.validate(),
            Err(ArgsError::SamplesWithoutLimits)
        ));
        let args = parse(&["--insecure-http", "--target-cpu-percentile", "1.5"]);
        assert!(matches!(args.validate(), Err(ArgsError::Percentile(..))));
        let args = parse(&[
            "--insecure-http",
            "--memory-limit-policy",
            "from-peaks",
            "--memory-request-from-samples",
        ]);
        assert!(args.validate().is_ok());
        assert!(args.model_options().aggregate.memory_usage_histogram);
        assert!(
            args.recommend_config()
                .estimator
                .memory_limit
                .floors_the_limit()
        );
        let defaults = parse(&["--insecure-http"]);
        let est = defaults.recommend_config().estimator;
        assert_eq!(
            (
                est.target_cpu_percentile,
                est.cpu_safety_margin_fraction,
                est.memory_safety_margin_fraction
            ),
            (0.9, 0.05, 0.15)
        );
        // The flags' defaults are the core's: the evaluation scores the core's, the binary ships the flags'.
        let core = EstimatorConfig::tailor();
        assert_eq!(
            (
                est.target_cpu_percentile,
                est.cpu_safety_margin_fraction,
                est.memory_safety_margin_fraction
            ),
            (
                core.target_cpu_percentile,
                core.cpu_safety_margin_fraction,
                core.memory_safety_margin_fraction
            )
        );
        assert_eq!(
            defaults.model_options().aggregate.cpu_half_life,
            AggregateConfig::default().cpu_half_life
        );
        assert_eq!(
            defaults.model_options().aggregate.cpu_half_life,
            Duration::from_secs(900)
        );
        let args = parse(&["--insecure-http", "--cpu-margin-fraction=-0.1"]);
        assert!(matches!(args.validate(), Err(ArgsError::Margin(..))));
    }

    #[test]
    fn defaults_are_safe() {
        let args = parse(&[]);
        assert!(matches!(args.validate(), Err(ArgsError::NoTls)));
        assert!(!args.serve_unnamed_vpas && !args.dry_run && args.startup_split);
        assert_eq!(args.recommender_name, "tailor");
        let est = args.recommend_config().estimator;
        assert_eq!(
            (est.round_cpu_millicores, est.round_memory_bytes),
            (1, 1 << 20)
        );
        let ok = parse(&["--insecure-http"]);
        assert!(ok.validate().is_ok());
        assert_eq!(
            ok.auth_policy().expect("policy").username,
            "system:serviceaccount:tailor-system:tailor-node-agent"
        );
    }

    #[test]
    fn switches_turn_off() {
        let args = parse(&[
            "--startup-split",
            "false",
            "--oom-floor-hold-seconds",
            "0",
            "--insecure-http",
        ]);
        let m = args.model_options();
        assert!(!m.startup_split && m.aggregate.oom_floor_hold.is_zero());
        assert!(matches!(
            parse(&["--agent-service-account", "nope", "--insecure-http"]).validate(),
            Err(ArgsError::ServiceAccount(_))
        ));
    }
}
