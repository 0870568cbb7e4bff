//! Startup boost from the first instruction, on the real control plane: with the webhook registered, a pod of a
//! workload whose VPA asks for a startup boost is *created* with the boosted CPU limit (generation 1: no resize
//! happened) on top of its recommended size, with the boost record the updater reads back; once the pod has
//! been Ready for the boost's duration, the updater takes the boost away in place, without a restart.

mod boost_common;
mod sim_common;
mod updater_common;
mod webhook_common;

use std::time::Duration;

use anyhow::{Result, ensure};
use boost_common::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::Sim;
use tailor_tests::ControlPlane;
use updater_common::*;
use webhook_common::*;

#[tokio::test]
async fn a_boosted_workload_is_created_boosted_and_unboosted_in_place() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-w1"], "8", "8Gi").await?;
    install_vpa_crd(&client).await?;
    create_boosted_vpa(&client, "warm").await?;

    let dir = tempfile::tempdir()?;
    let _served = serve_and_register(&client, dir.path()).await?;

    // Declared larger than the recommendation: sized to 300m/600m at creation, then the limit ×3.
    let declared = json!({"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(
        &client,
        deployment("warm", 1, declared, "NotRequired", workload)?,
    )
    .await?;
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels("app=warm");
    let created = wait_for("pod created", Duration::from_secs(30), || {
        let (api, lp) = (api.clone(), lp.clone());
        async move { Ok(api.list(&lp).await?.items.into_iter().next()) }
    })
    .await?;
    let boosted = json!({"requests": {"cpu": "300m", "memory": "64Mi"}, "limits": {"cpu": "1800m", "memory": "128Mi"}});
    ensure!(
        resources(&created) == boosted,
        "created with {}",
        resources(&created)
    );
    ensure!(
        created.metadata.generation == Some(1),
        "boosted by a resize, not at creation: generation {:?}",
        created.metadata.generation
    );
    let record = boost_state(&created).unwrap_or_default();
    ensure!(
        record.contains("active=1") && record.contains("c=app:0:300m:600m"),
        "{record}"
    );
    let name = created.metadata.name.clone().unwrap_or_default();

    unboosted_in_place(&api, &name, "300m", "600m", Duration::from_secs(60)).await?;
    Ok(())
}
