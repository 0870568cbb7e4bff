//! The sampler on fixture trees with a fake clock: rates, working set, throttling and OOM deltas, counter
//! resets, vanished containers, malformed files and kernel variants.

use std::path::PathBuf;

use tailor_core::report::ContainerRef;
use tailor_core::report::{UrgentKind, cpu_bucket_for_millicores};
use tailor_node_agent::cgroup::FileMode;
use tailor_node_agent::discovery::{Driver, Qos, Target};
use tailor_node_agent::fixture::{
    FixtureStats, FixtureTree, Runtime, container_id, pod_uid, write_stats,
};
use tailor_node_agent::sampler::{Sampler, SamplerConfig};

const T0: i64 = 1_800_000_000_000;
const SEC: u64 = 1_000_000;

struct Fx {
    _tmp: tempfile::TempDir,
    dirs: Vec<PathBuf>,
    targets: Vec<Target>,
}

fn setup(n: u32, stats: &FixtureStats) -> Fx {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = FixtureTree::new(tmp.path(), Driver::Systemd, Runtime::Containerd).expect("tree");
    let mut dirs = Vec::new();
    let mut targets = Vec::new();
    for i in 0..n {
        let uid = pod_uid(i);
        let id = container_id(0xa0, i);
        let dir = tree
            .add_container(&uid, Qos::Burstable, &id, stats)
            .expect("container");
        targets.push(Target {
            container: ContainerRef {
                namespace: "ns".into(),
                pod: format!("p{i}"),
                pod_uid: uid,
                container: "app".into(),
                container_id: id,
            },
            dir: dir.clone(),
            qos: Qos::Burstable,
            started_ms: Some(T0 - 3_600_000),
        });
        dirs.push(dir);
    }
    Fx {
        _tmp: tmp,
        dirs,
        targets,
    }
}

fn sampler(mode: FileMode) -> Sampler {
    Sampler::new(SamplerConfig {
        file_mode: mode,
        max_millicores: 64_000,
        slow_every: 1,
        ..SamplerConfig::default()
    })
}

fn rates_and_summary(mode: FileMode) {
    let base = FixtureStats::default();
    let fx = setup(1, &base);
    let mut s = sampler(mode);
    assert_eq!(s.sync(fx.targets.clone(), T0), 0);
    let out = s.sweep(T0, 0);
    assert_eq!(out.sampled, 1);
    // One second later: 250 ms of CPU, 10 more periods of which 6 throttled, more memory.
    let next = FixtureStats {
        usage_usec: base.usage_usec + 250_000,
        nr_periods: base.nr_periods + 10,
        nr_throttled: base.nr_throttled + 6,
        throttled_usec: base.throttled_usec + 30_000,
        memory_current: 300 << 20,
        inactive_file: 50 << 20,
        psi_some_total: base.psi_some_total + 20_000,
        ..base
    };
    // An in-place rewrite (same inode), which kept descriptors see, as they see the kernel's regenerated content.
    write_stats(&fx.dirs[0], &next).expect("rewrite");
    let out = s.sweep(T0 + 1_000, SEC);
    assert_eq!(out.sampled, 1);
    // 6 of 10 periods throttled ≥ 50 %: a burst event.
    assert_eq!(out.events.len(), 1, "{:?}", out.events);
    assert!(matches!(
        out.events[0].kind,
        UrgentKind::ThrottlingBurst { .. }
    ));

    let reports = s.take_reports(T0 + 1_000);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    r.validate().expect("valid");
    assert_eq!(r.samples, 2);
    assert_eq!(r.cpu.usage_usec, 250_000);
    assert_eq!(r.cpu.max_millicores, 250);
    assert_eq!(
        r.cpu.histogram.get(&cpu_bucket_for_millicores(250)),
        Some(&1)
    );
    assert_eq!(r.cpu.throttling.nr_throttled, 6);
    assert_eq!(r.cpu.limit_millicores, Some(500));
    assert_eq!(r.memory.working_set_last_bytes, 250 << 20);
    assert_eq!(r.memory.working_set_peak_bytes, 250 << 20);
    assert_eq!(r.memory.current_peak_bytes, 300 << 20);
    assert_eq!(r.memory.kernel_peak_bytes, Some(250 << 20));
    assert_eq!(r.memory.limit_bytes, Some(512 << 20));
    assert_eq!(r.cpu.pressure.map(|p| p.some_usec), Some(20_000));
    assert_eq!(
        r.cpu.pressure.map(|p| p.some_avg10_max_hundredths),
        Some(125)
    );
    assert!(!r.startup, "started an hour ago");
    assert_eq!(r.interval_start_ms, T0);
    assert_eq!(r.interval_end_ms, T0 + 1_000);
    // The next interval starts empty.
    assert!(s.take_reports(T0 + 2_000).is_empty());
}

#[test]
fn rates_and_summary_reopen() {
    rates_and_summary(FileMode::Reopen);
}

#[test]
fn rates_and_summary_keep_open() {
    rates_and_summary(FileMode::KeepOpen);
}

#[test]
fn oom_kill_is_an_event_and_a_counter() {
    let fx = setup(1, &FixtureStats::default());
    let mut s = sampler(FileMode::Reopen);
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0);
    write_stats(
        &fx.dirs[0],
        &FixtureStats {
            oom_kill: 1,
            ..FixtureStats::default()
        },
    )
    .expect("rewrite");
    let out = s.sweep(T0 + 1_000, SEC);
    let oom = out
        .events
        .iter()
        .find(|e| matches!(e.kind, UrgentKind::OomKill { .. }))
        .expect("oom event");
    assert_eq!(
        oom.kind,
        UrgentKind::OomKill {
            count: 1,
            limit_bytes: Some(512 << 20),
            peak_bytes: 250 << 20
        }
    );
    // The pod status reporting the same kill later does not repeat it.
    assert!(
        s.status_oom(fx.targets[0].container.clone(), T0 + 1_500)
            .is_none()
    );
    let reports = s.take_reports(T0 + 2_000);
    assert_eq!(reports[0].memory.oom_kills, 1);
}

#[test]
fn counter_reset_never_gives_negative_or_huge_rates() {
    let big = FixtureStats {
        usage_usec: 900 * SEC,
        nr_periods: 10_000,
        nr_throttled: 500,
        oom_kill: 3,
        ..FixtureStats::default()
    };
    let fx = setup(1, &big);
    let mut s = sampler(FileMode::Reopen);
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0);
    // The cgroup is recreated under the same path: every counter starts again near zero.
    write_stats(
        &fx.dirs[0],
        &FixtureStats {
            usage_usec: 10_000,
            nr_periods: 1,
            nr_throttled: 0,
            oom_kill: 0,
            ..FixtureStats::default()
        },
    )
    .expect("rewrite");
    let out = s.sweep(T0 + 1_000, SEC);
    assert!(out.events.is_empty(), "{:?}", out.events);
    // Then normal growth resumes from the new baseline.
    write_stats(
        &fx.dirs[0],
        &FixtureStats {
            usage_usec: 110_000,
            nr_periods: 1,
            nr_throttled: 0,
            oom_kill: 0,
            ..FixtureStats::default()
        },
    )
    .expect("rewrite");
    s.sweep(T0 + 2_000, 2 * SEC);
    let r = &s.take_reports(T0 + 2_000)[0];
    r.validate().expect("valid");
    assert_eq!(
        r.cpu.usage_usec, 100_000,
        "only the post-reset growth counts"
    );
    assert_eq!(r.cpu.max_millicores, 100);
    assert_eq!(r.cpu.histogram.values().sum::<u32>(), 1);
    assert_eq!(r.memory.oom_kills, 0);
}

#[test]
fn vanished_container_leaves_quietly_and_keeps_its_summary() {
    let fx = setup(2, &FixtureStats::default());
    let mut s = sampler(FileMode::Reopen);
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0);
    std::fs::remove_dir_all(&fx.dirs[1]).expect("remove");
    let out = s.sweep(T0 + 1_000, SEC);
    assert_eq!(
        (out.sampled, out.vanished, out.parse_errors, out.io_errors),
        (1, 1, 0, 0)
    );
    assert_eq!(s.len(), 1);
    let reports = s.take_reports(T0 + 1_000);
    assert_eq!(
        reports.len(),
        2,
        "the departed container's sample still reaches the next report"
    );
    for r in &reports {
        r.validate().expect("valid");
    }
}

#[test]
fn malformed_file_skips_the_sample_and_is_counted() {
    let fx = setup(1, &FixtureStats::default());
    let mut s = sampler(FileMode::Reopen);
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0);
    std::fs::write(
        fx.dirs[0].join("memory.stat"),
        "anon twelve\nfile 1\ninactive_file 0\n",
    )
    .expect("corrupt");
    let out = s.sweep(T0 + 1_000, SEC);
    assert_eq!((out.sampled, out.parse_errors), (0, 1));
    std::fs::write(fx.dirs[0].join("cpu.stat"), [0xff, 0xfe, 0x00]).expect("corrupt");
    let out = s.sweep(T0 + 2_000, 2 * SEC);
    assert_eq!(out.parse_errors, 1);
    assert_eq!(s.len(), 1, "a bad file does not drop the container");
    write_stats(
        &fx.dirs[0],
        &FixtureStats {
            usage_usec: 1_500_000,
            ..FixtureStats::default()
        },
    )
    .expect("repair");
    let out = s.sweep(T0 + 3_000, 3 * SEC);
    assert_eq!(out.sampled, 1);
    let r = &s.take_reports(T0 + 3_000)[0];
    assert_eq!(r.samples, 2);
    // The rate spans the whole gap since the last good sample: 500 ms over 3 s.
    assert_eq!(r.cpu.max_millicores, 166);
}

#[test]
fn kernel_variants_without_peak_psi_full_or_limits() {
    let old = FixtureStats {
        memory_peak: None,
        memory_max: None,
        cpu_max: None,
        legacy_cpu_psi: true,
        inactive_file: 900 << 20, // more than memory.current: working set floors at 0
        ..FixtureStats::default()
    };
    let fx = setup(1, &old);
    let mut s = sampler(FileMode::Reopen);
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0);
    write_stats(&fx.dirs[0], &FixtureStats { psi: false, ..old }).expect("rewrite without PSI");
    let out = s.sweep(T0 + 1_000, SEC);
    assert_eq!(out.sampled, 1);
    let r = &s.take_reports(T0 + 1_000)[0];
    r.validate().expect("valid");
    assert_eq!(r.memory.kernel_peak_bytes, None);
    assert_eq!(r.memory.limit_bytes, None);
    assert_eq!(r.cpu.limit_millicores, None);
    assert_eq!(r.memory.working_set_peak_bytes, 0);
}

#[test]
fn startup_phase_follows_the_start_time() {
    let fx = setup(1, &FixtureStats::default());
    let mut targets = fx.targets.clone();
    targets[0].started_ms = Some(T0 - 60_000);
    let mut s = sampler(FileMode::Reopen);
    s.sync(targets, T0);
    s.sweep(T0, 0);
    assert!(
        s.take_reports(T0)[0].startup,
        "one minute in, default window five minutes"
    );
    s.sweep(T0 + 300_000, 300 * SEC);
    assert!(!s.take_reports(T0 + 300_000)[0].startup);
}

#[test]
fn slow_files_are_read_on_their_cadence_and_fast_files_every_time() {
    let fx = setup(1, &FixtureStats::default());
    let mut s = Sampler::new(SamplerConfig {
        file_mode: FileMode::Reopen,
        slow_every: 3,
        ..SamplerConfig::default()
    });
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0); // full read
    let changed = FixtureStats {
        usage_usec: 1_100_000,
        memory_max: Some(1 << 30),
        psi_some_total: 501_000,
        oom_kill: 1,
        ..FixtureStats::default()
    };
    write_stats(&fx.dirs[0], &changed).expect("rewrite");
    let out = s.sweep(T0 + 1_000, SEC); // fast read: usage and OOM seen at once, limit and PSI not yet
    assert_eq!(
        out.events.len(),
        1,
        "OOM kills are never delayed by the slow cadence"
    );
    let r = &s.take_reports(T0 + 1_000)[0];
    assert_eq!(
        (r.cpu.usage_usec, r.memory.limit_bytes),
        (100_000, Some(512 << 20))
    );
    assert_eq!(r.cpu.pressure.map(|p| p.some_usec), Some(0));
    s.sweep(T0 + 2_000, 2 * SEC); // fast
    s.sweep(T0 + 3_000, 3 * SEC); // full again
    let r = &s.take_reports(T0 + 3_000)[0];
    assert_eq!(r.memory.limit_bytes, Some(1 << 30));
    assert_eq!(
        r.cpu.pressure.map(|p| p.some_usec),
        Some(500_000),
        "PSI totals catch up in one delta"
    );
}

#[test]
fn files_replaced_by_rename_are_read_anew_in_reopen_mode() {
    // Writers that replace files by rename (the simulated kubelet) leave kept descriptors on the old inode;
    // re-open mode notices (link count 0) and reads the file now under the name.
    let fx = setup(1, &FixtureStats::default());
    let mut s = sampler(FileMode::Reopen);
    s.sync(fx.targets.clone(), T0);
    s.sweep(T0, 0);
    let staged = tempfile::tempdir_in(fx.dirs[0].parent().expect("pod dir")).expect("staging dir");
    let next = FixtureStats {
        usage_usec: FixtureStats::default().usage_usec + 400_000,
        memory_current: 300 << 20,
        ..FixtureStats::default()
    };
    write_stats(staged.path(), &next).expect("staged files");
    for name in ["cpu.stat", "memory.current"] {
        std::fs::rename(staged.path().join(name), fx.dirs[0].join(name)).expect("rename");
    }
    let out = s.sweep(T0 + 1_000, SEC);
    assert_eq!(out.sampled, 1);
    let r = &s.take_reports(T0 + 1_000)[0];
    assert_eq!(r.cpu.usage_usec, 400_000);
    assert_eq!(r.memory.current_peak_bytes, 300 << 20);
    // Renamed again: the re-opened descriptor is itself checked.
    let later = FixtureStats {
        usage_usec: next.usage_usec + 100_000,
        ..next
    };
    write_stats(staged.path(), &later).expect("staged files");
    std::fs::rename(staged.path().join("cpu.stat"), fx.dirs[0].join("cpu.stat")).expect("rename");
    s.sweep(T0 + 2_000, 2 * SEC);
    assert_eq!(s.take_reports(T0 + 2_000)[0].cpu.usage_usec, 100_000);
}
