//! Reads one container's cgroup v2 files into a [`RawSample`].
//!
//! Every container keeps one descriptor per file, re-read with `pread` at offset 0 (which on the real cgroup
//! filesystem regenerates the content, and skips `open`, `close` and the path walk). On ordinary filesystems
//! (test trees, a simulator that replaces files by rename) a kept descriptor would keep showing a replaced file's
//! old inode, so there each read is followed by an `fstat`: a link count of 0 means the file was replaced or
//! removed since it was opened, and it is opened again by name (relative to a kept `O_PATH` descriptor of the
//! directory) and re-read. What is returned is therefore always the content of the file that was linked under
//! its name at the time of the read, exactly what open-read-close would give, for two system calls instead of
//! three and no path walk. [`FileMode`] picks the flavour; `auto` asks the mount table. When descriptors run
//! out, a container's files are opened afresh on every read instead. Reads go into one scratch buffer shared by
//! all containers and are parsed as bytes: a sample allocates nothing.

use std::ffi::CStr;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Access, AtFlags, Mode, OFlags};
use rustix::io::Errno;
use thiserror::Error;

use super::parse::{
    CpuMax, ParseError, parse_cpu_max_bytes, parse_max_or_u64_bytes, parse_single_u64_bytes,
};
use super::stats::{CpuStat, MemoryEvents, MemoryStat, Pressure};

/// How files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// Keep descriptors open and `pread` them (only correct on cgroupfs/kernfs, whose files are never replaced).
    KeepOpen,
    /// Keep descriptors open, and re-open a file by name when it was replaced or removed (link count 0 after the
    /// read). Correct on any filesystem.
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

const CPU_STAT: usize = 0;
const CPU_MAX: usize = 1;
const MEMORY_CURRENT: usize = 2;
const MEMORY_STAT: usize = 3;
const MEMORY_PEAK: usize = 4;
const MEMORY_MAX: usize = 5;
const MEMORY_EVENTS: usize = 6;
const CPU_PRESSURE: usize = 7;
const MEMORY_PRESSURE: usize = 8;

const FILES: [&CStr; 9] = [
    c"cpu.stat",
    c"cpu.max",
    c"memory.current",
    c"memory.stat",
    c"memory.peak",
    c"memory.max",
    c"memory.events",
    c"cpu.pressure",
    c"memory.pressure",
];
const NAMES: [&str; 9] = [
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

/// The name of the file the agent watches for OOM kills (see [`super::notify`]).
pub const MEMORY_EVENTS_FILE: &str = NAMES[MEMORY_EVENTS];

fn vanished(e: Errno) -> bool {
    // ENODEV is what reading a kept kernfs descriptor of a removed cgroup returns.
    e == Errno::NOENT || e == Errno::NODEV
}

fn io_error(file: &'static str, e: Errno) -> ReadError {
    ReadError::Io {
        file,
        source: io::Error::from(e),
    }
}

/// Descriptors kept per container, by [`FileMode`].
#[derive(Debug)]
enum Handles {
    /// The cgroup directory (`O_PATH`) only; files are opened relative to it on every read (the fallback when
    /// descriptors run out).
    Reopen(OwnedFd),
    /// Each file's descriptor by index into [`FILES`]; `None` for an absent optional file.
    KeepOpen([Option<OwnedFd>; 9]),
    /// Like `KeepOpen`, plus the directory to re-open replaced files from.
    Checked {
        dir: OwnedFd,
        files: [Option<OwnedFd>; 9],
    },
}

/// One container's cgroup directory and its kept descriptors.
#[derive(Debug)]
pub struct CgroupFiles {
    dir: PathBuf,
    handles: Handles,
    /// Optional files found absent once; not retried for the life of this cgroup (kernel features do not appear
    /// at run time).
    absent: [bool; 9],
    /// Values of the slow files (limits, kernel peak, PSI) from the last full read.
    slow: RawSample,
}

fn open_in(dir: &OwnedFd, i: usize) -> Result<OwnedFd, Errno> {
    retry(|| {
        rustix::fs::openat(
            dir,
            FILES[i],
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
    })
}

/// Repeats a system call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    loop {
        match f() {
            Err(Errno::INTR) => {}
            other => return other,
        }
    }
}

impl CgroupFiles {
    /// Prepares to read `dir`: opens the directory and, in keep-open mode, every file. A missing directory or
    /// required file means the cgroup is gone (or is not a container cgroup) and gives [`ReadError::Vanished`].
    pub fn open(dir: &Path, mode: FileMode) -> Result<Self, ReadError> {
        let dirfd = retry(|| {
            rustix::fs::open(
                dir,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        })
        .map_err(|e| {
            if vanished(e) {
                ReadError::Vanished
            } else {
                io_error("cgroup directory", e)
            }
        })?;
        let mut absent = [false; 9];
        let mut files: [Option<OwnedFd>; 9] = Default::default();
        let mut out_of_descriptors = false;
        for (i, slot) in files.iter_mut().enumerate() {
            match open_in(&dirfd, i) {
                Ok(f) => *slot = Some(f),
                Err(e) if vanished(e) && !REQUIRED[i] => absent[i] = true,
                Err(e) if vanished(e) => return Err(ReadError::Vanished),
                // Ten descriptors per container can exceed a low RLIMIT_NOFILE on a busy node: this container is
                // read by opening its files afresh instead, which keeps one.
                Err(Errno::MFILE | Errno::NFILE) => {
                    out_of_descriptors = true;
                    break;
                }
                Err(e) => return Err(io_error(NAMES[i], e)),
            }
        }
        let handles = if out_of_descriptors {
            tracing::debug!(dir = %dir.display(), "out of file descriptors; re-opening this cgroup's files");
            absent = [false; 9];
            Handles::Reopen(dirfd)
        } else {
            match mode {
                FileMode::KeepOpen => Handles::KeepOpen(files),
                FileMode::Reopen => Handles::Checked { dir: dirfd, files },
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            handles,
            absent,
            slow: RawSample::default(),
        })
    }

    /// The cgroup directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads file `i` into `buf`, returning the content's length; `None` when an optional file is absent.
    fn read_into(&mut self, i: usize, buf: &mut Vec<u8>) -> Result<Option<usize>, ReadError> {
        if self.absent[i] {
            return Ok(None);
        }
        let result = match &mut self.handles {
            Handles::KeepOpen(files) => match &files[i] {
                Some(f) => read_whole(f, buf, true),
                None => return Ok(None),
            },
            Handles::Checked { dir, files } => read_checked(dir, &mut files[i], i, buf),
            Handles::Reopen(dir) => open_in(dir, i).and_then(|f| read_whole(&f, buf, false)),
        };
        match (result, &self.handles) {
            (Ok(n), _) => Ok(Some(n)),
            (Err(e), Handles::Reopen(dir) | Handles::Checked { dir, .. })
                if vanished(e) && !REQUIRED[i] =>
            {
                // An optional file missing while the required ones are there is a kernel without that feature,
                // unless the whole directory went away.
                let dir_alive =
                    rustix::fs::accessat(dir, FILES[CPU_STAT], Access::EXISTS, AtFlags::empty())
                        .is_ok();
                if dir_alive {
                    self.absent[i] = true;
                    Ok(None)
                } else {
                    Err(ReadError::Vanished)
                }
            }
            (Err(e), _) if vanished(e) => Err(ReadError::Vanished),
            (Err(e), _) => Err(io_error(NAMES[i], e)),
        }
    }

    /// Reads and parses file `i`; `None` when an optional file is absent.
    fn read_parsed<T>(
        &mut self,
        i: usize,
        buf: &mut Vec<u8>,
        parse: impl FnOnce(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Option<T>, ReadError> {
        let Some(n) = self.read_into(i, buf)? else {
            return Ok(None);
        };
        parse(&buf[..n])
            .map(Some)
            .map_err(|source| ReadError::Parse {
                file: NAMES[i],
                source,
            })
    }

    /// Reads a required file (present by construction, so `None` cannot happen; it reads as vanished).
    fn read_required<T>(
        &mut self,
        i: usize,
        buf: &mut Vec<u8>,
        parse: impl FnOnce(&[u8]) -> Result<T, ParseError>,
    ) -> Result<T, ReadError> {
        self.read_parsed(i, buf, parse)?.ok_or(ReadError::Vanished)
    }

    /// Reads and parses every file (see [`CgroupFiles::sample_with`]).
    pub fn sample(&mut self, buf: &mut Vec<u8>, full: bool) -> Result<RawSample, ReadError> {
        self.sample_with(buf, full, None)
    }

    /// Reads and parses the files. `cpu.stat`, `memory.current` and `memory.stat` are read every time (usage
    /// rate, working set); `memory.events` too unless `events` gives its content already (the caller watches it
    /// for changes). With `full == false` the slow-moving files (`cpu.max`, `memory.max`, `memory.peak`, PSI
    /// totals) keep their values from the last full read. `buf` is scratch space reused across calls and
    /// containers.
    pub fn sample_with(
        &mut self,
        buf: &mut Vec<u8>,
        full: bool,
        events: Option<MemoryEvents>,
    ) -> Result<RawSample, ReadError> {
        let mut s = if full {
            RawSample::default()
        } else {
            self.slow
        };
        s.cpu = self.read_required(CPU_STAT, buf, CpuStat::parse_bytes)?;
        s.memory_current = self.read_required(MEMORY_CURRENT, buf, |c| {
            parse_single_u64_bytes(NAMES[MEMORY_CURRENT], c)
        })?;
        s.memory_stat = self.read_required(MEMORY_STAT, buf, MemoryStat::parse_bytes)?;
        s.memory_events = match events {
            Some(e) => e,
            None => self.read_events(buf)?,
        };
        if full {
            s.cpu_max = self.read_parsed(CPU_MAX, buf, parse_cpu_max_bytes)?;
            s.memory_peak = self.read_parsed(MEMORY_PEAK, buf, |c| {
                parse_single_u64_bytes(NAMES[MEMORY_PEAK], c)
            })?;
            s.memory_max = self
                .read_parsed(MEMORY_MAX, buf, |c| {
                    parse_max_or_u64_bytes(NAMES[MEMORY_MAX], c)
                })?
                .flatten();
            s.cpu_pressure = self.read_parsed(CPU_PRESSURE, buf, Pressure::parse_bytes)?;
            s.memory_pressure = self.read_parsed(MEMORY_PRESSURE, buf, Pressure::parse_bytes)?;
            self.slow = s;
        }
        Ok(s)
    }

    /// Reads `memory.events` alone (on a change notification).
    pub fn read_events(&mut self, buf: &mut Vec<u8>) -> Result<MemoryEvents, ReadError> {
        self.read_required(MEMORY_EVENTS, buf, MemoryEvents::parse_bytes)
    }
}

/// Reads a kept descriptor and checks it still names the file; re-opens and re-reads it by name when the file
/// was replaced or removed since (link count 0). A missing file gives `NOENT` and forgets the descriptor.
fn read_checked(
    dir: &OwnedFd,
    slot: &mut Option<OwnedFd>,
    i: usize,
    buf: &mut Vec<u8>,
) -> Result<usize, Errno> {
    if let Some(f) = slot.as_ref() {
        let n = read_whole(f, buf, true)?;
        if retry(|| rustix::fs::fstat(f))?.st_nlink > 0 {
            return Ok(n);
        }
    }
    // Dropping the stale descriptor first means the re-open can never run out of descriptors.
    *slot = None;
    let f = open_in(dir, i)?;
    let n = read_whole(&f, buf, true)?;
    *slot = Some(f);
    Ok(n)
}

/// Largest file the agent accepts (a `memory.stat` is about 1.5 KiB); bigger content is not a cgroup file.
const MAX_FILE: usize = 64 * 1024;

/// Reads the whole file into `buf` from offset 0 and returns its length: with `pread` on a kept descriptor
/// (no seek needed), with `read` on a fresh one.
///
/// `buf` keeps its length between calls (only the first `n` bytes are content), so no read pays for zeroing
/// or growing it. A read that returns less than it asked for is taken as the end of the file: cgroup files are
/// generated whole by `seq_file`, which hands out everything that fits in one read, and a regular file returns
/// short only at its end. That saves the second, empty read per file.
fn read_whole(f: &impl AsFd, buf: &mut Vec<u8>, positioned: bool) -> Result<usize, Errno> {
    const CHUNK: usize = 8 * 1024;
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let mut total = 0;
    loop {
        let space = &mut buf[total..];
        let n = if positioned {
            retry(|| rustix::io::pread(f, &mut *space, total as u64))?
        } else {
            retry(|| rustix::io::read(f, &mut *space))?
        };
        total += n;
        if total < buf.len() {
            return Ok(total);
        }
        if buf.len() >= MAX_FILE {
            return Err(Errno::FBIG);
        }
        let grown = (buf.len() * 2).min(MAX_FILE);
        buf.resize(grown, 0);
    }
}
