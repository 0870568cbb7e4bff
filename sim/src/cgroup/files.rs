//! Contents of the cgroup v2 interface files, rendered in the kernel's exact formats (cgroup-v2.rst):
//! flat keyed `KEY VAL` lines, nested keyed PSI lines, `$MAX $PERIOD` for `cpu.max`, `max` for "no limit".

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Kernel page size; every memory amount the simulator writes is a multiple of it.
pub const PAGE: u64 = 4096;
/// The kubelet's CFS period (100 ms).
pub const CFS_PERIOD_US: u64 = 100_000;
/// The kernel's minimum CFS quota (1 ms); Kubernetes clamps limits below 10m to it.
pub const MIN_QUOTA_US: u64 = 1_000;

/// `cpu.stat` (the bandwidth keys are present because the cpu controller is enabled on pod cgroups).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStat {
    pub usage_usec: u64,
    pub user_usec: u64,
    pub system_usec: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_usec: u64,
    pub nr_bursts: u64,
    pub burst_usec: u64,
}

impl CpuStat {
    /// Renders the flat keyed file.
    pub fn render(&self) -> String {
        format!(
            "usage_usec {}\nuser_usec {}\nsystem_usec {}\nnr_periods {}\nnr_throttled {}\nthrottled_usec {}\nnr_bursts {}\nburst_usec {}\n",
            self.usage_usec,
            self.user_usec,
            self.system_usec,
            self.nr_periods,
            self.nr_throttled,
            self.throttled_usec,
            self.nr_bursts,
            self.burst_usec
        )
    }

    /// Element-wise sum (for hierarchical pod totals).
    pub fn add(&mut self, o: &CpuStat) {
        self.usage_usec += o.usage_usec;
        self.user_usec += o.user_usec;
        self.system_usec += o.system_usec;
        // Bandwidth statistics are not hierarchical in the kernel: pod totals come from the pod's own cpu.max.
    }
}

/// `cpu.max` for a CPU limit in millicores (`None` = no limit). Quota is clamped to the kernel minimum.
pub fn render_cpu_max(limit_millis: Option<u64>) -> String {
    match cpu_quota_us(limit_millis) {
        Some(q) => format!("{q} {CFS_PERIOD_US}\n"),
        None => format!("max {CFS_PERIOD_US}\n"),
    }
}

/// CFS quota in µs per 100 ms period for a CPU limit, as the kubelet computes it.
pub fn cpu_quota_us(limit_millis: Option<u64>) -> Option<u64> {
    limit_millis.map(|m| (m * CFS_PERIOD_US / 1000).max(MIN_QUOTA_US))
}

/// CPU request → cgroup v1 shares, as the kubelet computes them (minimum 2).
pub fn cpu_shares(request_millis: u64) -> u64 {
    (request_millis * 1024 / 1000).max(2)
}

/// How the runtime converts shares to `cpu.weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormula {
    /// runc ≥ 1.3.2 / crun 2025: quadratic fit in log2(shares); 1 CPU → 100.
    #[default]
    Quadratic,
    /// The older linear mapping (1 CPU → 39), still used by the kubelet for pod and QoS cgroups.
    Linear,
}

/// Shares → `cpu.weight` in [1, 10000].
pub fn cpu_weight(shares: u64, formula: WeightFormula) -> u64 {
    let shares = shares.clamp(2, 262_144);
    match formula {
        WeightFormula::Linear => 1 + ((shares - 2) * 9999) / 262_142,
        WeightFormula::Quadratic => {
            let l = (shares as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            // Tiny epsilon so exact powers (1024 shares → 100) do not round up through float error.
            let w = (10f64.powf(exponent) - 1e-9).ceil();
            (w as u64).clamp(1, 10_000)
        }
    }
}

/// `memory.max` / `memory.high` style value.
pub fn render_limit(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{b}\n"),
        None => "max\n".to_string(),
    }
}

/// Sizes that make up a cgroup's charged memory (all page multiples).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryUsage {
    pub anon: u64,
    pub file: u64,
    pub shmem: u64,
    pub kernel_stack: u64,
    pub pagetables: u64,
    pub percpu: u64,
    pub vmalloc: u64,
    pub sock: u64,
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
}

impl MemoryUsage {
    /// `kernel` in memory.stat: stacks, page tables, percpu, vmalloc and slab.
    pub fn kernel(&self) -> u64 {
        self.kernel_stack
            + self.pagetables
            + self.percpu
            + self.vmalloc
            + self.slab_reclaimable
            + self.slab_unreclaimable
    }

    /// `memory.current`: everything charged to the cgroup.
    pub fn current(&self) -> u64 {
        self.anon + self.file + self.kernel() + self.sock
    }

    /// The kernel keeps file pages on two LRU lists; this split puts 40% on the inactive list.
    pub fn inactive_file(&self) -> u64 {
        ((self.file - self.shmem) * 2 / 5) / PAGE * PAGE
    }

    /// The kubelet/cAdvisor working set: `memory.current - inactive_file`, floored at 0.
    pub fn working_set(&self) -> u64 {
        self.current().saturating_sub(self.inactive_file())
    }

    /// Element-wise sum.
    pub fn add(&mut self, o: &MemoryUsage) {
        self.anon += o.anon;
        self.file += o.file;
        self.shmem += o.shmem;
        self.kernel_stack += o.kernel_stack;
        self.pagetables += o.pagetables;
        self.percpu += o.percpu;
        self.vmalloc += o.vmalloc;
        self.sock += o.sock;
        self.slab_reclaimable += o.slab_reclaimable;
        self.slab_unreclaimable += o.slab_unreclaimable;
    }
}

/// Monotonic event counters reported in memory.stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryCounters {
    pub pgfault: u64,
    pub pgmajfault: u64,
    pub pgscan: u64,
    pub pgsteal: u64,
    pub pgrefill: u64,
    pub pgactivate: u64,
    pub pgdeactivate: u64,
    pub workingset_refault_file: u64,
    pub workingset_activate_file: u64,
    pub workingset_restore_file: u64,
}

impl MemoryCounters {
    /// Element-wise sum.
    pub fn add(&mut self, o: &MemoryCounters) {
        self.pgfault += o.pgfault;
        self.pgmajfault += o.pgmajfault;
        self.pgscan += o.pgscan;
        self.pgsteal += o.pgsteal;
        self.pgrefill += o.pgrefill;
        self.pgactivate += o.pgactivate;
        self.pgdeactivate += o.pgdeactivate;
        self.workingset_refault_file += o.workingset_refault_file;
        self.workingset_activate_file += o.workingset_activate_file;
        self.workingset_restore_file += o.workingset_restore_file;
    }
}

/// Renders `memory.stat` with the key set and order of a 6.x kernel (no swap, THP off, one NUMA node).
pub fn render_memory_stat(u: &MemoryUsage, c: &MemoryCounters) -> String {
    let inactive_file = u.inactive_file();
    let active_file = u.file - u.shmem - inactive_file;
    // Without swap, anon pages are rarely aged; a quarter sits on the active list. shmem lives on the anon LRUs.
    let active_anon = (u.anon / 4) / PAGE * PAGE;
    let inactive_anon = u.anon - active_anon + u.shmem;
    let file_mapped = (u.file / 5) / PAGE * PAGE;
    let file_dirty = (u.file / 50) / PAGE * PAGE;
    let slab = u.slab_reclaimable + u.slab_unreclaimable;
    let rows: [(&str, u64); 59] = [
        ("anon", u.anon),
        ("file", u.file),
        ("kernel", u.kernel()),
        ("kernel_stack", u.kernel_stack),
        ("pagetables", u.pagetables),
        ("sec_pagetables", 0),
        ("percpu", u.percpu),
        ("sock", u.sock),
        ("vmalloc", u.vmalloc),
        ("shmem", u.shmem),
        ("zswap", 0),
        ("zswapped", 0),
        ("file_mapped", file_mapped),
        ("file_dirty", file_dirty),
        ("file_writeback", 0),
        ("swapcached", 0),
        ("anon_thp", 0),
        ("file_thp", 0),
        ("shmem_thp", 0),
        ("inactive_anon", inactive_anon),
        ("active_anon", active_anon),
        ("inactive_file", inactive_file),
        ("active_file", active_file),
        ("unevictable", 0),
        ("slab_reclaimable", u.slab_reclaimable),
        ("slab_unreclaimable", u.slab_unreclaimable),
        ("slab", slab),
        ("workingset_refault_anon", 0),
        ("workingset_refault_file", c.workingset_refault_file),
        ("workingset_activate_anon", 0),
        ("workingset_activate_file", c.workingset_activate_file),
        ("workingset_restore_anon", 0),
        ("workingset_restore_file", c.workingset_restore_file),
        ("workingset_nodereclaim", 0),
        ("pgdemote_kswapd", 0),
        ("pgdemote_direct", 0),
        ("pgdemote_khugepaged", 0),
        ("pgscan", c.pgscan),
        ("pgsteal", c.pgsteal),
        ("pgscan_kswapd", 0),
        ("pgscan_direct", c.pgscan),
        ("pgscan_khugepaged", 0),
        ("pgsteal_kswapd", 0),
        ("pgsteal_direct", c.pgsteal),
        ("pgsteal_khugepaged", 0),
        ("pgfault", c.pgfault),
        ("pgmajfault", c.pgmajfault),
        ("pgrefill", c.pgrefill),
        ("pgactivate", c.pgactivate),
        ("pgdeactivate", c.pgdeactivate),
        ("pglazyfree", 0),
        ("pglazyfreed", 0),
        ("zswpin", 0),
        ("zswpout", 0),
        ("zswpwb", 0),
        ("thp_fault_alloc", 0),
        ("thp_collapse_alloc", 0),
        ("thp_swpout", 0),
        ("thp_swpout_fallback", 0),
    ];
    let mut out = String::with_capacity(1400);
    for (k, v) in rows {
        let _ = writeln!(out, "{k} {v}");
    }
    out
}

/// `memory.events` counters (hierarchical in the file; `local` variants are not simulated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEvents {
    pub low: u64,
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
    pub oom_group_kill: u64,
}

impl MemoryEvents {
    /// Renders the flat keyed file.
    pub fn render(&self) -> String {
        format!(
            "low {}\nhigh {}\nmax {}\noom {}\noom_kill {}\noom_group_kill {}\n",
            self.low, self.high, self.max, self.oom, self.oom_kill, self.oom_group_kill
        )
    }

    /// Element-wise sum.
    pub fn add(&mut self, o: &MemoryEvents) {
        self.low += o.low;
        self.high += o.high;
        self.max += o.max;
        self.oom += o.oom;
        self.oom_kill += o.oom_kill;
        self.oom_group_kill += o.oom_group_kill;
    }
}

/// One PSI line: running averages (percent of wall time) and the cumulative stall total in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total: u64,
}

impl PsiLine {
    /// Adds `stall_us` of stall over a step of `dt_us`, decaying the averages like the kernel's EWMA windows.
    pub fn record(&mut self, stall_us: u64, dt_us: u64) {
        self.total += stall_us;
        if dt_us == 0 {
            return;
        }
        let pct = (stall_us as f64 / dt_us as f64 * 100.0).min(100.0);
        let dt = dt_us as f64 / 1e6;
        for (avg, window) in [
            (&mut self.avg10, 10.0),
            (&mut self.avg60, 60.0),
            (&mut self.avg300, 300.0),
        ] {
            let keep = (-dt / window).exp();
            *avg = *avg * keep + pct * (1.0 - keep);
        }
    }
}

/// `cpu.pressure` / `memory.pressure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Psi {
    pub some: PsiLine,
    pub full: PsiLine,
}

impl Psi {
    /// Renders the two nested keyed lines.
    pub fn render(&self) -> String {
        let line = |name: &str, l: &PsiLine| {
            format!(
                "{name} avg10={:.2} avg60={:.2} avg300={:.2} total={}\n",
                l.avg10, l.avg60, l.avg300, l.total
            )
        };
        format!("{}{}", line("some", &self.some), line("full", &self.full))
    }
}

/// Parses a flat keyed file into pairs. Used by tests and by readers of the simulator's output.
pub fn parse_flat_keyed(text: &str) -> Option<Vec<(String, u64)>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cpu_max_and_weight() {
        assert_eq!(render_cpu_max(Some(500)), "50000 100000\n");
        assert_eq!(render_cpu_max(Some(2000)), "200000 100000\n");
        assert_eq!(render_cpu_max(Some(5)), "1000 100000\n");
        assert_eq!(render_cpu_max(None), "max 100000\n");
        assert_eq!(cpu_shares(1000), 1024);
        assert_eq!(cpu_shares(1), 2);
        assert_eq!(cpu_weight(1024, WeightFormula::Quadratic), 100);
        assert_eq!(cpu_weight(2000, WeightFormula::Quadratic), 170);
        assert_eq!(cpu_weight(2, WeightFormula::Quadratic), 1);
        assert_eq!(cpu_weight(262_144, WeightFormula::Quadratic), 10_000);
        assert_eq!(cpu_weight(1024, WeightFormula::Linear), 39);
        assert_eq!(cpu_weight(2000, WeightFormula::Linear), 77);
        assert_eq!(render_limit(Some(4096)), "4096\n");
        assert_eq!(render_limit(None), "max\n");
    }

    #[test]
    fn cpu_stat_format() {
        let s = CpuStat {
            usage_usec: 10,
            user_usec: 8,
            system_usec: 2,
            nr_periods: 3,
            ..Default::default()
        };
        assert_eq!(
            s.render(),
            "usage_usec 10\nuser_usec 8\nsystem_usec 2\nnr_periods 3\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n"
        );
    }

    #[test]
    fn psi_format() {
        let mut p = Psi::default();
        p.some.record(50_000, 100_000);
        let text = p.render();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("some avg10=0.50 avg60=0.08 avg300=0.02 total=50000"),
            "{first}"
        );
        assert!(text.ends_with("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"));
    }

    proptest! {
        #[test]
        fn memory_stat_is_consistent(anon in 0u64..1<<22, file in 0u64..1<<22, ks in 0u64..64, slab in 0u64..512) {
            let u = MemoryUsage {
                anon: anon * PAGE, file: file * PAGE, kernel_stack: ks * 4 * PAGE,
                slab_unreclaimable: slab * PAGE, ..Default::default()
            };
            let text = render_memory_stat(&u, &MemoryCounters::default());
            let kv = parse_flat_keyed(&text).expect("flat keyed");
            let get = |k: &str| kv.iter().find(|(n, _)| n == k).map(|(_, v)| *v).expect(k);
            prop_assert_eq!(kv.len(), 59);
            prop_assert_eq!(get("inactive_file") + get("active_file"), get("file"));
            prop_assert_eq!(get("inactive_anon") + get("active_anon"), get("anon") + get("shmem"));
            prop_assert_eq!(get("kernel"), u.kernel());
            prop_assert!(u.working_set() <= u.current());
        }

        #[test]
        fn parse_flat_keyed_never_panics(s in "\\PC{0,200}") {
            let _ = parse_flat_keyed(&s);
        }
    }
}
