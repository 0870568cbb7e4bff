//! What a request did to a workload, minute by minute, summed so traces pool into datasets.
//!
//! - slack: Σ(request − usage)⁺ / Σ request, per resource, over the minutes where the resource is measured;
//! - under-provisioned: minutes where usage exceeded the request (either resource), and by how much;
//! - throttled: minutes where CPU demand exceeded the CPU limit (the excess is not served);
//! - OOM kills: minutes where memory demand exceeded the limit (one kill, then a restart);
//! - resizes, and disruptive ones (memory resizes: they would restart the container under
//!   `resizePolicy` memory: RestartContainer, which heap-sized runtimes need).

use std::ops::AddAssign;

use tailor_core::quantity::{Bytes, MilliCpu};

use crate::policy::Size;

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Score {
    pub traces: u64,
    pub minutes: u64,
    pub cpu_minutes: u64,
    pub memory_minutes: u64,
    /// Millicore-minutes.
    pub cpu_request_sum: f64,
    pub cpu_usage_sum: f64,
    pub cpu_slack_sum: f64,
    /// Byte-minutes.
    pub memory_request_sum: f64,
    pub memory_usage_sum: f64,
    pub memory_slack_sum: f64,
    pub under_minutes: u64,
    pub cpu_under_minutes: u64,
    pub memory_under_minutes: u64,
    /// Millicore-minutes of demand above the request.
    pub cpu_under_amount: f64,
    /// Byte-minutes of demand above the request.
    pub memory_under_amount: f64,
    pub throttled_minutes: u64,
    pub oom_kills: u64,
    pub resizes: u64,
    pub disruptive_resizes: u64,
}

/// What one minute did, for the replay to feed back to the contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// CPU as the container could use it (capped at its limit).
    pub cpu_observed: Option<MilliCpu>,
    /// Memory as seen (the limit if the container was killed).
    pub memory_observed: Option<Bytes>,
    pub oom_killed: bool,
}

fn excess(a: i64, b: i64) -> f64 {
    a.saturating_sub(b).max(0) as f64
}

impl Score {
    /// Scores one minute of `demand` against `size`.
    pub fn minute(&mut self, cpu: Option<MilliCpu>, memory: Option<Bytes>, size: &Size) -> Outcome {
        self.minutes += 1;
        let mut under = false;
        let mut out = Outcome {
            cpu_observed: None,
            memory_observed: None,
            oom_killed: false,
        };
        if let Some(d) = cpu {
            let (d, r, l) = (d.get(), size.cpu_request.get(), size.cpu_limit.get());
            self.cpu_minutes += 1;
            self.cpu_request_sum += r as f64;
            self.cpu_usage_sum += d as f64;
            self.cpu_slack_sum += excess(r, d);
            if d > r {
                under = true;
                self.cpu_under_minutes += 1;
                self.cpu_under_amount += excess(d, r);
            }
            if d > l {
                self.throttled_minutes += 1;
            }
            out.cpu_observed = Some(MilliCpu(d.min(l)));
        }
        if let Some(d) = memory {
            let (d, r, l) = (d.get(), size.memory_request.get(), size.memory_limit.get());
            self.memory_minutes += 1;
            self.memory_request_sum += r as f64;
            self.memory_usage_sum += d as f64;
            self.memory_slack_sum += excess(r, d);
            if d > r {
                under = true;
                self.memory_under_minutes += 1;
                self.memory_under_amount += excess(d, r);
            }
            out.oom_killed = d > l;
            if out.oom_killed {
                self.oom_kills += 1;
            }
            out.memory_observed = Some(Bytes(d.min(l)));
        }
        if under {
            self.under_minutes += 1;
        }
        out
    }

    pub fn cpu_slack(&self) -> Option<f64> {
        (self.cpu_request_sum > 0.0).then(|| self.cpu_slack_sum / self.cpu_request_sum)
    }
    pub fn memory_slack(&self) -> Option<f64> {
        (self.memory_request_sum > 0.0).then(|| self.memory_slack_sum / self.memory_request_sum)
    }
    pub fn under_fraction(&self) -> f64 {
        ratio(self.under_minutes, self.minutes)
    }
    pub fn throttled_fraction(&self) -> f64 {
        ratio(self.throttled_minutes, self.cpu_minutes)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl AddAssign<&Score> for Score {
    fn add_assign(&mut self, o: &Score) {
        self.traces += o.traces;
        self.minutes += o.minutes;
        self.cpu_minutes += o.cpu_minutes;
        self.memory_minutes += o.memory_minutes;
        self.cpu_request_sum += o.cpu_request_sum;
        self.cpu_usage_sum += o.cpu_usage_sum;
        self.cpu_slack_sum += o.cpu_slack_sum;
        self.memory_request_sum += o.memory_request_sum;
        self.memory_usage_sum += o.memory_usage_sum;
        self.memory_slack_sum += o.memory_slack_sum;
        self.under_minutes += o.under_minutes;
        self.cpu_under_minutes += o.cpu_under_minutes;
        self.memory_under_minutes += o.memory_under_minutes;
        self.cpu_under_amount += o.cpu_under_amount;
        self.memory_under_amount += o.memory_under_amount;
        self.throttled_minutes += o.throttled_minutes;
        self.oom_kills += o.oom_kills;
        self.resizes += o.resizes;
        self.disruptive_resizes += o.disruptive_resizes;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::policy::LimitRatios;

    proptest! {
        #[test]
        fn score_invariants_hold(
            minutes in prop::collection::vec((0i64..10_000, 0i64..1 << 34, 1i64..10_000, 1i64..1 << 34), 1..200),
        ) {
            let mut s = Score::default();
            for (cpu, mem, cpu_req, mem_req) in &minutes {
                let size = Size::from_requests(MilliCpu(*cpu_req), Bytes(*mem_req), LimitRatios::default());
                let out = s.minute(Some(MilliCpu(*cpu)), Some(Bytes(*mem)), &size);
                prop_assert!(out.cpu_observed.expect("cpu") <= size.cpu_limit);
                prop_assert!(out.memory_observed.expect("memory") <= size.memory_limit);
                prop_assert_eq!(out.oom_killed, *mem > size.memory_limit.get());
            }
            for slack in [s.cpu_slack(), s.memory_slack()] {
                let v = slack.expect("requests are positive");
                prop_assert!((0.0..=1.0).contains(&v));
            }
            prop_assert!(s.under_minutes <= s.minutes);
            prop_assert!(s.cpu_under_minutes.max(s.memory_under_minutes) <= s.under_minutes);
            prop_assert!(s.throttled_minutes <= s.cpu_under_minutes, "limit >= request");
            prop_assert!(s.oom_kills <= s.memory_under_minutes, "memory limit = request");
            // Slack and under-provisioning are the two sides of request − usage.
            let cpu_diff = s.cpu_request_sum - s.cpu_usage_sum;
            prop_assert!((cpu_diff - (s.cpu_slack_sum - s.cpu_under_amount)).abs() < 1e-6 * s.cpu_request_sum.max(1.0));
        }
    }

    #[test]
    fn pooling_adds_every_field() {
        let size = Size::from_requests(MilliCpu(100), Bytes(100), LimitRatios::default());
        let mut a = Score::default();
        a.minute(Some(MilliCpu(150)), Some(Bytes(120)), &size);
        let mut b = Score::default();
        b.minute(Some(MilliCpu(50)), Some(Bytes(50)), &size);
        let mut sum = a;
        sum += &b;
        assert_eq!(sum.minutes, 2);
        assert_eq!(sum.oom_kills, 1);
        assert_eq!(sum.cpu_slack(), Some(50.0 / 200.0));
        assert_eq!(sum.memory_slack(), Some(50.0 / 200.0));
        assert_eq!(sum.under_minutes, 1);
        assert_eq!(sum.throttled_minutes, 0, "150m is under the 200m limit");
    }
}
