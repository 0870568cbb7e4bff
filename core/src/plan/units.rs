//! The one place where the planner touches the representation of the core's quantity and time types, so the
//! rest of the planner does integer arithmetic on plain `i64` millicores, bytes and unix milliseconds.

pub use crate::quantity::{Bytes, MilliCpu};
pub use crate::time::Timestamp;

/// Unix milliseconds of a timestamp.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.unix_millis()
}

/// A timestamp from unix milliseconds.
pub(crate) fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

pub(crate) fn cpu_value(c: MilliCpu) -> i64 {
    c.0
}

pub(crate) fn mem_value(b: Bytes) -> i64 {
    b.0
}

pub(crate) fn cpu(v: i64) -> MilliCpu {
    MilliCpu(v)
}

pub(crate) fn mem(v: i64) -> Bytes {
    Bytes(v)
}
