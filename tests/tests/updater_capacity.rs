//! Capacity-aware resizing on the real control plane: a recommendation larger than the node is cut to what
//! fits now — no resize is left Deferred or Infeasible — and the updater does not retry in a loop.

mod sim_common;
mod updater_common;

use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::{Sim, condition};
use tailor_tests::ControlPlane;
use updater_common::*;

fn cpu_request_m(p: &Pod) -> i64 {
    spec_value(p, "requests", "cpu").map_or(0, |v| match v.strip_suffix('m') {
        Some(m) => m.parse().unwrap_or(0),
        None => v.parse::<i64>().map_or(0, |c| c * 1000),
    })
}

#[tokio::test]
async fn resizes_fit_the_node_and_never_park() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-c1"], "2", "4Gi").await?;
    install_vpa_crd(&client).await?;
    let res = json!({"requests": {"cpu": "500m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(&client, deployment("big", 2, res, "NotRequired", workload)?).await?;
    ready_pods(&client, "big", 2).await?;
    // Wants 3 CPUs per pod on a 2-CPU node already holding 1 CPU of requests.
    create_vpa(
        &client,
        "big",
        "big",
        "InPlace",
        rec(("3", "64Mi"), ("3", "50Mi"), ("3", "100Mi")),
    )
    .await?;
    let _updater = start_updater(&client, &[])?;

    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels("app=big");
    let grown = wait_for(
        "one pod grown to what fits",
        Duration::from_secs(30),
        || {
            let (api, lp) = (api.clone(), lp.clone());
            async move {
                let ps = api.list(&lp).await?.items;
                let total: i64 = ps.iter().map(cpu_request_m).sum();
                Ok((total == 2000).then_some(ps))
            }
        },
    )
    .await?;
    let mut requests: Vec<i64> = grown.iter().map(cpu_request_m).collect();
    requests.sort_unstable();
    ensure!(requests == vec![500, 1500], "requests {requests:?}");

    // From here on nothing more fits: no pending resize appears and no further resize is sent.
    let generations = |ps: &[Pod]| -> Vec<(Option<String>, Option<i64>)> {
        let mut g: Vec<_> = ps
            .iter()
            .map(|p| (p.metadata.name.clone(), p.metadata.generation))
            .collect();
        g.sort();
        g
    };
    let before = generations(&grown);
    for _ in 0..40 {
        let ps = api.list(&lp).await?.items;
        for p in &ps {
            ensure!(
                condition(p, "PodResizePending").is_none(),
                "{:?} has a pending resize",
                p.metadata.name
            );
        }
        ensure!(
            generations(&ps) == before,
            "resized again: {before:?} -> {:?}",
            generations(&ps)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}
