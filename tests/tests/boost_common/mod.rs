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
