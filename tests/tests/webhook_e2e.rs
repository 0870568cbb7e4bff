//! The updater's admission webhook on the real control plane. The real kube-apiserver calls the webhook over
//! HTTPS on 127.0.0.1 (a MutatingWebhookConfiguration with the caBundle of a throwaway CA, `failurePolicy:
//! Ignore`): pods of a Deployment with a VPA are created at the recommended size; pods without a VPA are
//! untouched; with the webhook down, pods are still created, at their declared size. Also prints p50/p99 of
//! pod creation through the API server with and without the webhook (same run, same pods).

mod updater_common;
mod webhook_common;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use tailor_tests::ControlPlane;
use updater_common::*;
use webhook_common::*;

async fn pods_of(client: &kube::Client, app: &str, count: usize) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let lp = ListParams::default().labels(&format!("app={app}"));
    wait_for(
        &format!("{count} pods of {app}"),
        Duration::from_secs(60),
        || {
            let (api, lp) = (api.clone(), lp.clone());
            async move {
                let pods = api.list(&lp).await?.items;
                Ok((pods.len() == count).then_some(pods))
            }
        },
    )
    .await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Creates `n` pods owned by Deployment `owner` (so the webhook resolves them to its VPA and patches them) one
/// after the other, returning each create call's latency, sorted.
async fn time_creations(
    client: &kube::Client,
    owner: &Deployment,
    prefix: &str,
    n: usize,
) -> Result<Vec<Duration>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let uid = owner.metadata.uid.clone().context("deployment uid")?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{prefix}-{i}"), "namespace": NS, "labels": {"app": prefix},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "timed", "uid": uid, "controller": true}]},
            "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}}]}
        }))?;
        let started = Instant::now();
        api.create(&PostParams::default(), &pod).await?;
        out.push(started.elapsed());
    }
    out.sort();
    Ok(out)
}

#[tokio::test]
async fn new_pods_start_at_the_recommended_size_and_the_webhook_never_blocks() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let client = cp.admin_client().await?;
    install_vpa_crd(&client).await?;

    // VPAs exist (with recommendations) before the updater's watches list them.
    let target = rec(("250m", "128Mi"), ("200m", "100Mi"), ("300m", "160Mi"));
    create_vpa(&client, "web", "web", "Initial", target.clone()).await?;
    create_vpa(&client, "timed", "timed", "Initial", target.clone()).await?;
    create_vpa(&client, "after", "after", "InPlace", target).await?;

    let dir = tempfile::tempdir()?;
    let Served { updater, addr, ca } = serve_and_register(&client, dir.path()).await?;
    let configs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());

    let declared = json!({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}});
    let workload = r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"#;
    // 1. A Deployment with a VPA: every pod is created at the recommended size, limits in proportion.
    create_deployment(
        &client,
        deployment("web", 2, declared.clone(), "NotRequired", workload)?,
    )
    .await?;
    let sized = json!({"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}});
    for p in pods_of(&client, "web", 2).await? {
        ensure!(
            resources(&p) == sized,
            "pod {:?} has {}",
            p.metadata.name,
            resources(&p)
        );
        let note = admission_note(&p).context("admission annotation")?;
        ensure!(
            note.starts_with("vpa web: app: cpu 500m/1 -> 250m/500m"),
            "{note}"
        );
    }

    // 2. No VPA: untouched.
    create_deployment(
        &client,
        deployment("plain", 1, declared.clone(), "NotRequired", workload)?,
    )
    .await?;
    for p in pods_of(&client, "plain", 1).await? {
        ensure!(
            resources(&p) == declared,
            "plain pod changed: {}",
            resources(&p)
        );
        ensure!(admission_note(&p).is_none());
    }

    // 3. Pod creation latency through the API server, with the webhook (mutating) and without it.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let timed = deployment("timed", 0, declared.clone(), "NotRequired", workload)?;
    let timed = deployments.create(&PostParams::default(), &timed).await?;
    let n = 40;
    let with = time_creations(&client, &timed, "with", n).await?;
    let first: Api<Pod> = Api::namespaced(client.clone(), NS);
    ensure!(
        resources(&first.get("with-0").await?) == sized,
        "timed pods go through the webhook"
    );
    configs
        .delete(WEBHOOK_NAME, &DeleteParams::default())
        .await?;
    // The API server drops the configuration from its cache shortly after the delete.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let without = time_creations(&client, &timed, "without", n).await?;
    ensure!(
        resources(&first.get(&format!("without-{}", n - 1)).await?) == declared,
        "timed pods without the webhook keep their size"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "pod creation ({n} sequential creates each): with webhook p50 {:.2} ms p99 {:.2} ms; without p50 {:.2} ms p99 {:.2} ms; p50 ratio {:.2}x",
        ms(percentile(&with, 0.5)),
        ms(percentile(&with, 0.99)),
        ms(percentile(&without, 0.5)),
        ms(percentile(&without, 0.99)),
        ms(percentile(&with, 0.5)) / ms(percentile(&without, 0.5)).max(f64::EPSILON),
    );

    // 4. Webhook down (updater stopped, configuration registered again): pods are still created, unchanged.
    register(&client, &addr, &ca).await?;
    drop(updater);
    wait_for("webhook port closed", Duration::from_secs(10), || {
        let addr = addr.clone();
        async move {
            Ok(tokio::net::TcpStream::connect(&addr)
                .await
                .is_err()
                .then_some(()))
        }
    })
    .await?;
    create_deployment(
        &client,
        deployment("after", 2, declared.clone(), "NotRequired", workload)?,
    )
    .await?;
    for p in pods_of(&client, "after", 2).await? {
        ensure!(
            resources(&p) == declared,
            "pod created with the webhook down: {}",
            resources(&p)
        );
    }
    Ok(())
}
