//! Typed views of the cgroup v2 files the agent samples, built on the generic parsers in [`super::parse`].

use super::parse::{
    ParseError, for_each_flat_bytes, for_each_nested_bytes, parse_percent_hundredths_bytes,
    parse_u64_bytes,
};

/// `cpu.stat`. `usage_usec` is always there; the bandwidth counters only when the cpu controller is enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuStat {
    pub usage_usec: u64,
    pub user_usec: u64,
    pub system_usec: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_usec: u64,
}

impl CpuStat {
    /// Parses `cpu.stat`; `usage_usec` is required, the rest default to 0.
    pub fn parse(content: &str) -> Result<Self, ParseError> {
        Self::parse_bytes(content.as_bytes())
    }

    /// [`CpuStat::parse`] on the raw file content.
    pub fn parse_bytes(content: &[u8]) -> Result<Self, ParseError> {
        let mut s = Self::default();
        let mut have_usage = false;
        for_each_flat_bytes(content, |key, value| {
            let slot = match key {
                b"usage_usec" => {
                    have_usage = true;
                    &mut s.usage_usec
                }
                b"user_usec" => &mut s.user_usec,
                b"system_usec" => &mut s.system_usec,
                b"nr_periods" => &mut s.nr_periods,
                b"nr_throttled" => &mut s.nr_throttled,
                b"throttled_usec" => &mut s.throttled_usec,
                _ => return Ok(()),
            };
            *slot = parse_u64_bytes(key, value)?;
            Ok(())
        })?;
        if have_usage {
            Ok(s)
        } else {
            Err(ParseError::MissingKey("usage_usec"))
        }
    }
}

/// The `memory.stat` keys the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStat {
    pub anon: u64,
    pub file: u64,
    pub inactive_file: u64,
    pub active_file: u64,
    pub shmem: u64,
    pub kernel: u64,
}

impl MemoryStat {
    /// Parses `memory.stat`; `anon`, `file` and `inactive_file` are required (every v2 kernel has them).
    pub fn parse(content: &str) -> Result<Self, ParseError> {
        Self::parse_bytes(content.as_bytes())
    }

    /// [`MemoryStat::parse`] on the raw file content. Of the ~50 keys only six are looked at; the rest cost one
    /// scan of their line (the line shape is still checked, so a corrupt file is caught wherever it breaks).
    pub fn parse_bytes(content: &[u8]) -> Result<Self, ParseError> {
        let mut s = Self::default();
        let mut have = [false; 3];
        for_each_flat_bytes(content, |key, value| {
            let slot = match key {
                b"anon" => {
                    have[0] = true;
                    &mut s.anon
                }
                b"file" => {
                    have[1] = true;
                    &mut s.file
                }
                b"inactive_file" => {
                    have[2] = true;
                    &mut s.inactive_file
                }
                b"active_file" => &mut s.active_file,
                b"shmem" => &mut s.shmem,
                b"kernel" => &mut s.kernel,
                _ => return Ok(()),
            };
            *slot = parse_u64_bytes(key, value)?;
            Ok(())
        })?;
        for (present, key) in have.into_iter().zip(["anon", "file", "inactive_file"]) {
            if !present {
                return Err(ParseError::MissingKey(key));
            }
        }
        Ok(s)
    }
}

/// `memory.events` (hierarchical counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEvents {
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
}

impl MemoryEvents {
    /// Parses `memory.events`; `oom_kill` is required.
    pub fn parse(content: &str) -> Result<Self, ParseError> {
        Self::parse_bytes(content.as_bytes())
    }

    /// [`MemoryEvents::parse`] on the raw file content.
    pub fn parse_bytes(content: &[u8]) -> Result<Self, ParseError> {
        let mut s = Self::default();
        let mut have_oom_kill = false;
        for_each_flat_bytes(content, |key, value| {
            let slot = match key {
                b"high" => &mut s.high,
                b"max" => &mut s.max,
                b"oom" => &mut s.oom,
                b"oom_kill" => {
                    have_oom_kill = true;
                    &mut s.oom_kill
                }
                _ => return Ok(()),
            };
            *slot = parse_u64_bytes(key, value)?;
            Ok(())
        })?;
        if have_oom_kill {
            Ok(s)
        } else {
            Err(ParseError::MissingKey("oom_kill"))
        }
    }
}

/// One PSI line: averages in hundredths of a percent, cumulative stall time in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PsiLine {
    pub avg10: u32,
    pub avg60: u32,
    pub avg300: u32,
    pub total_usec: u64,
}

/// A PSI file (`cpu.pressure`, `memory.pressure`). `full` is absent on kernels before 5.13 for CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pressure {
    pub some: PsiLine,
    pub full: Option<PsiLine>,
}

impl Pressure {
    /// Parses a PSI file; the `some` line with its `total` is required.
    pub fn parse(content: &str) -> Result<Self, ParseError> {
        Self::parse_bytes(content.as_bytes())
    }

    /// [`Pressure::parse`] on the raw file content.
    pub fn parse_bytes(content: &[u8]) -> Result<Self, ParseError> {
        let mut some: Option<PsiLine> = None;
        let mut full: Option<PsiLine> = None;
        let mut some_total = false;
        for_each_nested_bytes(content, |key, sub, value| {
            let line = match key {
                b"some" => some.get_or_insert_with(PsiLine::default),
                b"full" => full.get_or_insert_with(PsiLine::default),
                _ => return Ok(()),
            };
            match sub {
                b"avg10" => line.avg10 = parse_percent_hundredths_bytes(sub, value)?,
                b"avg60" => line.avg60 = parse_percent_hundredths_bytes(sub, value)?,
                b"avg300" => line.avg300 = parse_percent_hundredths_bytes(sub, value)?,
                b"total" => {
                    line.total_usec = parse_u64_bytes(sub, value)?;
                    some_total |= key == b"some";
                }
                _ => {}
            }
            Ok(())
        })?;
        match some {
            Some(some) if some_total => Ok(Self { some, full }),
            _ => Err(ParseError::MissingKey("some total")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU_STAT: &str = "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnice_usec 0\n\
        core_sched.force_idle_usec 0\nnr_periods 100\nnr_throttled 7\nthrottled_usec 35000\nnr_bursts 0\n\
        burst_usec 0\n";

    #[test]
    fn cpu_stat_full_and_short() {
        let s = CpuStat::parse(CPU_STAT).expect("parses");
        assert_eq!(s.usage_usec, 2_000_000);
        assert_eq!(
            (s.nr_periods, s.nr_throttled, s.throttled_usec),
            (100, 7, 35_000)
        );
        let short = CpuStat::parse("usage_usec 5\nuser_usec 3\nsystem_usec 2").expect("parses");
        assert_eq!(
            short,
            CpuStat {
                usage_usec: 5,
                user_usec: 3,
                system_usec: 2,
                ..CpuStat::default()
            }
        );
        assert_eq!(
            CpuStat::parse("user_usec 3\n"),
            Err(ParseError::MissingKey("usage_usec"))
        );
        assert!(CpuStat::parse("usage_usec -3\n").is_err());
    }

    #[test]
    fn memory_stat_by_key_in_any_order() {
        let s = MemoryStat::parse(
            "pgfault 9\ninactive_file 40\nweird_new_key 1.5\nfile 100\nanon 200\nkernel 7\n",
        )
        .expect("parses");
        assert_eq!(
            s,
            MemoryStat {
                anon: 200,
                file: 100,
                inactive_file: 40,
                kernel: 7,
                ..MemoryStat::default()
            }
        );
        assert_eq!(
            MemoryStat::parse("anon 1\nfile 2\n"),
            Err(ParseError::MissingKey("inactive_file"))
        );
    }

    #[test]
    fn memory_events() {
        let e = MemoryEvents::parse("low 0\nhigh 3\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n")
            .expect("parses");
        assert_eq!(
            e,
            MemoryEvents {
                high: 3,
                max: 4,
                oom: 2,
                oom_kill: 1
            }
        );
        assert_eq!(
            MemoryEvents::parse("low 0\n"),
            Err(ParseError::MissingKey("oom_kill"))
        );
    }

    #[test]
    fn pressure_two_lines_and_legacy_one_line() {
        let p = Pressure::parse(
            "some avg10=1.50 avg60=0.75 avg300=0.10 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
        )
        .expect("parses");
        assert_eq!(
            p.some,
            PsiLine {
                avg10: 150,
                avg60: 75,
                avg300: 10,
                total_usec: 123_456
            }
        );
        assert_eq!(p.full.map(|f| f.total_usec), Some(42));
        let legacy =
            Pressure::parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=9").expect("parses");
        assert_eq!(legacy.full, None);
        assert_eq!(
            Pressure::parse("full avg10=0.00 total=1\n"),
            Err(ParseError::MissingKey("some total"))
        );
        assert!(Pressure::parse("some avg10=abc total=1\n").is_err());
    }
}
