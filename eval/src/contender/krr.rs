//! A KRR-like baseline (robusta-dev/krr's simple strategy): CPU request at the 95th percentile of all CPU seen,
//! memory at the maximum seen plus 15 %. KRR is a periodic report, so it is recomputed hourly from everything
//! observed so far (no look-ahead).

use std::time::Duration;

use tailor_core::estimate::{Recommendation, Resources};
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use super::{Contender, ContenderError};

const RECOMPUTE: Duration = Duration::from_secs(3600);
const CPU_PERCENTILE: f64 = 0.95;
const MEMORY_BUFFER: f64 = 0.15;

#[derive(Debug, Default)]
pub struct Krr {
    cpu: Vec<i64>,
    memory_max: Bytes,
    last: Option<(Timestamp, Recommendation)>,
}

impl Contender for Krr {
    fn observe(
        &mut self,
        _: Timestamp,
        cpu: Option<MilliCpu>,
        memory: Option<Bytes>,
    ) -> Result<(), ContenderError> {
        if let Some(c) = cpu {
            self.cpu.push(c.get());
        }
        if let Some(m) = memory {
            self.memory_max = self.memory_max.max(m);
        }
        Ok(())
    }

    fn record_oom(&mut self, _: Timestamp, _: Bytes, _: Bytes) -> Result<(), ContenderError> {
        // KRR reads Prometheus usage only; the limit-level usage sample at the kill is all it sees.
        Ok(())
    }

    fn recommend(&mut self, at: Timestamp) -> Result<Option<Recommendation>, ContenderError> {
        if let Some((when, rec)) = self.last
            && at.since(when) < RECOMPUTE
        {
            return Ok(Some(rec));
        }
        let mut sorted = self.cpu.clone();
        sorted.sort_unstable();
        let cpu = if sorted.is_empty() {
            0
        } else {
            let idx =
                ((sorted.len() as f64 * CPU_PERCENTILE).ceil() as usize).clamp(1, sorted.len());
            sorted[idx - 1]
        };
        let target = Resources::new(MilliCpu(cpu), self.memory_max.scale(1.0 + MEMORY_BUFFER));
        let rec = Recommendation {
            target,
            // KRR has no bounds: only the policy's drift thresholds decide when to move.
            lower_bound: Resources::default(),
            upper_bound: Resources::new(MilliCpu(i64::MAX), Bytes(i64::MAX)),
            uncapped_target: target,
        };
        self.last = Some((at, rec));
        Ok(Some(rec))
    }
}
