//! Limit enforcement: advances one container cgroup's counters over a step of wall time, given the workload's
//! demand and the cgroup limits, the way the kernel would.
//!
//! CPU: usage grows at `min(demand, quota rate)`. With a quota, every elapsed 100 ms period while the container
//! wants CPU counts in `nr_periods`; if demand exceeds the quota the container exhausts it in each period and
//! waits out the rest, so the period also counts in `nr_throttled` and the unused remainder of the period
//! counts in `throttled_usec` once per runqueue the container occupies (the kernel sums per-CPU throttle time,
//! which is why `throttled_usec` can exceed wall time). The same wait is CPU pressure: with every task stalled,
//! `some` and `full` both grow.
//!
//! Memory: anonymous memory plus kernel memory is unreclaimable; page cache is reclaimed first when usage would
//! pass `memory.max` (counted in `memory.events max`, `pgscan`/`pgsteal`, memory pressure). If the unreclaimable
//! part alone passes `memory.max` the OOM killer fires: `oom` and `oom_kill` grow and the step reports a kill.

use super::files::{
    CFS_PERIOD_US, CpuStat, MemoryCounters, MemoryEvents, MemoryUsage, PAGE, Psi, cpu_quota_us,
};
use serde::{Deserialize, Serialize};

/// What a workload wants right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// CPU the processes would use if unconstrained, in millicores.
    pub cpu_millis: u64,
    /// Anonymous (heap) memory the processes hold, in bytes.
    pub anon_bytes: u64,
    /// Page cache the workload would like to keep, in bytes (reclaimable).
    pub file_bytes: u64,
}

/// cgroup limits as written into `cpu.max` / `memory.max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub cpu_millis: Option<u64>,
    pub memory_bytes: Option<u64>,
}

/// Result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Running,
    /// The OOM killer killed the container's processes during this step.
    OomKilled,
}

/// All counters of one container cgroup. Counters only grow for the lifetime of the cgroup.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CgroupState {
    pub cpu: CpuStat,
    pub memory: MemoryUsage,
    pub counters: MemoryCounters,
    pub events: MemoryEvents,
    pub peak: u64,
    pub cpu_pressure: Psi,
    pub memory_pressure: Psi,
    /// CPU time in µs·millicores (usage_usec × 1000) so that integer rounding never loses time.
    usage_milli_us: u128,
    /// Position inside the current CFS period, in µs.
    period_phase_us: u64,
    /// CPU rate actually granted over the last step, in millicores (ground truth for readers).
    pub last_rate_millis: u64,
}

fn page_floor(b: u64) -> u64 {
    b / PAGE * PAGE
}

fn page_ceil(b: u64) -> u64 {
    b.div_ceil(PAGE) * PAGE
}

/// Kernel-side memory a process of this size carries: stacks, page tables, slab, percpu and socket buffers.
fn kernel_memory(anon: u64, cpu_millis: u64) -> MemoryUsage {
    let threads = 4 + cpu_millis / 250;
    MemoryUsage {
        kernel_stack: threads * 4 * PAGE,
        pagetables: page_ceil(anon / 512),
        percpu: 12 * PAGE,
        vmalloc: 0,
        sock: 4 * PAGE,
        slab_reclaimable: page_ceil(64 * PAGE + anon / 256),
        slab_unreclaimable: page_ceil(32 * PAGE + anon / 512),
        ..Default::default()
    }
}

impl CgroupState {
    /// Advances the cgroup by `dt_us` of wall time on an uncontended node. `node_cpus` bounds how many
    /// runqueues can throttle at once and the CPU the container can use.
    pub fn step(
        &mut self,
        demand: Demand,
        limits: Limits,
        dt_us: u64,
        node_cpus: u64,
    ) -> StepOutcome {
        self.step_shared(demand, limits, dt_us, node_cpus, node_cpus.max(1) * 1000)
    }

    /// Like [`CgroupState::step`], but the container gets at most `share_millis` of CPU because other
    /// containers compete for the node (its CFS share by `cpu.weight`). Waiting for a CPU is pressure
    /// (`some`), not throttling.
    pub fn step_shared(
        &mut self,
        demand: Demand,
        limits: Limits,
        dt_us: u64,
        node_cpus: u64,
        share_millis: u64,
    ) -> StepOutcome {
        self.step_cpu(
            demand.cpu_millis,
            limits.cpu_millis,
            dt_us,
            node_cpus.max(1),
            share_millis,
        );
        self.step_memory(demand, limits.memory_bytes, dt_us)
    }

    fn step_cpu(
        &mut self,
        wanted: u64,
        limit: Option<u64>,
        dt_us: u64,
        node_cpus: u64,
        share: u64,
    ) {
        let quota = cpu_quota_us(limit);
        // What the processes can actually run: contention caps it before the quota does.
        let demand = wanted.min(share).min(node_cpus * 1000);
        let contention_stall = if wanted > demand {
            u64::try_from(u128::from(dt_us) * u128::from(wanted - demand) / u128::from(wanted))
                .unwrap_or(dt_us)
        } else {
            0
        };
        let ceiling = quota.map_or(u64::MAX, |q| q * 1000 / CFS_PERIOD_US);
        let rate = demand.min(ceiling);
        self.last_rate_millis = rate;
        self.usage_milli_us += u128::from(rate) * u128::from(dt_us);
        let usage = u64::try_from(self.usage_milli_us / 1000).unwrap_or(u64::MAX);
        // Kernel time is a steady 15% of CPU time for these workloads; user + system == usage always holds.
        self.cpu.system_usec = usage * 15 / 100;
        self.cpu.user_usec = usage - self.cpu.system_usec;
        self.cpu.usage_usec = usage;

        let mut throttle_stall = 0;
        if let Some(quota) = quota {
            self.period_phase_us += dt_us;
            let periods = self.period_phase_us / CFS_PERIOD_US;
            self.period_phase_us %= CFS_PERIOD_US;
            let quota_rate = quota * 1000 / CFS_PERIOD_US;
            if periods > 0 && demand > 0 {
                self.cpu.nr_periods += periods;
                if demand > quota_rate {
                    // Running flat out at `demand`, the quota lasts quota × 1000 / demand µs of each period.
                    let run_wall = (quota * 1000).div_ceil(demand).min(CFS_PERIOD_US);
                    let wait_wall = CFS_PERIOD_US - run_wall;
                    let runqueues = demand.div_ceil(1000).clamp(1, node_cpus);
                    self.cpu.nr_throttled += periods;
                    self.cpu.throttled_usec += periods * wait_wall * runqueues;
                    throttle_stall = (periods * wait_wall).min(dt_us);
                }
            }
        } else {
            self.period_phase_us = 0;
        }
        // Throttled, every task waits (some and full); contended, some tasks wait (some only).
        self.cpu_pressure
            .some
            .record((throttle_stall + contention_stall).min(dt_us), dt_us);
        self.cpu_pressure.full.record(throttle_stall, dt_us);
    }

    fn step_memory(&mut self, demand: Demand, limit: Option<u64>, dt_us: u64) -> StepOutcome {
        let anon = page_ceil(demand.anon_bytes);
        let wanted_file = page_ceil(demand.file_bytes);
        let mut next = kernel_memory(anon, demand.cpu_millis);
        next.anon = anon;
        let unreclaimable = next.current();
        let prev = self.memory;

        if let Some(max) = limit
            && unreclaimable > max
        {
            // Reclaim drops all page cache, fails, and the OOM killer fires. Usage peaks at the limit.
            self.events.max += 1;
            self.events.oom += 1;
            self.events.oom_kill += 1;
            let reclaimed = prev.file / PAGE;
            self.counters.pgscan += reclaimed + reclaimed / 3 + 1;
            self.counters.pgsteal += reclaimed;
            self.peak = self.peak.max(page_floor(max));
            self.memory_pressure.some.record(dt_us / 2, dt_us);
            self.memory_pressure.full.record(dt_us / 4, dt_us);
            let mut killed = prev;
            killed.file = 0;
            self.memory = killed;
            return StepOutcome::OomKilled;
        }

        let room_for_file = limit.map_or(u64::MAX, |max| page_floor(max - unreclaimable));
        next.file = wanted_file.min(room_for_file);
        let mut stall = 0;
        if next.file < wanted_file {
            // Usage hit memory.max: direct reclaim keeps page cache below the limit.
            let reclaimed = (wanted_file - next.file) / PAGE;
            self.events.max += 1;
            self.counters.pgscan += reclaimed + reclaimed / 3 + 1;
            self.counters.pgsteal += reclaimed;
            self.counters.pgdeactivate += reclaimed / 2;
            self.counters.pgrefill += reclaimed / 2;
            self.counters.workingset_refault_file += reclaimed / 4;
            self.counters.workingset_activate_file += reclaimed / 8;
            self.counters.workingset_restore_file += reclaimed / 16;
            stall = dt_us / 20;
        }
        // Faults: one minor fault per newly touched page plus a steady trickle proportional to CPU time; major
        // faults when page cache has to be read back in.
        let new_anon_pages = anon.saturating_sub(prev.anon) / PAGE;
        let new_file_pages = next.file.saturating_sub(prev.file) / PAGE;
        let trickle = u64::try_from(u128::from(demand.cpu_millis) * u128::from(dt_us) / 20_000_000)
            .unwrap_or(0);
        self.counters.pgfault += new_anon_pages + new_file_pages + trickle;
        self.counters.pgmajfault += new_file_pages / 16;
        self.counters.pgactivate += new_file_pages / 4;
        self.memory = next;
        self.peak = self.peak.max(next.current());
        self.memory_pressure.some.record(stall, dt_us);
        self.memory_pressure.full.record(stall / 2, dt_us);
        StepOutcome::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u64 = 1_000_000;

    #[test]
    fn unthrottled_usage_is_exact() {
        let mut s = CgroupState::default();
        let d = Demand {
            cpu_millis: 300,
            anon_bytes: 10 << 20,
            file_bytes: 0,
        };
        for _ in 0..10 {
            s.step(
                d,
                Limits {
                    cpu_millis: Some(500),
                    memory_bytes: None,
                },
                SEC,
                4,
            );
        }
        assert_eq!(s.cpu.usage_usec, 3 * SEC);
        assert_eq!(s.cpu.nr_periods, 100);
        assert_eq!(s.cpu.nr_throttled, 0);
        assert_eq!(s.cpu.throttled_usec, 0);
        assert_eq!(s.cpu.user_usec + s.cpu.system_usec, s.cpu.usage_usec);
    }

    #[test]
    fn demand_over_limit_is_throttled() {
        let mut s = CgroupState::default();
        // 1.5 cores wanted, 500m allowed: quota lasts 1/3 of each period on 2 runqueues.
        let d = Demand {
            cpu_millis: 1500,
            anon_bytes: 0,
            file_bytes: 0,
        };
        s.step(
            d,
            Limits {
                cpu_millis: Some(500),
                memory_bytes: None,
            },
            10 * SEC,
            4,
        );
        assert_eq!(s.cpu.usage_usec, 5 * SEC);
        assert_eq!(s.cpu.nr_periods, 100);
        assert_eq!(s.cpu.nr_throttled, 100);
        let wait = CFS_PERIOD_US - (50_000u64 * 1000).div_ceil(1500);
        assert_eq!(s.cpu.throttled_usec, 100 * wait * 2);
        assert!(s.cpu_pressure.some.total > 0);
        assert_eq!(s.last_rate_millis, 500);
    }

    #[test]
    fn no_limit_means_no_bandwidth_stats_and_node_cap() {
        let mut s = CgroupState::default();
        s.step(
            Demand {
                cpu_millis: 9000,
                ..Default::default()
            },
            Limits::default(),
            SEC,
            4,
        );
        assert_eq!(s.cpu.usage_usec, 4 * SEC);
        assert_eq!(s.cpu.nr_periods, 0);
    }

    #[test]
    fn contention_caps_usage_and_is_pressure_not_throttling() {
        let mut s = CgroupState::default();
        let d = Demand {
            cpu_millis: 1000,
            ..Default::default()
        };
        s.step_shared(
            d,
            Limits {
                cpu_millis: Some(2000),
                memory_bytes: None,
            },
            SEC,
            4,
            400,
        );
        assert_eq!(s.cpu.usage_usec, 400_000);
        assert_eq!(s.cpu.nr_throttled, 0);
        assert_eq!(s.cpu_pressure.some.total, 600_000);
        assert_eq!(s.cpu_pressure.full.total, 0);
        // Contended below the quota: the quota is never exhausted, so no throttling either.
        let mut t = CgroupState::default();
        t.step_shared(
            d,
            Limits {
                cpu_millis: Some(500),
                memory_bytes: None,
            },
            SEC,
            4,
            300,
        );
        assert_eq!(t.cpu.usage_usec, 300_000);
        assert_eq!(t.cpu.nr_throttled, 0);
    }

    #[test]
    fn partial_periods_carry_over() {
        let mut s = CgroupState::default();
        let lim = Limits {
            cpu_millis: Some(100),
            memory_bytes: None,
        };
        for _ in 0..7 {
            s.step(
                Demand {
                    cpu_millis: 50,
                    ..Default::default()
                },
                lim,
                30_000,
                1,
            );
        }
        // 210 ms elapsed: two full periods.
        assert_eq!(s.cpu.nr_periods, 2);
    }

    #[test]
    fn page_cache_is_reclaimed_before_oom() {
        let mut s = CgroupState::default();
        let lim = Limits {
            cpu_millis: None,
            memory_bytes: Some(64 << 20),
        };
        let out = s.step(
            Demand {
                cpu_millis: 100,
                anon_bytes: 40 << 20,
                file_bytes: 40 << 20,
            },
            lim,
            SEC,
            2,
        );
        assert_eq!(out, StepOutcome::Running);
        assert!(s.memory.current() <= 64 << 20);
        assert!(s.memory.file > 0);
        assert_eq!(s.events.max, 1);
        assert_eq!(s.events.oom_kill, 0);
        assert!(s.counters.pgsteal > 0);
    }

    #[test]
    fn anon_over_limit_is_oom_killed() {
        let mut s = CgroupState::default();
        let lim = Limits {
            cpu_millis: None,
            memory_bytes: Some(64 << 20),
        };
        assert_eq!(
            s.step(
                Demand {
                    anon_bytes: 30 << 20,
                    ..Default::default()
                },
                lim,
                SEC,
                2
            ),
            StepOutcome::Running
        );
        assert_eq!(
            s.step(
                Demand {
                    anon_bytes: 70 << 20,
                    ..Default::default()
                },
                lim,
                SEC,
                2
            ),
            StepOutcome::OomKilled
        );
        assert_eq!(s.events.oom_kill, 1);
        assert_eq!(s.events.oom, 1);
        assert_eq!(s.peak, 64 << 20);
    }

    proptest! {
        #[test]
        fn counters_only_grow(steps in proptest::collection::vec((0u64..4000, 0u64..(256u64 << 20), 0u64..(64u64 << 20), 1u64..3_000_000), 1..40),
                              cpu_lim in proptest::option::of(1u64..4000), mem_lim in proptest::option::of((32u64 << 20)..(512u64 << 20))) {
            let mut s = CgroupState::default();
            let lim = Limits { cpu_millis: cpu_lim, memory_bytes: mem_lim };
            let mut total_dt = 0u128;
            let mut expected_milli = 0u128;
            for (cpu, anon, file, dt) in steps {
                let before = s.clone();
                let out = s.step(Demand { cpu_millis: cpu, anon_bytes: anon, file_bytes: file }, lim, dt, 4);
                prop_assert!(s.cpu.usage_usec >= before.cpu.usage_usec);
                prop_assert!(s.cpu.nr_periods >= before.cpu.nr_periods);
                prop_assert!(s.cpu.nr_throttled <= s.cpu.nr_periods);
                prop_assert!(s.cpu.throttled_usec >= before.cpu.throttled_usec);
                prop_assert!(s.counters.pgfault >= before.counters.pgfault);
                prop_assert!(s.events.oom_kill >= before.events.oom_kill);
                prop_assert!(s.peak >= before.peak);
                if let (Some(m), StepOutcome::Running) = (mem_lim, out) {
                    prop_assert!(s.memory.current() <= m);
                }
                total_dt += u128::from(dt);
                let cap = cpu_lim.map_or(4000, |l| (super::cpu_quota_us(Some(l)).unwrap_or(0) * 1000 / CFS_PERIOD_US).min(4000));
                expected_milli += u128::from(cpu.min(cap)) * u128::from(dt);
            }
            prop_assert_eq!(u128::from(s.cpu.usage_usec), expected_milli / 1000);
            prop_assert!(u128::from(s.cpu.nr_periods) <= total_dt / u128::from(CFS_PERIOD_US));
        }
    }
}
