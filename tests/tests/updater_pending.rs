//! Pending resizes on the real control plane: a `Deferred` resize waits at most the configured bound and is
//! then reverted and held back (no retry loop); a kubelet `Infeasible` is reverted and not retried until the
//! recommendation drops — also across an updater restart, because the planner's memory is kept on the pod.
//!
//! The simulated kubelet's `--resize-hold-cpu=1` keeps 1 CPU of a 2-CPU node out of resize admission, so a
//! resize the API server's figures (and so the updater's headroom check) say fits is `Deferred` by the
//! kubelet, and one above 1 CPU is `Infeasible`.

mod sim_common;
mod updater_common;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::{Sim, condition};
use tailor_tests::ControlPlane;
use updater_common::*;

const WORKLOAD: &str = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;

fn cpu_request(p: &Pod) -> String {
    spec_value(p, "requests", "cpu").unwrap_or_default()
}

async fn list(client: &Client, app: &str) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    Ok(api
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?
        .items)
}

fn generations(ps: &[Pod]) -> Vec<(String, Option<i64>)> {
    let mut g: Vec<_> = ps
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
}

/// Events on pods of `app` with `reason`, as `(pod, note)`.
async fn events(client: &Client, reason: &str) -> Result<Vec<(String, String)>> {
    let api: Api<Event> = Api::namespaced(client.clone(), NS);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Pod"))
        .map(|e| {
            (
                e.regarding.and_then(|r| r.name).unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect())
}

/// Over `window`, no pod of `app` gets a new generation (no resize is sent).
async fn stays_put(client: &Client, app: &str, window: Duration) -> Result<Vec<Pod>> {
    let before = generations(&list(client, app).await?);
    let end = Instant::now() + window;
    loop {
        let ps = list(client, app).await?;
        ensure!(
            generations(&ps) == before,
            "resized again: {before:?} -> {:?}",
            generations(&ps)
        );
        if Instant::now() >= end {
            return Ok(ps);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn deferred_is_bounded_then_reverted_and_held_back() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start_with(&cp, &["sim-p1"], "2", "4Gi", &["--resize-hold-cpu=1"]).await?;
    install_vpa_crd(&client).await?;
    let res = json!({"requests": {"cpu": "400m", "memory": "64Mi"}, "limits": {"cpu": "800m", "memory": "128Mi"}});
    create_deployment(
        &client,
        deployment("defer", 2, res, "NotRequired", WORKLOAD)?,
    )
    .await?;
    ready_pods(&client, "defer", 2).await?;
    // 700m each: 1400m of 2000m allocatable fits the API's figures, not the 1000m the kubelet lets resizes use.
    create_vpa(
        &client,
        "defer",
        "defer",
        "InPlace",
        rec(("700m", "64Mi"), ("650m", "50Mi"), ("800m", "100Mi")),
    )
    .await?;
    let admin = free_addr()?;
    let bound = Duration::from_secs(4);
    let _updater = start_updater_at(
        &client,
        admin,
        &[
            "--deferred-timeout-seconds=4",
            "--deferred-backoff-seconds=600",
        ],
    )?;

    // The updater sizes both pods up; the kubelet defers them.
    wait_for(
        "both resizes Deferred by the kubelet",
        Duration::from_secs(30),
        || {
            let client = client.clone();
            async move {
                let ps = list(&client, "defer").await?;
                let deferred = ps
                    .iter()
                    .filter(|p| {
                        condition(p, "PodResizePending").and_then(|c| c.reason.as_deref())
                            == Some("Deferred")
                    })
                    .count();
                Ok((deferred == 2 && ps.iter().all(|p| cpu_request(p) == "700m")).then_some(()))
            }
        },
    )
    .await?;
    let deferred_seen = Instant::now();

    // At most the bound (plus a pass and the test's polling) later, both are back at what runs.
    wait_for(
        "reverted after the Deferred bound",
        bound + Duration::from_secs(6),
        || {
            let client = client.clone();
            async move {
                let ps = list(&client, "defer").await?;
                let back = ps.iter().all(|p| {
                    cpu_request(p) == "400m" && condition(p, "PodResizePending").is_none()
                });
                Ok((ps.len() == 2 && back).then_some(()))
            }
        },
    )
    .await?;
    let waited = deferred_seen.elapsed();
    ensure!(
        waited >= bound - Duration::from_secs(1),
        "reverted after {waited:?}, before the {bound:?} bound"
    );
    eprintln!("Deferred -> reverted in {waited:?} (bound {bound:?})");

    // Held back: the same increase is not sent again (it would only be Deferred again).
    let ps = stays_put(&client, "defer", Duration::from_secs(8)).await?;
    ensure!(ps.iter().all(|p| cpu_request(p) == "400m"), "not reverted");
    let reverted = events(&client, "ResizeReverted").await?;
    ensure!(
        reverted.len() == 2 && reverted.iter().all(|(_, n)| n.contains("deferred_timeout")),
        "revert events: {reverted:?}"
    );
    let resized = metric(
        admin,
        r#"tailor_updater_actions_total{action="resize",outcome="applied"}"#,
    )
    .await?;
    let reverts = metric(
        admin,
        r#"tailor_updater_actions_total{action="revert",outcome="applied"}"#,
    )
    .await?;
    let timeouts = metric(
        admin,
        r#"tailor_updater_decisions_total{kind="revert",reason="deferred_timeout"}"#,
    )
    .await?;
    let held = metric(
        admin,
        r#"tailor_updater_decisions_total{kind="wait",reason="backing_off"}"#,
    )
    .await?;
    ensure!(
        resized == 2.0 && reverts == 2.0 && timeouts == 2.0 && held > 0.0,
        "resizes {resized}, reverts {reverts}, deferred_timeout decisions {timeouts}, held passes {held}"
    );
    // The hold is on the pods, not only in the updater's memory.
    for p in &ps {
        let state = p
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("tailor.dev/resize-state"))
            .cloned()
            .unwrap_or_default();
        ensure!(state.contains("\"deferred\""), "state {state:?}");
    }
    Ok(())
}

#[tokio::test]
async fn infeasible_is_not_retried_even_across_an_updater_restart() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start_with(&cp, &["sim-p2"], "2", "4Gi", &["--resize-hold-cpu=1"]).await?;
    install_vpa_crd(&client).await?;
    let res = json!({"requests": {"cpu": "400m", "memory": "64Mi"}, "limits": {"cpu": "800m", "memory": "128Mi"}});
    create_deployment(&client, deployment("inf", 1, res, "NotRequired", WORKLOAD)?).await?;
    ready_pods(&client, "inf", 1).await?;
    // 1500m fits the node's 2000m allocatable (so the API server admits it) but not the kubelet's 1000m.
    create_vpa(
        &client,
        "inf",
        "inf",
        "InPlace",
        rec(("1500m", "64Mi"), ("1400m", "50Mi"), ("1600m", "100Mi")),
    )
    .await?;
    let admin = free_addr()?;
    let updater = start_updater_at(&client, admin, &[])?;
    wait_for(
        "the Infeasible resize reverted",
        Duration::from_secs(30),
        || {
            let client = client.clone();
            async move {
                let ps = list(&client, "inf").await?;
                let reverted = ps.len() == 1
                    && ps[0].metadata.generation >= Some(3)
                    && cpu_request(&ps[0]) == "400m"
                    && condition(&ps[0], "PodResizePending").is_none();
                Ok(reverted.then_some(()))
            }
        },
    )
    .await?;
    let infeasible = events(&client, "ResizeReverted").await?;
    ensure!(
        infeasible.len() == 1 && infeasible[0].1.contains("infeasible"),
        "{infeasible:?}"
    );
    stays_put(&client, "inf", Duration::from_secs(6)).await?;
    let sent = |admin| async move {
        Ok::<_, anyhow::Error>((
            metric(
                admin,
                r#"tailor_updater_actions_total{action="resize",outcome="applied"}"#,
            )
            .await?,
            metric(
                admin,
                r#"tailor_updater_decisions_total{kind="skip",reason="infeasible_cached"}"#,
            )
            .await?,
        ))
    };
    let (resizes, cached) = sent(admin).await?;
    ensure!(
        resizes == 1.0 && cached >= 3.0,
        "resizes {resizes}, infeasible_cached decisions {cached}"
    );

    // A new updater process knows nothing in memory; the pod's state annotation stops a repeat.
    drop(updater);
    let admin2 = free_addr()?;
    let _updater = start_updater_at(&client, admin2, &[])?;
    wait_for(
        "the new updater planning",
        Duration::from_secs(20),
        || async move {
            let (_, cached) = sent(admin2).await?;
            Ok((cached >= 2.0).then_some(()))
        },
    )
    .await?;
    stays_put(&client, "inf", Duration::from_secs(5)).await?;
    let (resizes, _) = sent(admin2).await?;
    ensure!(resizes == 0.0, "the restarted updater resized again");

    // A recommendation below the failed attempt is tried (and fits the kubelet).
    set_recommendation(
        &client,
        "inf",
        rec(("900m", "64Mi"), ("850m", "50Mi"), ("950m", "100Mi")),
    )
    .await?;
    wait_for("resized to 900m", Duration::from_secs(20), || {
        let client = client.clone();
        async move {
            let ps = list(&client, "inf").await?;
            Ok((ps.len() == 1
                && cpu_request(&ps[0]) == "900m"
                && status_value(&ps[0], "requests", "cpu").as_deref() == Some("900m"))
            .then_some(()))
        }
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn deferred_past_the_bound_falls_back_to_eviction_in_in_place_or_recreate() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    let _sim = Sim::start_with(&cp, &["sim-p3"], "2", "4Gi", &["--resize-hold-cpu=1"]).await?;
    install_vpa_crd(&client).await?;
    let res = json!({"requests": {"cpu": "400m", "memory": "64Mi"}, "limits": {"cpu": "800m", "memory": "128Mi"}});
    create_deployment(
        &client,
        deployment("evict", 2, res, "NotRequired", WORKLOAD)?,
    )
    .await?;
    ready_pods(&client, "evict", 2).await?;
    create_vpa(
        &client,
        "evict",
        "evict",
        "InPlaceOrRecreate",
        rec(("700m", "64Mi"), ("650m", "50Mi"), ("800m", "100Mi")),
    )
    .await?;
    let admin = free_addr()?;
    let _updater = start_updater_at(
        &client,
        admin,
        // Tokens refill within the bound, so the eviction is not also rate limited.
        &[
            "--deferred-timeout-seconds=4",
            "--enable-eviction",
            "--workload-interval-ms=1000",
        ],
    )?;
    let original: Vec<String> = list(&client, "evict")
        .await?
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    wait_for("a resize Deferred", Duration::from_secs(30), || {
        let client = client.clone();
        async move {
            let ps = list(&client, "evict").await?;
            Ok(ps
                .iter()
                .any(|p| {
                    condition(p, "PodResizePending").and_then(|c| c.reason.as_deref())
                        == Some("Deferred")
                })
                .then_some(()))
        }
    })
    .await?;
    let deferred_seen = Instant::now();
    // One pod is evicted (one disruption per workload at a time); the other is put back in place.
    let evicted = wait_for(
        "an eviction after the bound",
        Duration::from_secs(9),
        || {
            let client = client.clone();
            async move {
                let e = events(&client, "EvictedByTailor").await?;
                Ok((!e.is_empty()).then_some(e))
            }
        },
    )
    .await?;
    let waited = deferred_seen.elapsed();
    ensure!(
        waited >= Duration::from_secs(3),
        "evicted after {waited:?}, before the bound"
    );
    ensure!(
        evicted.len() == 1
            && original.contains(&evicted[0].0)
            && evicted[0].1.contains("deferred_timeout"),
        "evictions {evicted:?}"
    );
    let evictions = metric(
        admin,
        r#"tailor_updater_actions_total{action="evict",outcome="applied"}"#,
    )
    .await?;
    ensure!(evictions == 1.0, "{evictions} evictions");
    let kept: Vec<String> = original
        .iter()
        .filter(|n| **n != evicted[0].0)
        .cloned()
        .collect();
    wait_for(
        "the other pod reverted in place",
        Duration::from_secs(10),
        || {
            let (client, kept) = (client.clone(), kept.clone());
            async move {
                let ps = list(&client, "evict").await?;
                Ok(ps
                    .iter()
                    .any(|p| {
                        p.metadata.name.as_ref() == kept.first()
                            && cpu_request(p) == "400m"
                            && condition(p, "PodResizePending").is_none()
                    })
                    .then_some(()))
            }
        },
    )
    .await?;
    eprintln!("Deferred -> evicted in {waited:?} (bound 4s)");
    Ok(())
}
