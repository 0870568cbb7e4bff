//! Property tests of the cgroup file parsers: arbitrary input never panics, and well-formed files written in
//! any key order, with unknown keys, parse back to the values written.

use proptest::prelude::*;
use tailor_node_agent::cgroup::parse::{
    ParseError, for_each_flat_bytes, parse_cpu_max, parse_cpu_max_bytes, parse_max_or_u64,
    parse_max_or_u64_bytes, parse_single_u64, parse_single_u64_bytes,
};
use tailor_node_agent::cgroup::stats::{CpuStat, MemoryEvents, MemoryStat, Pressure};

fn hundredths(h: u32) -> String {
    format!("{}.{:02}", h / 100, h % 100)
}

/// One `KEY VALUE` line, owned.
type Pair = (Vec<u8>, Vec<u8>);

/// The flat-keyed format by its definition, written the slow obvious way: lines split on `\n`, blank ones
/// skipped, every other one exactly `KEY VALUE` with one space and both sides non-empty.
fn flat_reference(content: &[u8]) -> Result<Vec<Pair>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in content.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        match fields.as_slice() {
            [k, v] if !k.is_empty() && !v.is_empty() => out.push((k.to_vec(), v.to_vec())),
            _ => return Err(ParseError::BadLine { line: i + 1 }),
        }
    }
    if out.is_empty() {
        Err(ParseError::Empty)
    } else {
        Ok(out)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The sampler's one-pass line scanner against the definition, on inputs made of the bytes that
    /// matter (separators and line ends) so that blank lines, doubled and leading spaces occur often.
    #[test]
    fn flat_scanner_matches_its_definition(
        b in prop::collection::vec(prop::sample::select(vec![b'a', b'7', b' ', b'\n', b'\t']), 0..64),
    ) {
        let mut seen = Vec::new();
        let got = for_each_flat_bytes(&b, |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .map(|()| seen);
        prop_assert_eq!(got, flat_reference(&b));
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC*") {
        let _ = CpuStat::parse(&s);
        let _ = MemoryStat::parse(&s);
        let _ = MemoryEvents::parse(&s);
        let _ = Pressure::parse(&s);
        let _ = parse_cpu_max(&s);
        let _ = parse_single_u64("memory.current", &s);
        let _ = parse_max_or_u64("memory.max", &s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = CpuStat::parse_bytes(&b);
        let _ = MemoryStat::parse_bytes(&b);
        let _ = MemoryEvents::parse_bytes(&b);
        let _ = Pressure::parse_bytes(&b);
        let _ = parse_cpu_max_bytes(&b);
        let _ = parse_single_u64_bytes("memory.current", &b);
        let _ = parse_max_or_u64_bytes("memory.max", &b);
    }

    /// The byte parsers (the sampler's path) and the text parsers agree on every text input, valid or not.
    #[test]
    fn byte_and_text_parsers_agree(
        lines in prop::collection::vec(("[a-z_]{0,14}", "[ =.0-9a-z-]{0,24}"), 0..12),
        known in prop::collection::vec((0usize..8, any::<u64>()), 0..8),
    ) {
        let keys = ["usage_usec", "nr_periods", "anon", "file", "inactive_file", "oom_kill", "some", "full"];
        let mut s: String = lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        for (k, v) in &known {
            s.push_str(&format!("{} {v}\n", keys[*k]));
        }
        let b = s.as_bytes();
        prop_assert_eq!(CpuStat::parse(&s), CpuStat::parse_bytes(b));
        prop_assert_eq!(MemoryStat::parse(&s), MemoryStat::parse_bytes(b));
        prop_assert_eq!(MemoryEvents::parse(&s), MemoryEvents::parse_bytes(b));
        prop_assert_eq!(Pressure::parse(&s), Pressure::parse_bytes(b));
        prop_assert_eq!(parse_cpu_max(&s), parse_cpu_max_bytes(b));
    }

    #[test]
    fn cgroup_shaped_noise_never_panics(
        lines in prop::collection::vec(("[a-z_]{0,12}", "[ =.0-9a-z-]{0,24}"), 0..12)
    ) {
        let s: String = lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        let _ = CpuStat::parse(&s);
        let _ = MemoryStat::parse(&s);
        let _ = MemoryEvents::parse(&s);
        let _ = Pressure::parse(&s);
        let _ = parse_cpu_max(&s);
    }

    #[test]
    fn cpu_stat_round_trips_in_any_order(
        vals in prop::array::uniform6(any::<u64>()),
        extra in prop::collection::vec(("[a-z_.]{1,20}", any::<u64>()), 0..6),
        seed in any::<u64>(),
        trailing_newline in any::<bool>(),
    ) {
        let keys = ["usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec"];
        let mut lines: Vec<String> = keys.iter().zip(vals).map(|(k, v)| format!("{k} {v}")).collect();
        for (k, v) in &extra {
            if !keys.contains(&k.as_str()) {
                lines.push(format!("{k} {v}"));
            }
        }
        shuffle(&mut lines, seed);
        let mut s = lines.join("\n");
        if trailing_newline { s.push('\n'); }
        let p = CpuStat::parse(&s).expect("well-formed cpu.stat parses");
        prop_assert_eq!(
            [p.usage_usec, p.user_usec, p.system_usec, p.nr_periods, p.nr_throttled, p.throttled_usec],
            vals
        );
    }

    #[test]
    fn memory_stat_and_events_round_trip(anon in any::<u64>(), file in any::<u64>(), inactive in any::<u64>(),
                                         oom_kill in any::<u64>(), seed in any::<u64>()) {
        let mut lines = vec![
            format!("anon {anon}"), format!("file {file}"), format!("inactive_file {inactive}"),
            "pgfault 12".to_owned(), "some_future_key 3".to_owned(),
        ];
        shuffle(&mut lines, seed);
        let m = MemoryStat::parse(&lines.join("\n")).expect("parses");
        prop_assert_eq!((m.anon, m.file, m.inactive_file), (anon, file, inactive));
        let e = MemoryEvents::parse(&format!("low 0\nhigh 1\nmax 2\noom 3\noom_kill {oom_kill}\n")).expect("parses");
        prop_assert_eq!(e.oom_kill, oom_kill);
    }

    #[test]
    fn pressure_round_trips(a in prop::array::uniform6(0u32..=10_000), some_total in any::<u64>(),
                            full_total in any::<u64>(), with_full in any::<bool>()) {
        let mut s = format!("some avg10={} avg60={} avg300={} total={some_total}\n",
                            hundredths(a[0]), hundredths(a[1]), hundredths(a[2]));
        if with_full {
            s.push_str(&format!("full avg10={} avg60={} avg300={} total={full_total}\n",
                                hundredths(a[3]), hundredths(a[4]), hundredths(a[5])));
        }
        let p = Pressure::parse(&s).expect("parses");
        prop_assert_eq!((p.some.avg10, p.some.avg60, p.some.avg300, p.some.total_usec), (a[0], a[1], a[2], some_total));
        prop_assert_eq!(p.full.map(|f| (f.avg10, f.total_usec)), with_full.then_some((a[3], full_total)));
    }

    #[test]
    fn cpu_max_round_trips(quota in prop::option::of(any::<u64>()), period in 1u64..=1_000_000) {
        let q = quota.map_or_else(|| "max".to_owned(), |q| q.to_string());
        let m = parse_cpu_max(&format!("{q} {period}\n")).expect("parses");
        prop_assert_eq!((m.quota_usec, m.period_usec), (quota, period));
        prop_assert_eq!(m.millicores(), quota.map(|q| q.saturating_mul(1000) / period));
    }
}

/// Deterministic Fisher–Yates with a splitmix step, so failures shrink and replay.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = usize::try_from(z % (i as u64 + 1)).unwrap_or(0);
        v.swap(i, j);
    }
}
