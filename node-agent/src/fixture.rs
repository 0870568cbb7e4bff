//! Builds fake cgroup v2 trees with the kubelet's layouts, for the agent's tests, benchmarks and standalone
//! trials. Written independently of the simulator crate on purpose: two implementations of the naming rules
//! keep each other honest. It only ever writes under the root it is given.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::discovery::{Driver, Qos};

/// Container runtime naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Containerd,
    Crio,
}

/// A fake cgroup root with one kubelet layout.
#[derive(Debug, Clone)]
pub struct FixtureTree {
    root: PathBuf,
    driver: Driver,
    runtime: Runtime,
}

/// The figures written into a container's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureStats {
    pub usage_usec: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_usec: u64,
    pub memory_current: u64,
    pub anon: u64,
    pub file: u64,
    pub inactive_file: u64,
    /// `None`: no `memory.peak` file (kernel < 5.19).
    pub memory_peak: Option<u64>,
    /// `None` writes `max`.
    pub memory_max: Option<u64>,
    /// `(quota, period)`; `None` writes `max 100000`.
    pub cpu_max: Option<(u64, u64)>,
    pub oom_kill: u64,
    pub psi_some_total: u64,
    pub psi_full_total: u64,
    /// Write PSI files at all.
    pub psi: bool,
    /// Only a `some` line in `cpu.pressure` (kernels before 5.13).
    pub legacy_cpu_psi: bool,
}

impl Default for FixtureStats {
    fn default() -> Self {
        Self {
            usage_usec: 1_000_000,
            nr_periods: 100,
            nr_throttled: 2,
            throttled_usec: 5_000,
            memory_current: 200 << 20,
            anon: 120 << 20,
            file: 70 << 20,
            inactive_file: 40 << 20,
            memory_peak: Some(250 << 20),
            memory_max: Some(512 << 20),
            cpu_max: Some((50_000, 100_000)),
            oom_kill: 0,
            psi_some_total: 1_000,
            psi_full_total: 400,
            psi: true,
            legacy_cpu_psi: false,
        }
    }
}

fn escape_uid(driver: Driver, uid: &str) -> String {
    match driver {
        Driver::Systemd => uid.replace('-', "_"),
        Driver::Cgroupfs => uid.to_owned(),
    }
}

impl FixtureTree {
    /// Creates the `kubepods` tree (with QoS level directories) under `root`.
    pub fn new(root: &Path, driver: Driver, runtime: Runtime) -> io::Result<Self> {
        let tree = Self {
            root: root.to_path_buf(),
            driver,
            runtime,
        };
        std::fs::create_dir_all(tree.qos_dir(Qos::Burstable))?;
        std::fs::create_dir_all(tree.qos_dir(Qos::BestEffort))?;
        // The root cgroup has files too; the walk must not mistake them for anything.
        std::fs::write(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )?;
        Ok(tree)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn kubepods(&self) -> PathBuf {
        self.root.join(match self.driver {
            Driver::Systemd => "kubepods.slice",
            Driver::Cgroupfs => "kubepods",
        })
    }

    fn qos_dir(&self, qos: Qos) -> PathBuf {
        let kp = self.kubepods();
        match (self.driver, qos) {
            (_, Qos::Guaranteed) => kp,
            (Driver::Systemd, Qos::Burstable) => kp.join("kubepods-burstable.slice"),
            (Driver::Systemd, Qos::BestEffort) => kp.join("kubepods-besteffort.slice"),
            (Driver::Cgroupfs, Qos::Burstable) => kp.join("burstable"),
            (Driver::Cgroupfs, Qos::BestEffort) => kp.join("besteffort"),
        }
    }

    /// The pod's cgroup directory (not created).
    pub fn pod_dir(&self, uid: &str, qos: Qos) -> PathBuf {
        let uid = escape_uid(self.driver, uid);
        let name = match (self.driver, qos) {
            (Driver::Systemd, Qos::Guaranteed) => format!("kubepods-pod{uid}.slice"),
            (Driver::Systemd, Qos::Burstable) => format!("kubepods-burstable-pod{uid}.slice"),
            (Driver::Systemd, Qos::BestEffort) => format!("kubepods-besteffort-pod{uid}.slice"),
            (Driver::Cgroupfs, _) => format!("pod{uid}"),
        };
        self.qos_dir(qos).join(name)
    }

    /// A container leaf's directory (not created).
    pub fn container_dir(&self, uid: &str, qos: Qos, id: &str) -> PathBuf {
        let name = match (self.driver, self.runtime) {
            (Driver::Systemd, Runtime::Containerd) => format!("cri-containerd-{id}.scope"),
            (Driver::Systemd, Runtime::Crio) => format!("crio-{id}.scope"),
            (Driver::Cgroupfs, Runtime::Containerd) => id.to_owned(),
            (Driver::Cgroupfs, Runtime::Crio) => format!("crio-{id}"),
        };
        self.pod_dir(uid, qos).join(name)
    }

    /// Creates a container (or sandbox) leaf with `stats`, plus the pod directory's own files.
    pub fn add_container(
        &self,
        uid: &str,
        qos: Qos,
        id: &str,
        stats: &FixtureStats,
    ) -> io::Result<PathBuf> {
        let dir = self.container_dir(uid, qos, id);
        std::fs::create_dir_all(&dir)?;
        let pod = self.pod_dir(uid, qos);
        write_stats(&pod, &FixtureStats::default())?;
        write_stats(&dir, stats)?;
        Ok(dir)
    }

    /// Creates CRI-O's conmon scope next to a container (it has cgroup files like any leaf).
    pub fn add_conmon(&self, uid: &str, qos: Qos, id: &str) -> io::Result<PathBuf> {
        let suffix = match self.driver {
            Driver::Systemd => ".scope",
            Driver::Cgroupfs => "",
        };
        let dir = self
            .pod_dir(uid, qos)
            .join(format!("crio-conmon-{id}{suffix}"));
        std::fs::create_dir_all(&dir)?;
        write_stats(&dir, &FixtureStats::default())?;
        Ok(dir)
    }
}

/// Writes every file the agent reads into `dir`, in the kernel's formats (memory.stat in shuffled order with
/// keys the agent does not know).
pub fn write_stats(dir: &Path, s: &FixtureStats) -> io::Result<()> {
    let mut cpu = String::new();
    let user = s.usage_usec * 3 / 4;
    let _ = write!(
        cpu,
        "usage_usec {}\nuser_usec {}\nsystem_usec {}\nnice_usec 0\ncore_sched.force_idle_usec 0\n\
         nr_periods {}\nnr_throttled {}\nthrottled_usec {}\nnr_bursts 0\nburst_usec 0\n",
        s.usage_usec,
        user,
        s.usage_usec - user,
        s.nr_periods,
        s.nr_throttled,
        s.throttled_usec
    );
    std::fs::write(dir.join("cpu.stat"), cpu)?;
    let cpu_max = match s.cpu_max {
        Some((q, p)) => format!("{q} {p}\n"),
        None => "max 100000\n".to_owned(),
    };
    std::fs::write(dir.join("cpu.max"), cpu_max)?;
    std::fs::write(dir.join("cpu.weight"), "100\n")?;
    std::fs::write(
        dir.join("memory.current"),
        format!("{}\n", s.memory_current),
    )?;
    let active_file = s.file.saturating_sub(s.inactive_file);
    let stat = format!(
        "anon {anon}\nfile {file}\nkernel 3145728\nkernel_stack 65536\npagetables 262144\nsec_pagetables 0\n\
         percpu 1024\nsock 0\nvmalloc 0\nshmem 0\nzswap 0\nzswapped 0\nfile_mapped 1048576\nfile_dirty 0\n\
         file_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon {anon}\n\
         active_anon 4096\ninactive_file {inactive}\nactive_file {active_file}\nunevictable 0\n\
         slab_reclaimable 131072\nslab_unreclaimable 65536\nslab 196608\nworkingset_refault_anon 0\n\
         workingset_refault_file 12\nworkingset_activate_anon 0\nworkingset_activate_file 3\n\
         workingset_restore_anon 0\nworkingset_restore_file 0\nworkingset_nodereclaim 0\npgscan 100\n\
         pgsteal 90\npgscan_kswapd 0\npgscan_direct 100\npgsteal_kswapd 0\npgsteal_direct 90\npgfault 5000\n\
         pgmajfault 3\npgrefill 0\npgactivate 10\npgdeactivate 0\npglazyfree 0\npglazyfreed 0\n\
         thp_fault_alloc 0\nthp_collapse_alloc 0\nsome_future_key 7\n",
        anon = s.anon,
        file = s.file,
        inactive = s.inactive_file,
    );
    std::fs::write(dir.join("memory.stat"), stat)?;
    match s.memory_peak {
        Some(p) => std::fs::write(dir.join("memory.peak"), format!("{p}\n"))?,
        None => remove_if_present(&dir.join("memory.peak"))?,
    }
    let max = s
        .memory_max
        .map_or_else(|| "max\n".to_owned(), |m| format!("{m}\n"));
    std::fs::write(dir.join("memory.max"), max)?;
    std::fs::write(dir.join("memory.high"), "max\n")?;
    std::fs::write(dir.join("memory.swap.current"), "0\n")?;
    let events = format!(
        "low 0\nhigh 0\nmax {}\noom {}\noom_kill {}\noom_group_kill 0\n",
        s.oom_kill, s.oom_kill, s.oom_kill
    );
    std::fs::write(dir.join("memory.events"), &events)?;
    std::fs::write(dir.join("memory.events.local"), &events)?;
    if s.psi {
        let some = format!(
            "some avg10=1.25 avg60=0.50 avg300=0.10 total={}\n",
            s.psi_some_total
        );
        let full = format!(
            "full avg10=0.40 avg60=0.20 avg300=0.05 total={}\n",
            s.psi_full_total
        );
        let cpu_psi = if s.legacy_cpu_psi {
            some.clone()
        } else {
            format!("{some}{full}")
        };
        std::fs::write(dir.join("cpu.pressure"), cpu_psi)?;
        std::fs::write(dir.join("memory.pressure"), format!("{some}{full}"))?;
    } else {
        remove_if_present(&dir.join("cpu.pressure"))?;
        remove_if_present(&dir.join("memory.pressure"))?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A deterministic 64-hex container ID for fixture number `n` with a tag byte (so sandboxes, containers and
/// conmon IDs never collide).
pub fn container_id(tag: u8, n: u32) -> String {
    format!("{tag:02x}{n:062x}")
}

/// A deterministic pod UID (API form) for pod number `n`.
pub fn pod_uid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}
