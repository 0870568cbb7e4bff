//! Startup CPU boost on the real control plane: a starting pod gets more CPU (recorded in its boost-state
//! annotation), and once it has been Ready for the boost's duration the CPU goes back to the current
//! recommendation — in place, without a restart. A container that restarts (here: OOM-killed by a memory leak)
//! is boosted again and unboosted again.

mod boost_common;
mod sim_common;
mod updater_common;

use std::time::Duration;

use anyhow::{Result, ensure};
use boost_common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::{Sim, restart_count};
use tailor_tests::ControlPlane;
use updater_common::*;

#[tokio::test]
async fn a_starting_or_restarted_pod_is_boosted_and_unboosted_to_the_recommendation() -> Result<()>
{
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-b1"], "8", "8Gi").await?;
    install_vpa_crd(&client).await?;
    create_boosted_vpa(&client, "boost").await?;
    let _updater = start_updater(&client, &[])?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let res = json!({"requests": {"cpu": "300m", "memory": "64Mi"}, "limits": {"cpu": "600m", "memory": "128Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(
        &client,
        deployment("boost", 1, res, "NotRequired", workload)?,
    )
    .await?;

    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels("app=boost");
    let boosted = wait_for("pod boosted", Duration::from_secs(30), || {
        let (api, lp) = (api.clone(), lp.clone());
        async move {
            let ps = api.list(&lp).await?.items;
            Ok(ps
                .into_iter()
                .find(|p| spec_value(p, "limits", "cpu").as_deref() == Some("1800m")))
        }
    })
    .await?;
    ensure!(
        boost_state(&boosted)
            .is_some_and(|s| s.contains("active=1") && s.contains("c=app:0:300m:600m")),
        "{:?}",
        boost_state(&boosted)
    );
    let name = boosted.metadata.name.clone().unwrap_or_default();

    unboosted_in_place(&api, &name, "300m", "600m", Duration::from_secs(30)).await?;
    // A leaking container is OOM-killed after ~25 s and restarts: boosted again, then unboosted again.
    create_boosted_vpa(&client, "leaky").await?;
    let res = json!({"requests": {"cpu": "300m", "memory": "64Mi"}, "limits": {"cpu": "600m", "memory": "128Mi"}});
    let leak = r#"{"kind":"leak","cpu":"100m","memory":"32Mi","leak_per_second":"4Mi"}"#;
    create_deployment(&client, deployment("leaky", 1, res, "NotRequired", leak)?).await?;
    let lp = ListParams::default().labels("app=leaky");
    wait_for(
        "leaky pod re-boosted after its restart",
        Duration::from_secs(90),
        || {
            let (api, lp) = (api.clone(), lp.clone());
            async move {
                let ps = api.list(&lp).await?.items;
                Ok(ps.into_iter().find(|p| {
                    restart_count(p) >= 1
                        && boost_state(p)
                            .is_some_and(|s| s.contains("active=1") && !s.contains("c=app:0:"))
                        && spec_value(p, "limits", "cpu").as_deref() == Some("1800m")
                }))
            }
        },
    )
    .await?;
    wait_for(
        "leaky pod unboosted after the restart",
        Duration::from_secs(60),
        || {
            let (api, lp) = (api.clone(), lp.clone());
            async move {
                let ps = api.list(&lp).await?.items;
                Ok(ps.into_iter().find(|p| {
                    restart_count(p) >= 1
                        && boost_state(p).is_some_and(|s| s.contains("active=0"))
                        && spec_value(p, "limits", "cpu").as_deref() == Some("600m")
                }))
            }
        },
    )
    .await?;
    Ok(())
}
