//! In-place resizes through `pods/resize` (kube-rs `patch_resize`) carried out by the simulated kubelet on a
//! real control plane: CPU in place, memory with RestartContainer, Infeasible, Deferred until room is freed,
//! a QoS change rejected by the API server, and a memory-limit decrease below usage refused with an Error.

mod sim_common;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use sim_common::{
    Sim, condition, container_id, create_pod, eventually, restart_count, status_limit, wait_ready,
};
use std::time::Duration;
use tailor_tests::ControlPlane;

const NODE: &str = "sim-r";

fn guaranteed(name: &str, memory_policy: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name,
            "annotations": { "sim.tailor.dev/workload": r#"{"kind":"constant","cpu":"100m","memory":"32Mi"}"# }
        },
        "spec": { "containers": [{
            "name": "app", "image": "registry.invalid/app:1",
            "resources": { "requests": { "cpu": "500m", "memory": "128Mi" }, "limits": { "cpu": "500m", "memory": "128Mi" } },
            "resizePolicy": [
                { "resourceName": "cpu", "restartPolicy": "NotRequired" },
                { "resourceName": "memory", "restartPolicy": memory_policy }
            ]
        }] }
    })
}

fn both(cpu: &str, memory: &str) -> serde_json::Value {
    serde_json::json!({ "spec": { "containers": [{ "name": "app", "resources": {
        "requests": { "cpu": cpu, "memory": memory }, "limits": { "cpu": cpu, "memory": memory } } }] } })
}

async fn resize(pods: &Api<Pod>, name: &str, patch: serde_json::Value) -> Result<i64> {
    let pod = pods
        .patch_resize(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await?;
    pod.metadata
        .generation
        .context("no generation after resize")
}

/// Waits until the kubelet has observed `generation` and no resize condition remains.
async fn wait_resized(pods: &Api<Pod>, name: &str, generation: i64) -> Result<Pod> {
    eventually(
        &format!("{name} resize to generation {generation} done"),
        Duration::from_secs(45),
        || async move {
            let p = pods.get(name).await?;
            let observed = p
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            let settled = condition(&p, "PodResizePending").is_none()
                && condition(&p, "PodResizeInProgress").is_none();
            Ok((observed >= generation && settled).then_some(p))
        },
    )
    .await
}

async fn wait_condition(pods: &Api<Pod>, name: &str, kind: &str, reason: &str) -> Result<Pod> {
    eventually(
        &format!("{name} {kind}/{reason}"),
        Duration::from_secs(45),
        || async move {
            let p = pods.get(name).await?;
            Ok(condition(&p, kind)
                .is_some_and(|c| c.reason.as_deref() == Some(reason))
                .then_some(p))
        },
    )
    .await
}

/// Waits for a kubelet Event with `reason` about pod `name`.
async fn wait_event(client: &kube::Client, name: &str, reason: &str) -> Result<()> {
    let events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    eventually(
        &format!("event {reason} for {name}"),
        Duration::from_secs(30),
        || {
            let (events, lp) = (events.clone(), lp.clone());
            async move {
                Ok(events
                    .list(&lp)
                    .await?
                    .items
                    .iter()
                    .any(|e| e.reason.as_deref() == Some(reason))
                    .then_some(()))
            }
        },
    )
    .await
}

fn file(path: std::path::PathBuf) -> Result<String> {
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

#[tokio::test]
async fn resizes_follow_the_kubelet_rules() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    let sim = Sim::start(&cp, &[NODE], "2", "4Gi").await?;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");

    create_pod(&pods, guaranteed("cpu-pod", "NotRequired")).await?;
    create_pod(&pods, guaranteed("mem-pod", "RestartContainer")).await?;
    let cpu_pod = wait_ready(&pods, "cpu-pod").await?;
    let mem_pod = wait_ready(&pods, "mem-pod").await?;
    ensure!(file(sim.container_dir(&cpu_pod, "app")?.join("cpu.max"))? == "50000 100000\n");

    // 1. CPU resize, NotRequired: in place, same container, cgroup rewritten, status updated.
    let generation = resize(&pods, "cpu-pod", both("800m", "128Mi")).await?;
    let done = wait_resized(&pods, "cpu-pod", generation).await?;
    ensure!(
        status_limit(&done, "cpu").as_deref() == Some("800m"),
        "{:?}",
        status_limit(&done, "cpu")
    );
    ensure!(restart_count(&done) == 0);
    ensure!(
        container_id(&done) == container_id(&cpu_pod),
        "container was replaced"
    );
    let allocated = sim_common::first_status(&done)
        .and_then(|c| c.allocated_resources.clone())
        .unwrap_or_default();
    ensure!(
        allocated.get("cpu").map(|q| q.0.as_str()) == Some("800m"),
        "{allocated:?}"
    );
    ensure!(file(sim.container_dir(&done, "app")?.join("cpu.max"))? == "80000 100000\n");
    wait_event(&admin, "cpu-pod", "ResizeCompleted").await?;

    // 2. Memory resize, RestartContainer: exactly one restart, new cgroup with the new memory.max.
    let generation = resize(&pods, "mem-pod", both("500m", "256Mi")).await?;
    let done = wait_resized(&pods, "mem-pod", generation).await?;
    ensure!(status_limit(&done, "memory").as_deref() == Some("256Mi"));
    ensure!(
        restart_count(&done) == 1,
        "restartCount {}",
        restart_count(&done)
    );
    ensure!(container_id(&done) != container_id(&mem_pod));
    let done = wait_ready(&pods, "mem-pod").await?;
    ensure!(
        file(sim.container_dir(&done, "app")?.join("memory.max"))? == format!("{}\n", 256u64 << 20)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        restart_count(&pods.get("mem-pod").await?) == 1,
        "restarted more than once"
    );

    // 3. Larger than the node. The 1.37 API server already refuses this at admission (403, cause NodeCapacity)
    //    against the Node's allocatable, so it never reaches the kubelet; the kubelet-side Infeasible path
    //    (PodResizePending/Infeasible) is covered by the simulator's unit tests.
    match pods
        .patch_resize(
            "cpu-pod",
            &PatchParams::default(),
            &Patch::Strategic(both("3", "128Mi")),
        )
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("allocatable") => {}
        Ok(p) => {
            // Older servers pass it through: then the kubelet must mark it Infeasible and apply nothing.
            let generation = p.metadata.generation.context("generation")?;
            let p = wait_condition(&pods, "cpu-pod", "PodResizePending", "Infeasible").await?;
            let cond = condition(&p, "PodResizePending").context("condition")?;
            ensure!(cond.observed_generation == Some(generation), "{cond:?}");
            ensure!(file(sim.container_dir(&p, "app")?.join("cpu.max"))? == "80000 100000\n");
            let generation = resize(&pods, "cpu-pod", both("800m", "128Mi")).await?;
            wait_resized(&pods, "cpu-pod", generation).await?;
        }
        Err(e) => bail!("expected Infeasible or a NodeCapacity rejection, got {e:?}"),
    }

    // 4. Larger than the free room: Deferred, completes once another pod is deleted.
    create_pod(
        &pods,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "filler" },
            "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1",
                "resources": { "requests": { "cpu": "600m", "memory": "64Mi" } } }] }
        }),
    )
    .await?;
    wait_ready(&pods, "filler").await?;
    let cpu_only = serde_json::json!({ "spec": { "containers": [{ "name": "app", "resources": {
        "requests": { "cpu": "900m" }, "limits": { "cpu": "900m" } } }] } });
    let generation = resize(&pods, "mem-pod", cpu_only).await?;
    let p = wait_condition(&pods, "mem-pod", "PodResizePending", "Deferred").await?;
    ensure!(status_limit(&p, "cpu").as_deref() == Some("500m"));
    wait_event(&admin, "mem-pod", "ResizeDeferred").await?;
    pods.delete("filler", &DeleteParams::default()).await?;
    let done = wait_resized(&pods, "mem-pod", generation).await?;
    ensure!(status_limit(&done, "cpu").as_deref() == Some("900m"));
    ensure!(
        restart_count(&done) == 1,
        "a CPU-only change must not restart (memory policy only)"
    );
    ensure!(file(sim.container_dir(&done, "app")?.join("cpu.max"))? == "90000 100000\n");

    // 5. A resize that would make a Guaranteed pod Burstable is rejected by the API server itself.
    let qos = serde_json::json!({ "spec": { "containers": [{ "name": "app", "resources": { "requests": { "cpu": "400m" } } }] } });
    match pods
        .patch_resize("cpu-pod", &PatchParams::default(), &Patch::Strategic(qos))
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 422 && s.message.to_lowercase().contains("qos") => {}
        other => bail!("expected a 422 QoS rejection, got {other:?}"),
    }

    // 6. A memory-limit decrease below current usage is refused: PodResizeInProgress/Error, limit kept.
    create_pod(
        &pods,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "heavy", "annotations": { "sim.tailor.dev/workload": r#"{"kind":"constant","cpu":"50m","memory":"200Mi"}"# } },
            "spec": { "containers": [{ "name": "app", "image": "registry.invalid/app:1",
                "resources": { "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "memory": "512Mi" } } }] }
        }),
    )
    .await?;
    wait_ready(&pods, "heavy").await?;
    let shrink = serde_json::json!({ "spec": { "containers": [{ "name": "app", "resources": { "limits": { "memory": "128Mi" } } }] } });
    resize(&pods, "heavy", shrink).await?;
    let p = wait_condition(&pods, "heavy", "PodResizeInProgress", "Error").await?;
    let cond = condition(&p, "PodResizeInProgress").context("condition")?;
    ensure!(
        cond.message
            .as_deref()
            .is_some_and(|m| m.contains("above the new limit")),
        "{cond:?}"
    );
    ensure!(
        file(sim.container_dir(&p, "app")?.join("memory.max"))? == format!("{}\n", 512u64 << 20)
    );
    ensure!(restart_count(&p) == 0);
    Ok(())
}
