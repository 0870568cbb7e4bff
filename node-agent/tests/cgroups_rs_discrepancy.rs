//! Why the agent has its own parsers: cgroups-rs 0.5.1 reading the same cgroup v2 files as the agent, field by
//! field. Each assertion pins a discrepancy (printed with `--nocapture`); if a future cgroups-rs fixes one, the
//! test fails and the README's sentence about it must be revisited.

use std::path::PathBuf;

use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::memory::MemController;
use tailor_node_agent::cgroup::{CgroupFiles, FileMode, ReadError};
use tailor_node_agent::discovery::{Driver, Qos};
use tailor_node_agent::fixture::{FixtureStats, FixtureTree, Runtime, container_id, pod_uid};

fn leaf() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = FixtureTree::new(tmp.path(), Driver::Systemd, Runtime::Containerd).expect("tree");
    let stats = FixtureStats::default();
    let dir = tree
        .add_container(&pod_uid(1), Qos::Burstable, &container_id(0xa0, 1), &stats)
        .expect("leaf");
    std::fs::write(dir.join("memory.swap.current"), "4096\n").expect("swap");
    (tmp, dir)
}

#[test]
fn cgroups_rs_misreads_v2_files_the_agent_reads_correctly() {
    let (tmp, dir) = leaf();
    let ours = CgroupFiles::open(&dir, FileMode::Reopen)
        .expect("open")
        .sample(&mut Vec::new(), true)
        .expect("sample");
    let mem = MemController::new(dir.clone(), tmp.path().to_path_buf(), true).memory_stat();
    let cpu = CpuController::new(dir.clone(), tmp.path().to_path_buf(), true).cpu();

    println!("field                      agent            cgroups-rs 0.5.1");
    println!(
        "anon (v1 name rss)         {:<16} {}",
        ours.memory_stat.anon, mem.stat.rss
    );
    println!(
        "file (v1 name cache)       {:<16} {}",
        ours.memory_stat.file, mem.stat.cache
    );
    println!(
        "swap.current               {:<16} swappiness={} swap={}",
        4096, mem.swappiness, mem.stat.swap
    );
    println!(
        "cpu usage_usec             {:<16} (raw cpu.stat string only)",
        ours.cpu.usage_usec
    );
    println!("oom_kill / PSI             read             not read");

    // v2 `anon`/`file` land only in the raw map; the typed v1 fields stay 0.
    assert_eq!(ours.memory_stat.anon, 120 << 20);
    assert_eq!(mem.stat.rss, 0);
    assert_eq!(mem.stat.cache, 0);
    assert_eq!(mem.stat.raw.get("anon"), Some(&(120 << 20)));
    // memory.swap.current is stored in a field named `swappiness`.
    assert_eq!(mem.swappiness, 4096);
    assert_eq!(mem.stat.swap, 0);
    // cpu.stat is handed back unparsed.
    assert!(cpu.stat.contains("usage_usec 1000000"));
    // What it does read correctly agrees with the agent (so the comparison above is about the same files).
    assert_eq!(mem.usage_in_bytes, ours.memory_current);
    assert_eq!(Some(mem.max_usage_in_bytes), ours.memory_peak);
    assert_eq!(mem.stat.inactive_file, ours.memory_stat.inactive_file);
}

#[test]
fn cgroups_rs_turns_malformed_content_into_zero_where_the_agent_reports_an_error() {
    let (tmp, dir) = leaf();
    std::fs::write(dir.join("memory.current"), "garbage\n").expect("corrupt");
    let mem = MemController::new(dir.clone(), tmp.path().to_path_buf(), true).memory_stat();
    println!(
        "malformed memory.current: cgroups-rs usage_in_bytes = {}",
        mem.usage_in_bytes
    );
    assert_eq!(
        mem.usage_in_bytes, 0,
        "silently zero: a recommender would see a container using no memory"
    );
    let err = CgroupFiles::open(&dir, FileMode::Reopen)
        .expect("open")
        .sample(&mut Vec::new(), true)
        .expect_err("error");
    assert!(
        matches!(
            err,
            ReadError::Parse {
                file: "memory.current",
                ..
            }
        ),
        "{err}"
    );
}
