//! The `tailor-sim-kubelet` binary against a real control plane: per-node kubelet credentials, a pod runs,
//! the ground-truth file matches the cgroup files it describes, and SIGTERM shuts it down cleanly.

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tailor_sim::truth::{ContainerTruth, read_truth};
use tailor_tests::ControlPlane;

const NODE: &str = "sim-bin-0";

/// Kills the child if the test fails before the orderly shutdown.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not yet".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn key(path: &Path, key: &str) -> Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .with_context(|| format!("{key} in {}", path.display()))
}

fn truth_of(path: &Path, pod: &str) -> Result<ContainerTruth> {
    read_truth(path)?
        .into_iter()
        .flat_map(|n| n.containers)
        .find(|c| c.pod == pod)
        .with_context(|| format!("{pod} not in truth file"))
}

#[tokio::test]
async fn binary_runs_pods_writes_truth_and_stops_on_sigterm() -> Result<()> {
    let cp = ControlPlane::start().await?;
    let admin = cp.admin_client().await?;
    let work = tempfile::tempdir()?;
    let kubeconfigs = work.path().join("kubeconfigs");
    std::fs::create_dir(&kubeconfigs)?;
    std::fs::copy(
        cp.node_kubeconfig(NODE)?,
        kubeconfigs.join(format!("{NODE}.kubeconfig")),
    )?;
    let truth = work.path().join("truth.json");
    let cgroup_dir = tempfile::Builder::new()
        .prefix("tailor-sim-bin-")
        .tempdir_in(tailor_sim::cgroup::tree::scratch_parent())?;
    let cgroup_root = cgroup_dir.path().join("cgroup");
    let log = std::fs::File::create(work.path().join("sim.log"))?;

    let child = Command::new(env!("CARGO_BIN_EXE_tailor-sim-kubelet"))
        .arg(format!("--node-kubeconfig-dir={}", kubeconfigs.display()))
        .arg(format!("--node-names={NODE}"))
        .args([
            "--cpu=2",
            "--memory=4Gi",
            "--tick-ms=250",
            "--start-delay-ms=200",
            "--ready-delay-ms=200",
        ])
        .arg(format!("--cgroup-root={}", cgroup_root.display()))
        .arg(format!("--truth-file={}", truth.display()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let pid = child.id();
    let mut guard = Guard(Some(child));

    let nodes: Api<Node> = Api::all(admin.clone());
    wait_for("node registration", || {
        let nodes = nodes.clone();
        async move { Ok(nodes.get_opt(NODE).await?) }
    })
    .await?;

    // Demand 1 core against a 500m limit: throttled, so truth and cpu.stat both show it.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "busy", "annotations": {
            "sim.tailor.dev/workload": r#"{"kind":"constant","cpu":"1","memory":"48Mi","page_cache":"8Mi"}"# } },
        "spec": { "containers": [{ "name": "app", "image": "registry.invalid/busy:1",
            "resources": { "requests": { "cpu": "250m", "memory": "64Mi" }, "limits": { "cpu": "500m", "memory": "128Mi" } } }] }
    }))?;
    wait_for("pod creation", || {
        let (pods, pod) = (pods.clone(), pod.clone());
        async move { Ok(Some(pods.create(&PostParams::default(), &pod).await?)) }
    })
    .await?;
    wait_for("busy ready", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("busy").await?;
            let ready = p
                .status
                .and_then(|s| s.container_statuses)
                .is_some_and(|c| c.iter().all(|c| c.ready));
            Ok(ready.then_some(()))
        }
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Truth and files are rewritten on every tick: a file read between two truth reads lies between them.
    let before = truth_of(&truth, "busy")?;
    let dir = Path::new(&before.cgroup_path);
    let usage = key(&dir.join("cpu.stat"), "usage_usec")?;
    let throttled = key(&dir.join("cpu.stat"), "nr_throttled")?;
    let memory = std::fs::read_to_string(dir.join("memory.current"))?
        .trim()
        .parse::<u64>()?;
    let after = truth_of(&truth, "busy")?;
    ensure!(before.container_id == after.container_id);
    ensure!(
        before.cpu_usage_usec <= usage && usage <= after.cpu_usage_usec,
        "{before:?} {usage} {after:?}"
    );
    ensure!(before.nr_throttled <= throttled && throttled <= after.nr_throttled && throttled > 0);
    ensure!(
        after.cpu_rate_millis == 500,
        "throttled to the limit: {}",
        after.cpu_rate_millis
    );
    ensure!(
        memory == after.memory_current,
        "constant workload: {memory} vs {}",
        after.memory_current
    );
    let working_set = after.working_set as f64;
    ensure!(
        ((48u64 << 20) as f64..(64u64 << 20) as f64).contains(&working_set),
        "working set {working_set}"
    );

    // SIGTERM: a clean, prompt exit.
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    ensure!(status.success());
    let mut child = guard.0.take().context("child")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("no exit within 10 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    ensure!(
        exit.success(),
        "exit status {exit}: {}",
        std::fs::read_to_string(work.path().join("sim.log"))?
    );
    Ok(())
}
