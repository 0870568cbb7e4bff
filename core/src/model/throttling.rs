//! Throttling as an up-signal. Usage under a CPU limit can never show demand beyond it: a container throttled in
//! most of its CFS periods looks like one that uses exactly its limit. When an interval was throttled in at least
//! `threshold` of its periods, Tailor adds a sample above the limit, scaled by how much of the interval was
//! starved, so the histogram learns that the limit (and the request under it) is too small.

use crate::quantity::MilliCpu;

/// The extra CPU sample (in cores) for an interval throttled in `share` of its periods under `limit`, or `None`
/// below `threshold` (or for a share that is not a number).
pub fn throttling_demand(limit: MilliCpu, share: f64, threshold: f64) -> Option<f64> {
    if !share.is_finite() || share < threshold || limit.get() <= 0 {
        return None;
    }
    Some(limit.as_cores() * (1.0 + share.min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_heavy_throttling_adds_demand_above_the_limit() {
        assert_eq!(throttling_demand(MilliCpu(500), 0.05, 0.1), None);
        assert_eq!(throttling_demand(MilliCpu(500), 0.5, 0.1), Some(0.75));
        assert_eq!(
            throttling_demand(MilliCpu(500), 3.0, 0.1),
            Some(1.0),
            "share capped at 1"
        );
        assert_eq!(throttling_demand(MilliCpu(500), f64::NAN, 0.1), None);
        assert_eq!(throttling_demand(MilliCpu(0), 1.0, 0.1), None);
    }
}
