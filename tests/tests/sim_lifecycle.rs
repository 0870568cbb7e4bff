//! The simulated kubelet on a real control plane: a Deployment scheduled by the real scheduler onto two
//! simulated nodes runs, and memory growth past the limit is an OOM kill visible in the pod status and in
//! `memory.events`.

mod sim_common;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use sim_common::{Sim, create_pod, eventually, read_key, restart_count, wait_ready};
use std::collections::BTreeSet;
use std::time::Duration;
use tailor_tests::ControlPlane;

#[tokio::test]
async fn deployment_runs_on_two_simulated_nodes_and_memory_leak_is_oom_killed() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    let sim = Sim::start(&cp, &["sim-a", "sim-b"], "2", "4Gi").await?;

    // Nodes registered with capacity and a renewed Lease.
    let nodes: Api<Node> = Api::all(admin.clone());
    for name in ["sim-a", "sim-b"] {
        let node = eventually("node registered", Duration::from_secs(30), || {
            let nodes = nodes.clone();
            async move { Ok(nodes.get_opt(name).await?) }
        })
        .await?;
        let alloc = node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.clone())
            .unwrap_or_default();
        ensure!(
            alloc.get("cpu").map(|q| q.0.as_str()) == Some("2"),
            "allocatable {alloc:?}"
        );
        let leases: Api<Lease> = Api::namespaced(admin.clone(), "kube-node-lease");
        eventually("node lease", Duration::from_secs(30), || {
            let leases = leases.clone();
            async move { Ok(leases.get_opt(name).await?.and_then(|l| l.spec?.renew_time)) }
        })
        .await?;
    }

    // A Deployment of 3 replicas: the real controllers create the pods, the real scheduler binds them.
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "default");
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{
                    "name": "app", "image": "registry.invalid/web:1",
                    "resources": { "requests": { "cpu": "200m", "memory": "128Mi" }, "limits": { "memory": "256Mi" } }
                }] }
            }
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let running = eventually("3 ready web pods", Duration::from_secs(90), || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels("app=web")).await?;
            let ready: Vec<Pod> = list
                .items
                .into_iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .filter(|p| sim_common::first_status(p).is_some_and(|c| c.ready))
                .collect();
            Ok((ready.len() == 3).then_some(ready))
        }
    })
    .await?;
    let used: BTreeSet<String> = running
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    ensure!(
        used == BTreeSet::from(["sim-a".to_string(), "sim-b".to_string()]),
        "pods on {used:?}"
    );
    for p in &running {
        let status = p.status.as_ref().context("status")?;
        ensure!(status.qos_class.as_deref() == Some("Burstable"));
        ensure!(
            status
                .pod_ip
                .as_deref()
                .is_some_and(|ip| ip.starts_with("10.244."))
        );
        let cs = sim_common::first_status(p).context("container status")?;
        ensure!(
            cs.container_id
                .as_deref()
                .is_some_and(|id| id.len() == "containerd://".len() + 64),
            "{cs:?}"
        );
        ensure!(
            cs.allocated_resources
                .as_ref()
                .and_then(|a| a.get("cpu"))
                .map(|q| q.0.as_str())
                == Some("200m")
        );
        let dir = sim.container_dir(p, "app")?;
        ensure!(
            read_key(&dir.join("cpu.stat"), "usage_usec").is_ok(),
            "cpu.stat in {}",
            dir.display()
        );
        ensure!(std::fs::read_to_string(dir.join("memory.max"))? == format!("{}\n", 256u64 << 20));
    }

    // A leaking container: 32Mi + 24Mi/s against a 96Mi limit is OOM-killed within a few seconds.
    let leak = create_pod(
        &pods,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "leaky",
                "annotations": { "sim.tailor.dev/workload": r#"{"kind":"leak","cpu":"50m","memory":"32Mi","leak_per_second":"24Mi"}"# }
            },
            "spec": { "containers": [{
                "name": "app", "image": "registry.invalid/leaky:1",
                "resources": { "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "memory": "96Mi" } }
            }] }
        }),
    )
    .await?;
    let name = leak.metadata.name.clone().context("name")?;
    let killed = eventually("OOMKilled in lastState", Duration::from_secs(60), || {
        let pods = pods.clone();
        let name = name.clone();
        async move {
            let p = pods.get(&name).await?;
            let reason = sim_common::first_status(&p)
                .and_then(|c| c.last_state.as_ref()?.terminated.as_ref()?.reason.clone());
            Ok((reason.as_deref() == Some("OOMKilled")).then_some(p))
        }
    })
    .await?;
    ensure!(
        restart_count(&killed) >= 1,
        "restartCount {}",
        restart_count(&killed)
    );
    let terminated = sim_common::first_status(&killed)
        .and_then(|c| c.last_state.as_ref()?.terminated.clone())
        .context("terminated state")?;
    ensure!(terminated.exit_code == 137);
    ensure!(
        terminated.container_id != sim_common::container_id(&killed),
        "the restarted container has a new ID"
    );
    let events = sim.pod_dir(&killed)?.join("memory.events");
    ensure!(
        read_key(&events, "oom_kill")? >= 1,
        "pod memory.events: {}",
        std::fs::read_to_string(&events)?
    );
    wait_ready(&pods, &name).await?;
    Ok(())
}
