//! The upstream VPA recommender, run from its own Go packages by `eval/vpa-driver` (one process per trace),
//! spoken to over JSON lines.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use tailor_core::estimate::{Recommendation, Resources};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{Contender, ContenderError};

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(
        "cannot start {path}: {source} (build it with eval/vpa-driver/build.sh, or `make eval`; it needs Go)"
    )]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the driver: {0}")]
    Io(#[from] std::io::Error),
    #[error("the driver closed its output (see its stderr above)")]
    Closed,
    #[error("the driver wrote an unreadable line {line:?}: {source}")]
    Reply {
        line: String,
        source: serde_json::Error,
    },
}

#[derive(Debug, serde::Deserialize)]
struct Amounts {
    cpu: i64,
    memory: i64,
}

#[derive(Debug, serde::Deserialize)]
struct Reply {
    target: Amounts,
    lower: Amounts,
    upper: Amounts,
}

impl From<Amounts> for Resources {
    fn from(a: Amounts) -> Self {
        Resources::new(MilliCpu(a.cpu), Bytes(a.memory))
    }
}

#[derive(Debug)]
pub struct VpaGo {
    child: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
    line: String,
}

impl VpaGo {
    pub fn spawn(path: &Path) -> Result<Self, DriverError> {
        let mut child = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| DriverError::Spawn {
                path: path.to_owned(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(DriverError::Closed);
        };
        Ok(Self {
            child,
            input: BufWriter::new(stdin),
            output: BufReader::new(stdout),
            line: String::new(),
        })
    }

    fn send(&mut self, op: &str, at: Timestamp, v: i64) -> Result<(), DriverError> {
        writeln!(
            self.input,
            r#"{{"op":"{op}","t":{},"v":{v}}}"#,
            at.unix_millis()
        )?;
        Ok(())
    }
}

impl Drop for VpaGo {
    fn drop(&mut self) {
        // Closing stdin ends the driver; reap it so no zombie is left behind.
        let _ = self.input.flush();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Contender for VpaGo {
    fn observe(
        &mut self,
        at: Timestamp,
        cpu: Option<MilliCpu>,
        memory: Option<Bytes>,
    ) -> Result<(), ContenderError> {
        if let Some(c) = cpu {
            self.send("cpu", at, c.get())?;
        }
        if let Some(m) = memory {
            self.send("mem", at, m.get())?;
        }
        Ok(())
    }

    fn record_oom(
        &mut self,
        at: Timestamp,
        request: Bytes,
        _limit: Bytes,
    ) -> Result<(), ContenderError> {
        self.send("oom", at, request.get())?;
        Ok(())
    }

    fn recommend(&mut self, at: Timestamp) -> Result<Option<Recommendation>, ContenderError> {
        self.send("rec", at, 0)?;
        self.input.flush().map_err(DriverError::from)?;
        self.line.clear();
        if self
            .output
            .read_line(&mut self.line)
            .map_err(DriverError::from)?
            == 0
        {
            return Err(DriverError::Closed.into());
        }
        let r: Reply =
            serde_json::from_str(self.line.trim()).map_err(|source| DriverError::Reply {
                line: self.line.trim().to_owned(),
                source,
            })?;
        let target = Resources::from(r.target);
        Ok(Some(Recommendation {
            target,
            lower_bound: r.lower.into(),
            upper_bound: r.upper.into(),
            uncapped_target: target,
        }))
    }
}
