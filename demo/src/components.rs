//! Running Tailor's components: as real processes (the release binaries, each logging to a file) or in this
//! process through the same entry points their `main` calls. Both take the same command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command};
use tailor_k8s::shutdown::CancellationToken;

use crate::DemoError;

const STOP_GRACE: Duration = Duration::from_secs(10);

/// How the components run.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Real processes from the binaries in this folder (e.g. `target/release`).
    Processes { bin_dir: PathBuf },
    /// Tokio tasks in this process (the binaries' own serve functions).
    InProcess,
}

impl Launch {
    /// Processes from the folder this executable lives in (where cargo puts the workspace's binaries).
    pub fn sibling_binaries() -> Result<Self, DemoError> {
        let exe = std::env::current_exe().map_err(DemoError::io("current executable"))?;
        let bin_dir = exe
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| DemoError::component("demo", "executable has no parent folder"))?;
        Ok(Self::Processes { bin_dir })
    }
}

/// Which component a command line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NodeAgent,
    Recommender,
    Updater,
}

impl Kind {
    /// The binary's name.
    pub fn binary(self) -> &'static str {
        match self {
            Kind::NodeAgent => "tailor-node-agent",
            Kind::Recommender => "tailor-recommender",
            Kind::Updater => "tailor-updater",
        }
    }
}

/// A component to start: its kind, an instance label, its flags and the kubeconfig it acts with.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kind: Kind,
    /// e.g. `node-agent-sim-a`; names the log file.
    pub label: String,
    /// Flags without the program name.
    pub args: Vec<String>,
    /// The ServiceAccount kubeconfig the component uses.
    pub kubeconfig: PathBuf,
}

/// A started component.
#[derive(Debug)]
pub struct Running {
    pub label: String,
    /// Where a process writes its output (in-process components log through this process's subscriber).
    pub log: Option<PathBuf>,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Stopped,
    Process(Child),
    Task {
        stop: CancellationToken,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    },
}

/// Starts `spec` as `launch` says; logs of processes go to `<log_dir>/<label>.log`.
pub async fn start(launch: &Launch, spec: &Spec, log_dir: &Path) -> Result<Running, DemoError> {
    match launch {
        Launch::Processes { bin_dir } => {
            let program = bin_dir.join(spec.kind.binary());
            if !program.is_file() {
                return Err(DemoError::component(
                    &spec.label,
                    format!(
                        "{} is missing; build it with `cargo build --release -p {}`",
                        program.display(),
                        spec.kind.binary()
                    ),
                ));
            }
            let log = log_dir.join(format!("{}.log", spec.label));
            let file = std::fs::File::create(&log).map_err(DemoError::io(&log))?;
            let err = file.try_clone().map_err(DemoError::io(&log))?;
            let child = Command::new(&program)
                .args(&spec.args)
                .env("KUBECONFIG", &spec.kubeconfig)
                .env_remove("RUST_LOG")
                .stdin(std::process::Stdio::null())
                .stdout(file)
                .stderr(err)
                // Its own process group: Ctrl-C in the terminal reaches only the demo, which stops
                // the components in order.
                .process_group(0)
                .spawn()
                .map_err(DemoError::io(&program))?;
            Ok(Running {
                label: spec.label.clone(),
                log: Some(log),
                inner: Inner::Process(child),
            })
        }
        Launch::InProcess => {
            let client = tailor_tests::client_from_kubeconfig(&spec.kubeconfig).await?;
            let stop = CancellationToken::new();
            let argv = std::iter::once(spec.kind.binary().to_owned()).chain(spec.args.clone());
            let bad = |e: clap::Error| DemoError::component(&spec.label, e);
            let task = match spec.kind {
                Kind::NodeAgent => {
                    use clap::Parser as _;
                    let args =
                        tailor_node_agent::config::Args::try_parse_from(argv).map_err(bad)?;
                    let token = stop.clone();
                    tokio::spawn(tailor_node_agent::run::serve(
                        args,
                        Some(client),
                        async move { token.cancelled().await },
                    ))
                }
                Kind::Recommender => {
                    let args =
                        tailor_recommender::args::Args::parse_from_iter(argv).map_err(bad)?;
                    tokio::spawn(tailor_recommender::run::serve(
                        args,
                        client,
                        tailor_k8s::admin::Readiness::new(),
                        stop.clone(),
                    ))
                }
                Kind::Updater => {
                    let args = tailor_updater::config::parse_args(argv).map_err(bad)?;
                    tokio::spawn(tailor_updater::run_until(
                        client,
                        args,
                        tailor_k8s::admin::Readiness::new(),
                        stop.clone(),
                    ))
                }
            };
            Ok(Running {
                label: spec.label.clone(),
                log: None,
                inner: Inner::Task { stop, task },
            })
        }
    }
}

impl Drop for Running {
    /// A component left running (an error path, a panic) is killed; [`Running::stop`] is the graceful way.
    fn drop(&mut self) {
        match &mut self.inner {
            Inner::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Inner::Task { stop, task } => {
                stop.cancel();
                task.abort();
            }
            Inner::Stopped => {}
        }
    }
}

impl Running {
    /// `Err` with the reason if the component has stopped on its own.
    pub fn check(&mut self) -> Result<(), DemoError> {
        let exited = match &mut self.inner {
            Inner::Process(child) => match child.try_wait() {
                Ok(None) => None,
                Ok(Some(status)) => Some(format!("exited with {status}")),
                Err(e) => Some(format!("cannot be polled: {e}")),
            },
            Inner::Task { task, .. } => task.is_finished().then(|| "task ended".to_owned()),
            Inner::Stopped => Some("stopped".to_owned()),
        };
        match exited {
            None => Ok(()),
            Some(why) => Err(DemoError::component(
                &self.label,
                format!("{why}{}", self.log_tail(15)),
            )),
        }
    }

    /// The last `lines` lines of its log file, prefixed with a newline (empty for in-process components).
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return String::new();
        };
        let all: Vec<&str> = text.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        format!("\n--- {} ---\n{}", self.label, tail.join("\n"))
    }

    /// Graceful stop: SIGTERM (or cancellation), then a kill after a grace period.
    pub async fn stop(mut self) -> Result<(), DemoError> {
        match std::mem::replace(&mut self.inner, Inner::Stopped) {
            Inner::Stopped => Ok(()),
            Inner::Process(mut child) => {
                if let Some(pid) = i32::try_from(child.id())
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
                let deadline = std::time::Instant::now() + STOP_GRACE;
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) => return Ok(()),
                        Ok(None) if std::time::Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Ok(None) => {
                            let _ = child.kill();
                            let _ = child.wait();
                            return Err(DemoError::component(
                                &self.label,
                                "did not stop within 10 s of SIGTERM; killed",
                            ));
                        }
                        Err(e) => return Err(DemoError::component(&self.label, e)),
                    }
                }
            }
            Inner::Task { stop, task } => {
                stop.cancel();
                match tokio::time::timeout(STOP_GRACE, task).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(e))) => Err(DemoError::component(&self.label, format!("{e:#}"))),
                    Ok(Err(e)) => Err(DemoError::component(&self.label, e)),
                    Err(_) => Err(DemoError::component(
                        &self.label,
                        "did not stop within 10 s",
                    )),
                }
            }
        }
    }
}
