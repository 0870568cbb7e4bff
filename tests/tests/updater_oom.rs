//! OOM fast path on the real control plane: pods of a Deployment whose containers use more memory than their
//! limit are OOM-killed by the simulated kubelet; the updater, woken by the pod watch, resizes them in place
//! with the OOM bump (the recommendation is stale) within seconds, and they then stay up. Prints the
//! OOM-seen → resize-seen latency (p50, p99) between the two pod updates as a watch delivers them.

mod sim_common;
mod updater_common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use sim_common::Sim;
use tailor_tests::ControlPlane;
use updater_common::*;

const PODS: usize = 4;

fn oom_seen(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.last_state
                    .as_ref()
                    .and_then(|l| l.terminated.as_ref())
                    .and_then(|t| t.reason.as_deref())
                    == Some("OOMKilled")
            })
        })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test]
async fn oom_kills_are_resized_within_seconds() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-o1", "sim-o2"], "4", "8Gi").await?;
    install_vpa_crd(&client).await?;
    let updater = start_updater(&client, &[])?;

    // A watch sees each change of a pod as its own event: the status update carrying the kill, then the
    // resize. (Polling would see both in one list whenever the updater answers within the poll interval.)
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let observer = tokio::spawn(async move {
        let mut oom_at: HashMap<String, Instant> = HashMap::new();
        let mut resized_at: HashMap<String, Instant> = HashMap::new();
        let cfg = watcher::Config::default().labels("app=oom");
        let mut events = std::pin::pin!(watcher(pods, cfg).applied_objects());
        while let Some(event) = events.next().await {
            let Ok(p) = event else { continue };
            let now = Instant::now();
            let uid = p.metadata.uid.clone().unwrap_or_default();
            if oom_seen(&p) {
                oom_at.entry(uid.clone()).or_insert(now);
            }
            if spec_value(&p, "requests", "memory").as_deref() != Some("64Mi") {
                resized_at.entry(uid).or_insert(now);
            }
            if resized_at.len() >= PODS && resized_at.keys().all(|k| oom_at.contains_key(k)) {
                break;
            }
        }
        (oom_at, resized_at)
    });

    let res = json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}});
    create_vpa(
        &client,
        "oom",
        "oom",
        "InPlace",
        rec(("100m", "64Mi"), ("50m", "50Mi"), ("200m", "80Mi")),
    )
    .await?;
    let workload = r#"{"kind":"constant","cpu":"50m","memory":"200Mi"}"#;
    create_deployment(
        &client,
        deployment("oom", i32::try_from(PODS)?, res, "NotRequired", workload)?,
    )
    .await?;

    let (oom_at, resized_at) = tokio::time::timeout(Duration::from_secs(120), observer).await??;
    let mut latencies: Vec<Duration> = resized_at
        .iter()
        .filter_map(|(uid, r)| oom_at.get(uid).map(|o| r.saturating_duration_since(*o)))
        .collect();
    ensure!(
        latencies.len() >= PODS,
        "only {} pods were OOM-killed and resized",
        latencies.len()
    );
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    eprintln!(
        "OOM seen -> resize seen over {} pods: p50 {p50:?}, p99 {p99:?}, all {latencies:?}",
        latencies.len()
    );
    ensure!(p99 < Duration::from_secs(10), "OOM-to-resize p99 {p99:?}");

    // The bump is a floor above the stale recommendation, and the pods then stay up.
    let ready = ready_pods(&client, "oom", PODS).await?;
    for p in &ready {
        ensure!(
            spec_value(p, "requests", "memory").as_deref() == Some("228Mi"),
            "{:?}",
            spec_value(p, "requests", "memory")
        );
        ensure!(
            spec_value(p, "limits", "memory").as_deref() == Some("456Mi"),
            "{:?}",
            spec_value(p, "limits", "memory")
        );
        ensure!(p.status.as_ref().and_then(|s| s.qos_class.as_deref()) == Some("Burstable"));
    }

    // An updater restart forgets nothing: the OOM kills are still within the OOM window and the
    // recommendation is still the stale 64Mi, yet the new process neither bumps again nor sizes the pods back
    // down, because what it knew is on the pods (tailor.dev/resize-state: OOM handled, OOM floor).
    drop(updater);
    let generations = |ps: &[Pod]| {
        let mut g: Vec<(String, Option<i64>)> = ps
            .iter()
            .map(|p| {
                (
                    p.metadata.name.clone().unwrap_or_default(),
                    p.metadata.generation,
                )
            })
            .collect();
        g.sort();
        g
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels("app=oom");
    let before = generations(&api.list(&lp).await?.items);
    let _updater = start_updater(&client, &[])?;
    for _ in 0..32 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let after = generations(&api.list(&lp).await?.items);
        ensure!(
            after == before,
            "resized after the restart: {before:?} -> {after:?}"
        );
    }
    Ok(())
}
