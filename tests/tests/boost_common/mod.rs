//! Helpers for the startup-boost end-to-end tests (`updater_boost.rs`, `webhook_boost_e2e.rs`); the test
//! binary must also declare `sim_common` and `updater_common`.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::sim_common::restart_count;
use crate::updater_common::{is_ready, spec_value, wait_for};

/// The pod's boost record (annotation `tailor.dev/boost-state`).
pub fn boost_state(p: &Pod) -> Option<String> {
    p.metadata
        .annotations
        .as_ref()?
        .get("tailor.dev/boost-state")
        .cloned()
}

/// Waits until pod `name` is back at `request`/`limit` CPU with an inactive boost record, then checks that it
/// is Ready, never restarted and still Burstable: the unboost happened in place.
pub async fn unboosted_in_place(
    api: &Api<Pod>,
    name: &str,
    request: &str,
    limit: &str,
    timeout: Duration,
) -> Result<Pod> {
    let p = wait_for("pod unboosted", timeout, || {
        let (api, name) = (api.clone(), name.to_owned());
        async move {
            let p = api.get(&name).await?;
            let back = spec_value(&p, "requests", "cpu").as_deref() == Some(request)
                && spec_value(&p, "limits", "cpu").as_deref() == Some(limit)
                && boost_state(&p).is_some_and(|s| s.contains("active=0"));
            Ok(back.then_some(p))
        }
    })
    .await?;
    ensure!(is_ready(&p), "not ready after the unboost");
    ensure!(
        restart_count(&p) == 0,
        "restarted {} times",
        restart_count(&p)
    );
    let qos = p.status.as_ref().and_then(|s| s.qos_class.as_deref());
    ensure!(qos == Some("Burstable"), "QoS changed to {qos:?}");
    Ok(p)
}

/// Creates VPA `name` for Deployment `name` in `InPlace` mode, recommending 300m / 64Mi, with a startup boost of
/// ×3 for 3 s after Ready.
pub async fn create_boosted_vpa(client: &kube::Client, name: &str) -> Result<()> {
    use kube::api::{Patch, PatchParams};
    use tailor_k8s::crd::vpa::VerticalPodAutoscaler;
    crate::updater_common::create_vpa(
        client,
        name,
        name,
        "InPlace",
        crate::updater_common::rec(("300m", "64Mi"), ("250m", "50Mi"), ("350m", "100Mi")),
    )
    .await?;
    let vpas: Api<VerticalPodAutoscaler> =
        Api::namespaced(client.clone(), crate::updater_common::NS);
    let boost = serde_json::json!({"spec": {"startupBoost": {"cpu": {"type": "Factor", "factor": 3, "durationSeconds": 3}}}});
    vpas.patch(name, &PatchParams::default(), &Patch::Merge(&boost))
        .await?;
    Ok(())
}
