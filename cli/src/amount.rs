//! The two resource amounts the report handles, behind one small trait so the savings math and the
//! formatting are written once for CPU and memory. Amounts stay `tailor_core` integers end to end; only the
//! human-readable table turns them into text.

use tailor_core::quantity::{Bytes, MilliCpu};

/// A resource amount: an integer count of its base unit (millicores or bytes).
pub trait Amount: Copy + Ord + std::fmt::Debug {
    /// The base unit's name, as it appears in JSON and CSV column names.
    const UNIT: &'static str;
    /// The resource name in a `ResourceList` (`cpu`, `memory`).
    const RESOURCE: &'static str;
    /// The integer count of base units.
    fn raw(self) -> i64;
    /// An amount from a count of base units.
    fn from_raw(raw: i64) -> Self;
    /// A short human-readable form for the table (`250m`, `1.5`, `128Mi`, `1.2Gi`).
    fn human(self) -> String;
}

impl Amount for MilliCpu {
    const UNIT: &'static str = "millicores";
    const RESOURCE: &'static str = "cpu";

    fn raw(self) -> i64 {
        self.get()
    }

    fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    fn human(self) -> String {
        human_millicores(self.get())
    }
}

impl Amount for Bytes {
    const UNIT: &'static str = "bytes";
    const RESOURCE: &'static str = "memory";

    fn raw(self) -> i64 {
        self.get()
    }

    fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    fn human(self) -> String {
        human_bytes(self.get())
    }
}

/// Millicores as an operator writes them: `250m` below one core, whole cores as `2`, else `1500m`.
pub fn human_millicores(m: i64) -> String {
    if m != 0 && m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

/// Bytes in binary units: exact (`128Mi`) when the value is a whole number of the unit, else with one
/// decimal (`249.9Mi`); below 1 KiB as plain bytes. Negative values (changes) keep their sign.
pub fn human_bytes(b: i64) -> String {
    const UNITS: [&str; 5] = ["Ki", "Mi", "Gi", "Ti", "Pi"];
    let sign = if b < 0 { "-" } else { "" };
    let magnitude = b.unsigned_abs();
    if magnitude < 1024 {
        return format!("{sign}{magnitude}");
    }
    let mut unit = 0;
    let mut scale: u64 = 1024;
    while unit + 1 < UNITS.len() && magnitude >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    if magnitude.is_multiple_of(scale) {
        format!("{sign}{}{}", magnitude / scale, UNITS[unit])
    } else {
        // Tenths, rounded half up, in integers: no float rounding surprises at the edges.
        let tenths = (u128::from(magnitude) * 10 + u128::from(scale) / 2) / u128::from(scale);
        format!("{sign}{}.{}{}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(human_millicores(250), "250m");
        assert_eq!(human_millicores(2000), "2");
        assert_eq!(human_millicores(1500), "1500m");
        assert_eq!(human_millicores(0), "0m");
        assert_eq!(human_millicores(-380), "-380m");
        assert_eq!(human_millicores(-1000), "-1");
    }

    #[test]
    fn memory_forms() {
        assert_eq!(human_bytes(0), "0");
        assert_eq!(human_bytes(1000), "1000");
        assert_eq!(human_bytes(128 << 20), "128Mi");
        assert_eq!(human_bytes(1 << 30), "1Gi");
        assert_eq!(human_bytes((1 << 30) + (1 << 29)), "1.5Gi");
        assert_eq!(human_bytes(262_144_000), "250Mi");
        assert_eq!(human_bytes(262_144_001), "250.0Mi");
        assert_eq!(human_bytes(-(28 << 20)), "-28Mi");
        assert_eq!(human_bytes(i64::MIN), "-8192Pi");
    }
}
