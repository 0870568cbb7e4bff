//! `tailor report` against a real control plane with a simulated kubelet: two Deployments run on a simulated
//! node (one over-provisioned, one OOM-killed by the kubelet again and again), each with a VPA whose
//! recommendation the test writes into its status as a recommender would, and a checkpoint ConfigMap in
//! Tailor's format carrying an OOM floor. The over-provisioned one also carries the memory limit Tailor's
//! recommender publishes (`tailor.dev/memory-limits`), above its current limit. The report is built twice: through the library with the harness's
//! client, and by running the built `tailor` binary with `KUBECONFIG` set to the harness's admin kubeconfig
//! (JSON, CSV and table). Both must show the same numbers.
//!
//! The simulated kubelet is started with the tailor-tests e2e helper itself (`sim_common/mod.rs`, included, not
//! copied). This test lives in the CLI crate because only here does Cargo hand a test the path of the `tailor`
//! binary it built.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "../../tests/tests/sim_common/mod.rs"]
mod sim_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fixtures::{
    NS, annotate_memory_limits, oom_killed, pods_where, ready, vpa_crd, vpa_with_recommendation,
    workload,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};
use sim_common::{Sim, eventually};
use tailor_cli::fetch::Scope;
use tailor_cli::report::{Flag, Report, Row};
use tailor_core::model::{AggregateConfig, AggregateState, OomFloor, WorkloadKey, WorkloadKind};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;
use tailor_recommender::checkpoint::{FORMAT_VERSION, LABEL, StoredContainer, configmap_name};
use tailor_tests::ControlPlane;

const CHECKPOINT_NS: &str = "tailor-system";

/// Tailor's checkpoint ConfigMap for `workload`/`app`, in the recommender's own format, with an OOM floor.
async fn write_checkpoint(
    client: &kube::Client,
    workload: &WorkloadKey,
    floor: OomFloor,
) -> Result<()> {
    let _ = Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": CHECKPOINT_NS}}))?,
        )
        .await;
    let mut aggregate =
        AggregateState::new(&AggregateConfig::upstream(), floor.until).to_checkpoint();
    aggregate.oom_floor = Some(floor);
    aggregate.total_samples = 42;
    let stored = StoredContainer {
        version: FORMAT_VERSION,
        workload: workload.clone(),
        container: "app".into(),
        written_ms: tailor_cli::run::now().unix_millis(),
        aggregate,
    };
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": configmap_name(workload), "namespace": CHECKPOINT_NS,
                     "labels": {LABEL: FORMAT_VERSION.to_string()}},
        "data": {"app.json": serde_json::to_string(&stored)?}
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), CHECKPOINT_NS)
        .create(&PostParams::default(), &cm)
        .await?;
    Ok(())
}

fn row<'a>(report: &'a Report, vpa: &str) -> Result<&'a Row> {
    report
        .rows
        .iter()
        .find(|r| r.vpa == vpa && r.container == "app")
        .with_context(|| format!("no row for {vpa}/app in {:?}", report.rows))
}

/// Runs the built binary with the admin kubeconfig; returns stdout.
fn run_binary(cp: &ControlPlane, args: &[&str]) -> Result<String> {
    run_binary_as(cp.kubeconfig_path(), args)
}

/// Runs the built binary with `kubeconfig`; returns stdout.
fn run_binary_as(kubeconfig: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("TAILOR_NAMESPACE")
        .env_remove("TAILOR_OUTPUT")
        .output()?;
    ensure!(
        out.status.success(),
        "tailor {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test]
async fn report_shows_recommendations_savings_and_oom_risks() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-report"], "8", "16Gi").await?;
    vpa_crd(&client).await?;

    // Over-provisioned: 2 × (500m, 128Mi) requested, the VPA recommends 120m and 100Mi.
    let web = json!({"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}});
    let constant = r#"{"kind":"constant","cpu":"100m","memory":"64Mi"}"#;
    workload(&client, "web", 2, web, constant).await?;
    vpa_with_recommendation(
        &client,
        "web",
        ("120m", "100Mi"),
        ("60m", "80Mi"),
        ("300m", "200Mi"),
    )
    .await?;
    // Tailor recommends a 300Mi limit from observed peaks: the current 256Mi limit is an OOM risk.
    annotate_memory_limits(&client, "web", "app=300Mi").await?;

    // Under-provisioned: uses 200Mi against a 128Mi limit, so the kubelet OOM-kills it; the VPA says 300Mi.
    let oom = json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}});
    let hungry = r#"{"kind":"constant","cpu":"50m","memory":"200Mi"}"#;
    workload(&client, "oom", 1, oom, hungry).await?;
    vpa_with_recommendation(
        &client,
        "oom",
        ("100m", "300Mi"),
        ("50m", "200Mi"),
        ("200m", "400Mi"),
    )
    .await?;
    let floor = OomFloor {
        memory: Bytes(356 << 20),
        until: Timestamp::from_unix_millis(tailor_cli::run::now().unix_millis() + 3_600_000),
    };
    write_checkpoint(
        &client,
        &WorkloadKey::new(NS, WorkloadKind::Deployment, "oom"),
        floor,
    )
    .await?;

    pods_where(&client, "web", 2, ready).await?;
    pods_where(&client, "oom", 1, oom_killed).await?;

    // 1. The library, with the harness's client.
    let report = tailor_cli::run::report(
        &client,
        &Scope::Namespace(NS.into()),
        CHECKPOINT_NS,
        Duration::from_secs(3600),
        tailor_cli::run::now(),
    )
    .await?;
    println!("{}", tailor_cli::render::render_table(&report));
    ensure!(
        report.warnings.is_empty(),
        "warnings: {:?}",
        report.warnings
    );
    let w = row(&report, "web")?;
    ensure!(w.replicas == 2 && w.workload_kind == "Deployment" && w.workload_name == "web");
    ensure!(w.cpu.target == Some(MilliCpu(120)));
    ensure!(
        w.cpu.savings == Some(MilliCpu(760)),
        "2 × (500m − 120m): {:?}",
        w.cpu.savings
    );
    ensure!(
        w.memory.savings == Some(Bytes(56 << 20)),
        "2 × (128Mi − 100Mi): {:?}",
        w.memory.savings
    );
    ensure!(
        w.cpu.change_percent == Some(-76),
        "{:?}",
        w.cpu.change_percent
    );
    ensure!(
        w.memory.recommended_limit == Some(Bytes(300 << 20)),
        "{:?}",
        w.memory.recommended_limit
    );
    ensure!(
        w.flags == vec![Flag::MemoryLimitBelowRecommendedLimit],
        "web's only risk is its limit below the recommended one: {:?}",
        w.flags
    );

    let o = row(&report, "oom")?;
    ensure!(o.replicas == 1);
    ensure!(
        o.memory.savings == Some(Bytes(-(236 << 20))),
        "64Mi − 300Mi: {:?}",
        o.memory.savings
    );
    ensure!(
        o.flags
            .iter()
            .any(|f| matches!(f, Flag::OomKilled { pods: 1, .. })),
        "{:?}",
        o.flags
    );
    ensure!(
        o.flags.contains(&Flag::OomFloor {
            memory_bytes: 356 << 20,
            until_ms: floor.until.unix_millis()
        }),
        "{:?}",
        o.flags
    );
    ensure!(
        o.flags
            .contains(&Flag::UnderProvisioned { resource: "memory" }),
        "{:?}",
        o.flags
    );
    ensure!(
        o.flags.contains(&Flag::MemoryLimitBelowTarget),
        "{:?}",
        o.flags
    );
    ensure!(o.history.as_ref().map(|h| h.samples) == Some(42));
    ensure!(o.memory.recommended_limit.is_none(), "no annotation on oom");
    ensure!(
        report.totals.cpu.savings == MilliCpu(760),
        "web 760m saved, oom unchanged (100m)"
    );
    ensure!(report.totals.memory.savings == Bytes((56 << 20) - (236 << 20)));
    ensure!(report.totals.memory.increases == Bytes(236 << 20));

    // 2. The binary, as an operator runs it, with KUBECONFIG pointing at the admin kubeconfig.
    let json_text = run_binary(&cp, &["report", "-n", NS, "-o", "json"])?;
    let value: Value = serde_json::from_str(&json_text)?;
    let rows = value["rows"].as_array().context("rows")?;
    let find = |vpa: &str| {
        rows.iter()
            .find(|r| r["vpa"] == vpa && r["container"] == "app")
            .cloned()
            .with_context(|| format!("{vpa} row in {json_text}"))
    };
    let web_json = find("web")?;
    ensure!(
        web_json["cpu"]["savings"] == 760 && web_json["memory"]["savings"] == 56 << 20,
        "{web_json}"
    );
    ensure!(
        web_json["memory"]["recommended_limit"] == 300 << 20
            && web_json["cpu"]["recommended_limit"].is_null()
            && web_json["flags"] == json!([{"flag": "memory-limit-below-recommended-limit"}]),
        "{web_json}"
    );
    ensure!(
        find("oom")?["memory"]["recommended_limit"].is_null(),
        "{json_text}"
    );
    let oom_json = find("oom")?;
    let flags: Vec<&str> = oom_json["flags"]
        .as_array()
        .context("flags")?
        .iter()
        .filter_map(|f| f["flag"].as_str())
        .collect();
    for want in [
        "oom-killed",
        "oom-floor",
        "under-provisioned",
        "memory-limit-below-target",
    ] {
        ensure!(flags.contains(&want), "{want} missing from {flags:?}");
    }
    ensure!(value["totals"]["cpu"]["savings"] == 760);

    let csv = run_binary(&cp, &["report", "--all-namespaces", "-o", "csv"])?;
    ensure!(csv.lines().count() == 1 + report.rows.len(), "{csv}");
    ensure!(
        csv.lines().any(|l| l.starts_with("default,web,Deployment,web,app,Off,2,500,500,1000,1000,120,60,300,1000,240,760,-76,true,")),
        "{csv}"
    );

    ensure!(
        csv.lines().any(|l| l.starts_with("default,web,")
            && l.ends_with(",314572800,memory-limit-below-recommended-limit")),
        "web's recommended limit and flag: {csv}"
    );

    let table = run_binary(&cp, &["report"])?;
    println!("{table}");
    ensure!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.starts_with("NAMESPACE")),
        "{table}"
    );
    ensure!(table.contains("savings 760m (69%)"), "{table}");
    ensure!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.contains("MEM LIM REC")),
        "{table}"
    );

    least_privilege(&cp, &client).await?;

    // An unknown context is a clear error, not an empty report.
    let out = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(["report", "--context", "no-such-context"])
        .env("KUBECONFIG", cp.kubeconfig_path())
        .output()?;
    ensure!(!out.status.success(), "unknown context must fail");
    Ok(())
}

/// The shipped least-privilege RBAC (`cli/rbac.yaml`) is enough for the report: with the ClusterRole alone the
/// report works and warns that checkpoints are not readable; with the checkpoint Role too it shows the OOM floor.
async fn least_privilege(cp: &ControlPlane, admin: &kube::Client) -> Result<()> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rbac.yaml"))?;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_json::to_value(serde_yaml::Value::deserialize(doc)?)?;
        match value["kind"].as_str() {
            Some("ClusterRole") => {
                let role: ClusterRole = serde_json::from_value(value)?;
                Api::<ClusterRole>::all(admin.clone())
                    .create(&PostParams::default(), &role)
                    .await?;
            }
            Some("Role") => {
                let role: Role = serde_json::from_value(value)?;
                Api::<Role>::namespaced(admin.clone(), CHECKPOINT_NS)
                    .create(&PostParams::default(), &role)
                    .await?;
            }
            other => anyhow::bail!("unexpected kind {other:?} in rbac.yaml"),
        }
    }
    let subject = json!([{"kind": "ServiceAccount", "name": "report-reader", "namespace": NS}]);
    let kubeconfig = cp.service_account_kubeconfig(NS, "report-reader").await?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "report-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tailor-report"},
        "subjects": subject
    }))?;
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&PostParams::default(), &binding)
        .await?;

    let oom_flags = |value: &Value| -> Vec<String> {
        value["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["vpa"] == "oom")
            .flat_map(|r| r["flags"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f["flag"].as_str().map(str::to_owned))
            .collect()
    };
    let without = eventually(
        "report as the ClusterRole-only reader",
        Duration::from_secs(20),
        || {
            let kubeconfig = kubeconfig.clone();
            async move {
                // RBAC reaches the authorizer's cache within moments; until then the VPA list is refused.
                Ok(run_binary_as(&kubeconfig, &["report", "-o", "json"])
                    .ok()
                    .map(|out| serde_json::from_str::<Value>(&out))
                    .transpose()?)
            }
        },
    )
    .await?;
    let warnings = without["warnings"].to_string();
    ensure!(
        warnings.contains("checkpoints in namespace tailor-system are not readable"),
        "{warnings}"
    );
    let flags = oom_flags(&without);
    ensure!(
        flags.contains(&"oom-killed".to_owned()) && !flags.contains(&"oom-floor".to_owned()),
        "{flags:?}"
    );
    ensure!(
        without["totals"]["cpu"]["savings"] == 760,
        "same numbers without checkpoints"
    );

    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "report-reader", "namespace": CHECKPOINT_NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tailor-report-checkpoints"},
        "subjects": subject
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), CHECKPOINT_NS)
        .create(&PostParams::default(), &binding)
        .await?;
    eventually(
        "report with checkpoints as the reader",
        Duration::from_secs(20),
        || {
            let kubeconfig = kubeconfig.clone();
            async move {
                let value: Value =
                    serde_json::from_str(&run_binary_as(&kubeconfig, &["report", "-o", "json"])?)?;
                let ok = value["warnings"].as_array().is_some_and(Vec::is_empty)
                    && oom_flags(&value).contains(&"oom-floor".to_owned());
                Ok(ok.then_some(()))
            }
        },
    )
    .await
}
