//! Feeds arbitrary bytes to every cgroup file parser. The first byte picks the parser so the corpus for each
//! file shape evolves separately; any panic is a bug. The byte parsers (what the sampler runs on file content)
//! get the raw input; where it is UTF-8, the text parsers must agree with them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tailor_node_agent::cgroup::parse::{
    parse_cpu_max, parse_cpu_max_bytes, parse_max_or_u64, parse_max_or_u64_bytes, parse_single_u64,
    parse_single_u64_bytes,
};
use tailor_node_agent::cgroup::stats::{CpuStat, MemoryEvents, MemoryStat, Pressure};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = std::str::from_utf8(rest).ok();
    match which % 7 {
        0 => {
            let b = CpuStat::parse_bytes(rest);
            if let Some(t) = text {
                assert_eq!(b, CpuStat::parse(t));
            }
        }
        1 => {
            let b = MemoryStat::parse_bytes(rest);
            if let Some(t) = text {
                assert_eq!(b, MemoryStat::parse(t));
            }
        }
        2 => {
            let b = MemoryEvents::parse_bytes(rest);
            if let Some(t) = text {
                assert_eq!(b, MemoryEvents::parse(t));
            }
        }
        3 => {
            let b = Pressure::parse_bytes(rest);
            if let Some(t) = text {
                assert_eq!(b, Pressure::parse(t));
            }
        }
        4 => {
            let b = parse_cpu_max_bytes(rest);
            if let Some(t) = text {
                assert_eq!(b, parse_cpu_max(t));
            }
        }
        5 => {
            let b = parse_single_u64_bytes("memory.current", rest);
            if let Some(t) = text {
                assert_eq!(b, parse_single_u64("memory.current", t));
            }
        }
        _ => {
            let b = parse_max_or_u64_bytes("memory.max", rest);
            if let Some(t) = text {
                assert_eq!(b, parse_max_or_u64("memory.max", t));
            }
        }
    }
});
