//! The whole chain on the real control plane, with nothing faked between the components: the simulated kubelet
//! runs an over-provisioned pod and writes its cgroup v2 files → the node-agent of that node samples them and
//! reports over HTTPS with a pod-bound, audience-bound token → the recommender (TokenReview) writes a
//! recommendation into the VPA's status → the updater resizes the pod through `pods/resize` → the simulated
//! kubelet applies it: the pod's status resources and its container's cgroup files change, the container keeps
//! running (same container ID, restartCount 0). Every component acts as its own ServiceAccount with only the
//! shipped RBAC; they run in this process through the entry points their binaries call (`tailor-demo`'s
//! [`Stack`], the same orchestration `make demo` uses with real processes).
//!
//! Alongside runs a starved workload (300m wanted under a 100m limit, VPA `Off` so nothing lifts the limit): the
//! simulated kubelet throttles it, the node-agent reports the CFS counters, and the recommender names it in the
//! VPA's `CPUThrottled` condition, in the form `tailor report` reads back.

mod sim_common;
mod stack_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use serde_json::json;
use sim_common::eventually;
use stack_common::with_stack;
use tailor_demo::components::Launch;
use tailor_demo::observe::Amount;
use tailor_demo::stack::{Stack, StackOptions};
use tailor_demo::workloads::{WORKLOAD_NAMESPACE, Workload};
use tailor_k8s::crd::vpa::{VerticalPodAutoscaler, condition};

const APP: &str = "pipeline";
const STARVED: &str = "starved";

fn workload() -> Workload {
    Workload {
        name: APP,
        story: "over-provisioned",
        replicas: 1,
        resources: json!({"requests": {"cpu": "1", "memory": "256Mi"},
                          "limits": {"cpu": "2", "memory": "512Mi"}}),
        model: json!({"kind": "constant", "cpu": "120m", "memory": "80Mi"}),
        mode: "InPlace",
        startup_boost: None,
    }
}

fn starved() -> Workload {
    Workload {
        name: STARVED,
        story: "throttled under its CPU limit",
        replicas: 1,
        resources: json!({"requests": {"cpu": "50m", "memory": "64Mi"},
                          "limits": {"cpu": "100m", "memory": "256Mi"}}),
        model: json!({"kind": "constant", "cpu": "300m", "memory": "40Mi"}),
        mode: "Off",
        startup_boost: None,
    }
}

fn options() -> StackOptions {
    let mut o = StackOptions::new(Launch::InProcess);
    o.nodes = vec!["pipe-a".to_owned()];
    o.sim_tick_ms = 250;
    o.sample_interval_ms = 500;
    o.report_interval_ms = 2_000;
    o.recommendation_interval_seconds = 2;
    o.updater_interval_seconds = 1;
    o.startup_window_seconds = 2;
    o
}

/// The directory under `root` whose name holds the container ID (the simulator's container cgroup).
fn find_container_dir(root: &Path, id: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if entry.file_name().to_string_lossy().contains(id) {
            return Some(path);
        }
        if let Some(found) = find_container_dir(&path, id) {
            return Some(found);
        }
    }
    None
}

fn container_id(p: &Pod) -> Option<String> {
    let cs = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let id = cs.container_id.as_deref()?;
    Some(id.rsplit("://").next()?.to_owned())
}

fn status_amounts(p: &Pod) -> Option<(Amount, Amount, i32)> {
    let cs = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let r = cs.resources.as_ref()?;
    Some((
        Amount::of(r.requests.as_ref()),
        Amount::of(r.limits.as_ref()),
        cs.restart_count,
    ))
}

#[tokio::test]
async fn cgroup_usage_flows_through_agent_recommender_and_updater_into_an_in_place_resize()
-> Result<()> {
    with_stack(&options(), run).await
}

async fn run(stack: &mut Stack, started: Instant) -> Result<()> {
    let client = stack.admin_client();
    stack.deploy(&[workload(), starved()]).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), WORKLOAD_NAMESPACE);
    let vpas: Api<VerticalPodAutoscaler> = Api::namespaced(client.clone(), WORKLOAD_NAMESPACE);
    let lp = ListParams::default().labels(&format!("app={APP}"));

    // The pod runs with its declared resources, and the simulator writes them into its cgroup.
    let pod = eventually("the pod running", Duration::from_secs(60), || {
        let (pods, lp) = (pods.clone(), lp.clone());
        async move {
            let list = pods.list(&lp).await?.items;
            Ok(list.into_iter().find(|p| {
                container_id(p).is_some()
                    && status_amounts(p).is_some_and(|(r, _, _)| r.cpu_millis == 1000)
            }))
        }
    })
    .await?;
    let name = pod.metadata.name.clone().context("pod name")?;
    let id = container_id(&pod).context("container id")?;
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .context("pod not bound")?;
    let node_root = tailor_sim::kubelet::node_cgroup_root(stack.cgroup_root(), &node);
    let cgroup = eventually("the container's cgroup", Duration::from_secs(10), || {
        let (root, id) = (node_root.clone(), id.clone());
        async move { Ok(find_container_dir(&root, &id)) }
    })
    .await?;
    let cpu_max = || std::fs::read_to_string(cgroup.join("cpu.max")).unwrap_or_default();
    ensure!(
        cpu_max() == tailor_sim::cgroup::files::render_cpu_max(Some(2000)),
        "cpu.max before the resize: {:?}",
        cpu_max()
    );

    // node-agent → recommender → VPA status: a CPU target far below the declared 1 CPU.
    let target = eventually(
        "a recommendation in the VPA status",
        Duration::from_secs(60),
        || {
            let vpas = vpas.clone();
            async move {
                let vpa = vpas.get(APP).await?;
                let rec = vpa
                    .status
                    .and_then(|s| s.recommendation)
                    .and_then(|r| r.container_recommendations.into_iter().next());
                Ok(rec.map(|r| Amount::of(Some(&r.target))))
            }
        },
    )
    .await?;
    eprintln!(
        "first recommendation {} after {:.1}s",
        target.display(),
        started.elapsed().as_secs_f64()
    );
    ensure!(
        target.cpu_millis >= 120 && target.cpu_millis < 800,
        "CPU target {} should follow the 120m the container uses",
        target.display()
    );

    // updater → pods/resize → simulated kubelet: status resources follow, the same container keeps running.
    let resized = eventually(
        "the CPU request resized in place",
        Duration::from_secs(60),
        || {
            let (pods, name) = (pods.clone(), name.clone());
            async move {
                let p = pods.get(&name).await?;
                Ok(status_amounts(&p)
                    .is_some_and(|(r, _, _)| r.cpu_millis < 800)
                    .then_some(p))
            }
        },
    )
    .await?;
    let (requests, limits, restarts) = status_amounts(&resized).context("status resources")?;
    eprintln!(
        "resized to requests {} limits {} after {:.1}s",
        requests.display(),
        limits.display(),
        started.elapsed().as_secs_f64()
    );
    ensure!(
        restarts == 0,
        "restartCount {restarts} after an in-place resize"
    );
    ensure!(
        container_id(&resized).as_deref() == Some(id.as_str()),
        "container replaced: {:?} → {:?}",
        id,
        container_id(&resized)
    );
    ensure!(
        limits.cpu_millis < 2000 && limits.cpu_millis >= requests.cpu_millis,
        "CPU limit {} should shrink with the request",
        cpu(limits.cpu_millis)
    );

    // The kubelet applied it to the container's cgroup.
    let want = tailor_sim::cgroup::files::render_cpu_max(u64::try_from(limits.cpu_millis).ok());
    eventually(
        "cpu.max to follow the new limit",
        Duration::from_secs(10),
        || {
            let (got, want) = (cpu_max(), want.clone());
            async move { Ok((got == want).then_some(())) }
        },
    )
    .await?;

    // And the updater said so on the pod.
    let events: Api<Event> = Api::namespaced(client, WORKLOAD_NAMESPACE);
    let resize_events = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some("ResizedByTailor")
                && e.involved_object.name.as_deref() == Some(name.as_str())
        })
        .count();
    ensure!(resize_events >= 1, "no ResizedByTailor event on {name}");

    // Measured throttling: the starved workload's container is named with nearly all its periods throttled; the
    // over-provisioned one, far under its limit, is not.
    let throttled = eventually(
        "CPUThrottled on the starved workload's VPA",
        Duration::from_secs(60),
        || {
            let vpas = vpas.clone();
            async move {
                let named = vpas.get(STARVED).await?.throttled_containers();
                Ok((!named.is_empty()).then_some(named))
            }
        },
    )
    .await?;
    eprintln!(
        "CPUThrottled after {:.1}s: {throttled:?}",
        started.elapsed().as_secs_f64()
    );
    ensure!(
        throttled.len() == 1
            && throttled[0].container == tailor_demo::workloads::CONTAINER
            && throttled[0].percent >= 50,
        "starved container throttled: {throttled:?}"
    );
    let calm = vpas.get(APP).await?;
    let calm = calm
        .status
        .as_ref()
        .and_then(|s| s.condition(condition::CPU_THROTTLED))
        .context("CPUThrottled on the over-provisioned VPA")?;
    ensure!(calm.status == "False", "{calm:?}");
    stack.check()?;
    Ok(())
}

fn cpu(m: i64) -> String {
    tailor_demo::observe::cpu(m)
}
