//! One control-plane process: spawned in its own process group with its output in a log file, and
//! killed (whole group) when dropped. A small `sh` guardian per process kills the group if the test
//! binary dies without running destructors (SIGKILL, abort), so no component outlives its test.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use rustix::process::{Pid, Signal, kill_process_group};

use crate::Error;

/// A running component.
#[derive(Debug)]
pub(crate) struct Process {
    name: String,
    log: PathBuf,
    child: Child,
    guardian: Option<(Child, ChildStdin)>,
}

impl Process {
    /// Starts `program` with `args`, stdout and stderr appended to `log`.
    pub(crate) fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<Self, Error> {
        let out = File::create(log).map_err(Error::io(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(Error::io("duplicating a log handle"))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Own group: Ctrl-C on the test run must not bypass the orderly kill below, and killing
            // the group also reaches anything the component forks.
            .process_group(0)
            .spawn()
            .map_err(Error::io(format!(
                "starting {name} ({})",
                program.display()
            )))?;
        let guardian = spawn_guardian(child.id()).ok();
        Ok(Self {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
            guardian,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `Some(status)` if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown status ({e})")),
        }
    }

    /// The last `lines` lines of the log.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    fn kill(&mut self) {
        if let Some((mut guardian, stdin)) = self.guardian.take() {
            // Stop the guardian first so it cannot signal a recycled group id later.
            let _ = guardian.kill();
            let _ = guardian.wait();
            drop(stdin);
        }
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A shell that blocks reading its stdin (a pipe only we hold) and kills the process group once the
/// pipe closes, which happens when this process exits for any reason.
fn spawn_guardian(pgid: u32) -> std::io::Result<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "read -r _ || true; kill -s KILL -- \"-$1\" 2>/dev/null",
            "guardian",
        ])
        .arg(pgid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    match child.stdin.take() {
        Some(stdin) => Ok((child, stdin)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(std::io::Error::other("guardian has no stdin"))
        }
    }
}

/// The last `lines` lines of a file, reading at most the final 64 KiB.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if file
        .seek(SeekFrom::Start(len.saturating_sub(WINDOW)))
        .is_err()
    {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_returns_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\nc\nd\n").expect("write");
        assert_eq!(tail(&path, 2), "c\nd");
        assert_eq!(tail(&path, 10), "a\nb\nc\nd");
        assert!(tail(&dir.path().join("missing"), 3).starts_with("(no log"));
    }

    #[test]
    fn drop_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("sleep.log");
        // The shell forks a grandchild; both must die with the group.
        let args = vec!["-c".to_string(), "sleep 300 & echo $! ; wait".to_string()];
        let process = Process::spawn("sleeper", Path::new("sh"), &args, &log).expect("spawn");
        let pgid = process.child.id();
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(process);
        let grandchild: i32 = std::fs::read_to_string(&log)
            .expect("log")
            .trim()
            .parse()
            .expect("pid");
        std::thread::sleep(std::time::Duration::from_millis(100));
        let gone = |pid: i32| !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid);
        assert!(gone(grandchild), "grandchild {grandchild} survived");
        assert!(gone(pgid as i32), "leader {pgid} survived");
    }

    #[test]
    fn guardian_kills_the_group_when_its_pipe_closes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("sleep.log");
        let args = vec!["300".to_string()];
        let mut process =
            Process::spawn("sleeper", Path::new("sleep"), &args, &log).expect("spawn");
        let (mut guardian, stdin) = process.guardian.take().expect("guardian");
        // Simulates the test binary dying: the guardian sees EOF and must kill the group.
        drop(stdin);
        let _ = guardian.wait();
        let status = process.child.wait().expect("wait");
        assert!(
            !status.success(),
            "sleep should have been killed, got {status}"
        );
    }

    proptest::proptest! {
        #[test]
        fn tail_is_the_suffix_of_any_log(
            lines in proptest::collection::vec("[^\r\n]{0,40}", 0..50),
            n in 0usize..60,
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("log");
            std::fs::write(&path, lines.join("\n")).expect("write");
            let expected: Vec<&str> = lines.iter().map(String::as_str).collect();
            // `lines()` drops one trailing empty line, as a log reader should.
            let mut expected: Vec<&str> = expected;
            if expected.last() == Some(&"") {
                expected.pop();
            }
            let want = expected[expected.len().saturating_sub(n)..].join("\n");
            proptest::prop_assert_eq!(tail(&path, n), want);
        }

        #[test]
        fn tail_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("log");
            std::fs::write(&path, &bytes).expect("write");
            let out = tail(&path, 5);
            proptest::prop_assert!(out.lines().count() <= 5);
        }
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    }
}
