//! Memory limits apart from requests, end to end on the real control plane (opt-in: `--memory-limit-policy
//! from-peaks --memory-request-from-samples`, RBAC from `deploy/recommender/memory-limits`). A container that
//! sits at 300Mi with brief 900Mi spikes, declared at 950Mi/950Mi: the recommender sizes the request from
//! typical use and writes a limit above the spikes with a margin to the VPA's `tailor.dev/memory-limits`
//! annotation; the updater applies both in place, so the request falls while the limit rises — under
//! upstream's keep-the-ratio rule the limit would have fallen with the request, below the spikes.

mod sim_common;
mod stack_common;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::eventually;
use stack_common::with_stack;
use tailor_core::quantity::Bytes;
use tailor_demo::components::Launch;
use tailor_demo::observe::Amount;
use tailor_demo::stack::{Stack, StackOptions};
use tailor_demo::workloads::{WORKLOAD_NAMESPACE, Workload};
use tailor_k8s::crd::vpa::VerticalPodAutoscaler;

const APP: &str = "split";
const MIB: i64 = 1 << 20;

fn workload() -> Workload {
    Workload {
        name: APP,
        story: "typical use far below rare spikes",
        replicas: 1,
        resources: json!({"requests": {"cpu": "500m", "memory": "950Mi"},
                          "limits": {"cpu": "1", "memory": "950Mi"}}),
        model: json!({"kind": "spiky", "cpu": "100m", "cpu_spike": "150m", "memory": "300Mi",
                      "memory_spike": "900Mi", "interval_seconds": 5, "spike_seconds": 1,
                      "chance_percent": 12}),
        mode: "InPlace",
        startup_boost: None,
    }
}

fn options() -> StackOptions {
    let mut o = StackOptions::new(Launch::InProcess);
    o.nodes = vec!["split-a".to_owned()];
    o.sim_tick_ms = 250;
    o.sample_interval_ms = 500;
    o.report_interval_ms = 2_000;
    o.recommendation_interval_seconds = 2;
    o.updater_interval_seconds = 1;
    o.down_cooldown_seconds = 5;
    o.startup_window_seconds = 2;
    o.memory_limits = true;
    o
}

fn memory(p: &Pod) -> Option<(i64, i64)> {
    let cs = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let r = cs.resources.as_ref()?;
    Some((
        Amount::of(r.requests.as_ref()).memory_bytes,
        Amount::of(r.limits.as_ref()).memory_bytes,
    ))
}

#[tokio::test]
async fn a_split_memory_recommendation_lowers_the_request_and_keeps_the_limit_above_the_spikes()
-> Result<()> {
    with_stack(&options(), run).await
}

async fn run(stack: &mut Stack, started: Instant) -> Result<()> {
    let client = stack.admin_client();
    stack.deploy(&[workload()]).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), WORKLOAD_NAMESPACE);
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(client, WORKLOAD_NAMESPACE);
    let lp = ListParams::default().labels(&format!("app={APP}"));

    // Each report carries its interval's peak, so the spikes are rare (about one report in twenty) for the
    // request to follow typical use. Wait until the annotation's limit covers a spike: the first reports may
    // predate the first spike.
    let (target, limit) = eventually(
        "a memory target and a limit above the spikes",
        Duration::from_secs(180),
        || {
            let vpas = vpas.clone();
            async move {
                let vpa = vpas.get(APP).await?;
                let Some(limits) = vpa.memory_limits() else {
                    return Ok(None);
                };
                let limits = limits?;
                let target = vpa
                    .status
                    .and_then(|s| s.recommendation)
                    .and_then(|r| r.container_recommendations.into_iter().next())
                    .map(|r| Amount::of(Some(&r.target)).memory_bytes);
                Ok(match (target, limits.get("app")) {
                    (Some(t), Some(l)) if l.get() >= 900 * MIB => Some((t, *l)),
                    _ => None,
                })
            }
        },
    )
    .await?;
    eprintln!(
        "target {} MiB, limit {} MiB after {:.1}s",
        target / MIB,
        limit.get() / MIB,
        started.elapsed().as_secs_f64()
    );
    ensure!(
        target < 600 * MIB,
        "the request target {} MiB should follow typical use (300Mi), not the spikes",
        target / MIB
    );
    ensure!(limit >= Bytes(target), "limit below the request");

    // The updater applies both: the request falls, the limit rises past the declared 950Mi (a ratio of 1 would
    // have taken it down to the request).
    let (request, applied_limit) = eventually(
        "the pod resized to the split recommendation",
        Duration::from_secs(180),
        || {
            let (pods, lp) = (pods.clone(), lp.clone());
            async move {
                let list = pods.list(&lp).await?.items;
                Ok(list
                    .iter()
                    .find_map(memory)
                    .filter(|(req, lim)| *req < 600 * MIB && *lim > 950 * MIB))
            }
        },
    )
    .await?;
    eprintln!(
        "pod memory request {} MiB, limit {} MiB after {:.1}s",
        request / MIB,
        applied_limit / MIB,
        started.elapsed().as_secs_f64()
    );
    let pod = pods
        .list(&lp)
        .await?
        .items
        .into_iter()
        .next()
        .context("the pod")?;
    let restarts = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.first().map(|c| c.restart_count))
        .unwrap_or_default();
    ensure!(restarts == 0, "no OOM kill, no restart: {restarts}");
    stack.check()?;
    Ok(())
}
