//! Any string: parsing never panics, and whatever parses survives a trip through its canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tailor_core::quantity::{Bytes, MilliCpu, Quantity};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(q) = Quantity::parse(s) {
        let canonical = q.to_canonical_string();
        let again = Quantity::parse(&canonical).expect("canonical form parses");
        assert_eq!(again, q, "{s:?} -> {canonical:?}");
        assert_eq!(again.to_canonical_string(), canonical);
    }
    let _ = MilliCpu::parse(s);
    let _ = Bytes::parse(s);
});
