//! `Off` does nothing at all on the real control plane: a VPA in `Off` mode with a startup boost and a
//! recommendation far from the pod's requests leaves the starting pod untouched — no boost, no resize, no
//! annotation — while the updater does plan it (counted as `mode_off`).

mod sim_common;
mod updater_common;

use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use sim_common::Sim;
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
use tailor_tests::ControlPlane;
use updater_common::*;

#[tokio::test]
async fn off_mode_never_boosts_or_resizes() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start(&cp, &["sim-off1"], "8", "8Gi").await?;
    install_vpa_crd(&client).await?;
    create_vpa(
        &client,
        "off",
        "off",
        "Off",
        rec(("100m", "64Mi"), ("80m", "50Mi"), ("120m", "100Mi")),
    )
    .await?;
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let boost = json!({"spec": {"startupBoost": {"cpu": {"type": "Factor", "factor": 3, "durationSeconds": 3}}}});
    vpas.patch("off", &PatchParams::default(), &Patch::Merge(&boost))
        .await?;
    let admin = free_addr()?;
    let _updater = start_updater_at(&client, admin, &[])?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let res = json!({"requests": {"cpu": "500m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    create_deployment(&client, deployment("off", 1, res, "NotRequired", workload)?).await?;
    ready_pods(&client, "off", 1).await?;
    wait_for(
        "the updater planning the pod",
        Duration::from_secs(20),
        || async move {
            let n = metric(
                admin,
                r#"tailor_updater_decisions_total{kind="skip",reason="mode_off"}"#,
            )
            .await?;
            Ok((n >= 5.0).then_some(()))
        },
    )
    .await?;
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let p = api
        .list(&ListParams::default().labels("app=off"))
        .await?
        .items
        .remove(0);
    let annotations = p.metadata.annotations.clone().unwrap_or_default();
    ensure!(
        p.metadata.generation == Some(1)
            && spec_value(&p, "requests", "cpu").as_deref() == Some("500m")
            && spec_value(&p, "limits", "cpu").as_deref() == Some("1")
            && !annotations.keys().any(|k| k.starts_with("tailor.dev/")),
        "pod touched: generation {:?}, annotations {annotations:?}",
        p.metadata.generation
    );
    let writes = metric(admin, "tailor_updater_actions_total").await?;
    ensure!(writes == 0.0, "{writes} writes");
    Ok(())
}
