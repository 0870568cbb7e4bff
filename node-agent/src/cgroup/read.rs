//! Reads one container's cgroup v2 files into a [`RawSample`].
//!
//! On the real cgroup filesystem the files are kept open and re-read with `pread` at offset 0, which regenerates
//! their content and skips the path walk of `open` (about half the cost per file). On ordinary filesystems (test
//! trees, a simulator that replaces files by rename) a kept descriptor would keep showing the old inode, so there
//! the files are opened afresh on every read. [`FileMode`] picks one; `auto` asks the mount table.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::parse::{CpuMax, ParseError, parse_cpu_max, parse_max_or_u64, parse_single_u64};
use super::stats::{CpuStat, MemoryEvents, MemoryStat, Pressure};

/// How files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Keep descriptors open and `pread` them (only correct on cgroupfs/kernfs).
    KeepOpen,
    /// Open, read and close on every sample.
    Reopen,
}

/// Everything one sample reads from a container's cgroup directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawSample {
    pub cpu: CpuStat,
    /// `cpu.max`; `None` when the file is absent (cpu controller not enabled).
    pub cpu_max: Option<CpuMax>,
    pub memory_current: u64,
    pub memory_stat: MemoryStat,
    /// `memory.peak`; absent before Linux 5.19.
    pub memory_peak: Option<u64>,
    /// `memory.max`; `None` for `max` or an absent file.
    pub memory_max: Option<u64>,
    pub memory_events: MemoryEvents,
    pub cpu_pressure: Option<Pressure>,
    pub memory_pressure: Option<Pressure>,
}

impl RawSample {
    /// Working set as the kubelet and cAdvisor define it: `memory.current − inactive_file`, floored at 0.
    pub fn working_set(&self) -> u64 {
        self.memory_current
            .saturating_sub(self.memory_stat.inactive_file)
    }
}

/// Why a sample could not be taken.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The cgroup is gone (the container exited). Expected, not worth a log line.
    #[error("cgroup directory vanished")]
    Vanished,
    #[error("reading {file}: {source}")]
    Io {
        file: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("parsing {file}: {source}")]
    Parse {
        file: &'static str,
        #[source]
        source: ParseError,
    },
}

impl ReadError {
    /// Malformed content (counted in `tailor_node_agent_parse_errors_total`), as opposed to I/O or a vanished
    /// cgroup.
    pub fn is_parse(&self) -> bool {
        matches!(self, Self::Parse { .. })
    }
}

const FILES: [&str; 9] = [
    "cpu.stat",
    "cpu.max",
    "memory.current",
    "memory.stat",
    "memory.peak",
    "memory.max",
    "memory.events",
    "cpu.pressure",
    "memory.pressure",
];
const REQUIRED: [bool; 9] = [true, false, true, true, false, false, true, false, false];

fn vanished(e: &io::Error) -> bool {
    // ENODEV is what reading a kept kernfs descriptor of a removed cgroup returns.
    matches!(e.kind(), ErrorKind::NotFound) || e.raw_os_error() == Some(19)
}

/// One container's cgroup directory and, in [`FileMode::KeepOpen`], its open files.
#[derive(Debug)]
pub struct CgroupFiles {
    dir: PathBuf,
    mode: FileMode,
    /// Kept descriptors (keep-open mode) by index into [`FILES`].
    open: [Option<File>; 9],
    /// Optional files found absent once; not retried for the life of this cgroup (kernel features do not appear
    /// at run time).
    absent: [bool; 9],
    /// Values of the slow files (limits, kernel peak, PSI) from the last full read.
    slow: RawSample,
}

impl CgroupFiles {
    /// Prepares to read `dir`. In keep-open mode the files are opened now; a missing required file means the
    /// cgroup is gone (or is not a container cgroup) and gives [`ReadError::Vanished`].
    pub fn open(dir: &Path, mode: FileMode) -> Result<Self, ReadError> {
        let mut files = Self {
            dir: dir.to_path_buf(),
            mode,
            open: Default::default(),
            absent: [false; 9],
            slow: RawSample::default(),
        };
        if mode == FileMode::KeepOpen {
            for (i, name) in FILES.iter().enumerate() {
                match File::open(dir.join(name)) {
                    Ok(f) => files.open[i] = Some(f),
                    Err(e) if vanished(&e) && !REQUIRED[i] => files.absent[i] = true,
                    Err(e) if vanished(&e) => return Err(ReadError::Vanished),
                    Err(source) => return Err(ReadError::Io { file: name, source }),
                }
            }
        }
        Ok(files)
    }

    /// The cgroup directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads file `i` into `buf`; `Ok(false)` when an optional file is absent.
    fn read_into(&mut self, i: usize, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
        buf.clear();
        if self.absent[i] {
            return Ok(false);
        }
        let name = FILES[i];
        let result = match (self.mode, &self.open[i]) {
            (FileMode::KeepOpen, Some(f)) => read_at_all(f, buf),
            _ => File::open(self.dir.join(name)).and_then(|f| read_at_all(&f, buf)),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if vanished(&e) && !REQUIRED[i] && self.mode == FileMode::Reopen => {
                // An optional file missing while the required ones are there is a kernel without that feature,
                // unless the whole directory went away.
                if self.dir.join(FILES[0]).exists() {
                    self.absent[i] = true;
                    Ok(false)
                } else {
                    Err(ReadError::Vanished)
                }
            }
            Err(e) if vanished(&e) => Err(ReadError::Vanished),
            Err(source) => Err(ReadError::Io { file: name, source }),
        }
    }

    /// Reads and parses the files. `cpu.stat`, `memory.current`, `memory.stat` and `memory.events` are read
    /// every time (usage rate, working set, OOM kills); with `full == false` the slow-moving files (`cpu.max`,
    /// `memory.max`, `memory.peak`, PSI totals) keep their values from the last full read, which halves the
    /// syscalls per sample. `buf` is scratch space reused across calls and containers.
    pub fn sample(&mut self, buf: &mut Vec<u8>, full: bool) -> Result<RawSample, ReadError> {
        let mut s = if full {
            RawSample::default()
        } else {
            self.slow
        };
        self.read_into(0, buf)?;
        s.cpu = parse(FILES[0], buf, CpuStat::parse)?;
        self.read_into(2, buf)?;
        s.memory_current = parse(FILES[2], buf, |c| parse_single_u64(FILES[2], c))?;
        self.read_into(3, buf)?;
        s.memory_stat = parse(FILES[3], buf, MemoryStat::parse)?;
        self.read_into(6, buf)?;
        s.memory_events = parse(FILES[6], buf, MemoryEvents::parse)?;
        if full {
            if self.read_into(1, buf)? {
                s.cpu_max = Some(parse(FILES[1], buf, parse_cpu_max)?);
            }
            if self.read_into(4, buf)? {
                s.memory_peak = Some(parse(FILES[4], buf, |c| parse_single_u64(FILES[4], c))?);
            }
            if self.read_into(5, buf)? {
                s.memory_max = parse(FILES[5], buf, |c| parse_max_or_u64(FILES[5], c))?;
            }
            if self.read_into(7, buf)? {
                s.cpu_pressure = Some(parse(FILES[7], buf, Pressure::parse)?);
            }
            if self.read_into(8, buf)? {
                s.memory_pressure = Some(parse(FILES[8], buf, Pressure::parse)?);
            }
            self.slow = s;
        }
        Ok(s)
    }
}

fn parse<T>(
    file: &'static str,
    buf: &[u8],
    f: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, ReadError> {
    let text = std::str::from_utf8(buf).map_err(|_| ReadError::Parse {
        file,
        source: ParseError::NotUtf8,
    })?;
    f(text).map_err(|source| ReadError::Parse { file, source })
}

/// Largest file the agent accepts (a `memory.stat` is about 1.5 KiB); bigger content is not a cgroup file.
const MAX_FILE: usize = 64 * 1024;

/// Reads the whole file from offset 0 with positioned reads, so a kept descriptor needs no seek.
///
/// A read that returns less than it asked for is taken as the end of the file: cgroup files are generated
/// whole by `seq_file`, which hands out everything that fits in one read, and a regular file returns short
/// only at its end. That saves the second, empty read per file.
fn read_at_all(f: &File, buf: &mut Vec<u8>) -> io::Result<()> {
    const CHUNK: usize = 8 * 1024;
    loop {
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = match f.read_at(&mut buf[start..], start as u64) {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        };
        buf.truncate(start + n);
        if n < CHUNK {
            return Ok(());
        }
        if buf.len() > MAX_FILE {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                "file larger than any cgroup file",
            ));
        }
    }
}
