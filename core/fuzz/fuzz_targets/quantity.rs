//! Any string: parsing never panics, whatever parses keeps its value through its canonical form, and the canonical
//! form is stable from the second trip on (the first may switch a binary value that is no multiple of 1024 to
//! decimal, exactly as the API server does: `62.5Ki` → `64000` → `64k`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tailor_core::quantity::{Bytes, MilliCpu, Quantity};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(q) = Quantity::parse(s) {
        let canonical = q.to_canonical_string();
        let again = Quantity::parse(&canonical).expect("canonical form parses");
        assert_eq!(again, q, "{s:?} -> {canonical:?}");
        let settled = again.to_canonical_string();
        let third = Quantity::parse(&settled).expect("canonical form parses");
        assert_eq!(third.to_canonical_string(), settled);
    }
    let _ = MilliCpu::parse(s);
    let _ = Bytes::parse(s);
});
