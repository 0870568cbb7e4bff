//! The real updater against a real control plane with simulated kubelets: a dry run changes nothing (pod
//! resourceVersions unchanged) but reports; a CPU down-size happens in place without a restart; a memory
//! increase on a RestartContainer container restarts at most one pod of the workload at a time; the QoS
//! class never changes.

mod sim_common;
mod updater_common;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::{Sim, container_id, eventually, restart_count};
use tailor_tests::ControlPlane;
use updater_common::*;

async fn pods(client: &kube::Client, app: &str) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    Ok(api
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?
        .items)
}

fn qos(p: &Pod) -> Option<String> {
    p.status.as_ref()?.qos_class.clone()
}

#[tokio::test]
async fn in_place_resizes_follow_the_rules() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-u1", "sim-u2"], "4", "8Gi").await?;
    install_vpa_crd(&client).await?;

    let cpu_res = json!({"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(
        &client,
        deployment("cpu-down", 2, cpu_res, "RestartContainer", workload)?,
    )
    .await?;
    let mem_res = json!({"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"cpu": "400m", "memory": "128Mi"}});
    create_deployment(
        &client,
        deployment("mem-up", 3, mem_res, "RestartContainer", workload)?,
    )
    .await?;
    let before_cpu = ready_pods(&client, "cpu-down", 2).await?;
    let before_mem = ready_pods(&client, "mem-up", 3).await?;
    create_vpa(
        &client,
        "cpu-down",
        "cpu-down",
        "InPlace",
        rec(("200m", "128Mi"), ("150m", "100Mi"), ("250m", "160Mi")),
    )
    .await?;
    create_vpa(
        &client,
        "mem-up",
        "mem-up",
        "InPlace",
        rec(("200m", "96Mi"), ("200m", "90Mi"), ("200m", "110Mi")),
    )
    .await?;

    // 1. Dry run: plans and reports, writes nothing to pods.
    let versions = |ps: &[Pod]| -> BTreeMap<String, Option<String>> {
        ps.iter()
            .map(|p| {
                (
                    p.metadata.name.clone().unwrap_or_default(),
                    p.metadata.resource_version.clone(),
                )
            })
            .collect()
    };
    let before: BTreeMap<_, _> = versions(&before_cpu)
        .into_iter()
        .chain(versions(&before_mem))
        .collect();
    {
        let _dry = start_updater(&client, &["--dry-run"])?;
        let events: Api<Event> = Api::namespaced(client.clone(), NS);
        let names = &before;
        // Both cpu-down pods, and one mem-up pod: its restarts are budgeted one at a time even in a dry run.
        eventually("WouldResize events", Duration::from_secs(30), || {
            let events = events.clone();
            async move {
                let list = events.list(&ListParams::default()).await?.items;
                let pods: std::collections::BTreeSet<String> = list
                    .iter()
                    .filter(|e| e.reason.as_deref() == Some("WouldResize"))
                    .filter_map(|e| e.regarding.as_ref().and_then(|r| r.name.clone()))
                    .filter(|n| names.contains_key(n))
                    .collect();
                let cpu = pods.iter().filter(|n| n.starts_with("cpu-down")).count();
                let mem = pods.iter().filter(|n| n.starts_with("mem-up")).count();
                Ok((cpu == 2 && mem == 1).then_some(()))
            }
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let after: BTreeMap<_, _> = versions(&pods(&client, "cpu-down").await?)
        .into_iter()
        .chain(versions(&pods(&client, "mem-up").await?))
        .collect();
    ensure!(
        after == before,
        "dry run changed pods: {before:?} -> {after:?}"
    );

    // 2. The real updater. Watch how many mem-up pods are down at once while it works.
    let _updater = start_updater(&client, &[])?;
    let watcher_client = client.clone();
    let max_down = tokio::spawn(async move {
        let mut max = 0usize;
        for _ in 0..600 {
            if let Ok(ps) = pods(&watcher_client, "mem-up").await {
                max = max.max(ps.iter().filter(|p| !is_ready(p)).count());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        max
    });

    // CPU down-size: in place, same container, no restart, QoS unchanged.
    let done = eventually("cpu-down resized in place", Duration::from_secs(60), || {
        let client = client.clone();
        async move {
            let ps = pods(&client, "cpu-down").await?;
            let done = ps.len() == 2
                && ps.iter().all(|p| {
                    spec_value(p, "requests", "cpu").as_deref() == Some("200m")
                        && status_value(p, "limits", "cpu").as_deref() == Some("400m")
                });
            Ok(done.then_some(ps))
        }
    })
    .await?;
    for p in &done {
        let old = before_cpu
            .iter()
            .find(|b| b.metadata.name == p.metadata.name)
            .expect("same pod");
        ensure!(
            restart_count(p) == 0,
            "cpu-down restarted: {}",
            restart_count(p)
        );
        ensure!(container_id(p) == container_id(old), "container replaced");
        ensure!(qos(p).as_deref() == Some("Burstable"), "QoS {:?}", qos(p));
        ensure!(
            spec_value(p, "requests", "memory").as_deref() == Some("128Mi"),
            "memory touched"
        );
    }

    // Memory up on RestartContainer: each pod restarts once, never two at a time.
    let done = eventually("mem-up resized", Duration::from_secs(90), || {
        let client = client.clone();
        async move {
            let ps = pods(&client, "mem-up").await?;
            let done = ps.len() == 3
                && ps.iter().all(|p| {
                    spec_value(p, "requests", "memory").as_deref() == Some("96Mi")
                        && status_value(p, "limits", "memory").as_deref() == Some("192Mi")
                        && is_ready(p)
                });
            Ok(done.then_some(ps))
        }
    })
    .await?;
    for p in &done {
        ensure!(
            restart_count(p) == 1,
            "{:?} restarted {} times",
            p.metadata.name,
            restart_count(p)
        );
        ensure!(qos(p).as_deref() == Some("Burstable"), "QoS {:?}", qos(p));
    }
    max_down.abort();
    let max = max_down.await.unwrap_or(0);
    ensure!(max <= 1, "{max} mem-up pods were down at once");
    Ok(())
}
