//! Feeds arbitrary bytes to every cgroup file parser. The first byte picks the parser so the corpus for each
//! file shape evolves separately; any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tailor_node_agent::cgroup::parse::{parse_cpu_max, parse_max_or_u64, parse_single_u64};
use tailor_node_agent::cgroup::stats::{CpuStat, MemoryEvents, MemoryStat, Pressure};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which % 7 {
        0 => drop(CpuStat::parse(text)),
        1 => drop(MemoryStat::parse(text)),
        2 => drop(MemoryEvents::parse(text)),
        3 => drop(Pressure::parse(text)),
        4 => drop(parse_cpu_max(text)),
        5 => drop(parse_single_u64("memory.current", text)),
        _ => drop(parse_max_or_u64("memory.max", text)),
    }
});
