//! What a request did to a workload, minute by minute, summed so traces pool into datasets.
//!
//! - slack: Σ(request − usage)⁺ / Σ request, per resource, over the minutes where the resource is measured;
//! - under-provisioned: minutes where usage exceeded the request (either resource), and by how much;
//! - throttled: minutes where CPU demand exceeded the CPU limit (the excess is not served);
//! - OOM kills: minutes where memory demand exceeded the limit (one kill, then a restart);
//! - resizes, and disruptive ones (memory resizes: they restart the container under the replay's assumed
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
