//! When a recommendation becomes a resize.
//!
//! By default the replay asks the real planner ([`crate::planner`], `tailor_core::plan`). This module holds
//! what both share (limit ratios, the container's [`Size`]) and a simplified STAND-IN of the planner's trigger
//! rules, kept for `--stand-in-policy` and as a cross-check (on the test subset both give the same results for
//! VPA and Tailor). The stand-in uses the planner's own numbers (`PlannerConfig::default()`):
//!
//! 1. an OOM kill within `oom_window` not yet answered by a resize → resize now, memory at least the limit ×
//!    `oom_bump` or + `oom_min_bump` (the planner's OOM bump);
//! 2. a request outside the recommendation's [lower, upper] bounds → resize now;
//! 3. the target above the request by more than `up_threshold` → resize once `up_cooldown` has passed since the
//!    last resize (or the start);
//! 4. the target below the request by more than `down_threshold` → resize once `down_cooldown` has passed.
//!
//! A resize sets every controlled resource's request to the target and keeps each limit:request ratio
//! ([`LimitRatios`]). Every contender goes through the same policy.

use std::time::Duration;

use tailor_core::estimate::Recommendation;
use tailor_core::plan::PlannerConfig;
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

/// Limit = request × ratio, the same for every contender (upstream keeps the limit:request ratio on resize).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitRatios {
    pub cpu: f64,
    pub memory: f64,
}

impl Default for LimitRatios {
    /// Memory limit = request (a pod cannot count on memory above its request); CPU may burst to twice it.
    fn default() -> Self {
        Self {
            cpu: 2.0,
            memory: 1.0,
        }
    }
}

/// A container's size: what is scored and what the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub cpu_request: MilliCpu,
    pub cpu_limit: MilliCpu,
    pub memory_request: Bytes,
    pub memory_limit: Bytes,
}

impl Size {
    pub fn from_requests(cpu: MilliCpu, memory: Bytes, ratios: LimitRatios) -> Self {
        Self {
            cpu_request: cpu,
            cpu_limit: cpu.scale(ratios.cpu),
            memory_request: memory,
            memory_limit: memory.scale(ratios.memory),
        }
    }
}

/// Which resources the autoscaler controls (those the trace measures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Controlled {
    pub cpu: bool,
    pub memory: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizePolicy {
    pub up_threshold: f64,
    pub down_threshold: f64,
    pub up_cooldown: Duration,
    pub down_cooldown: Duration,
    pub oom_window: Duration,
    pub oom_bump: f64,
    pub oom_min_bump: Bytes,
    /// The kubelet treats CPU requests below this as this.
    pub cpu_request_floor: MilliCpu,
    pub ratios: LimitRatios,
    /// Decide with the real planner (`tailor_core::plan`, see [`crate::planner`]) instead of the rules above;
    /// the initial limits still follow `ratios`.
    pub core_planner: bool,
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Default for ResizePolicy {
    fn default() -> Self {
        let p = PlannerConfig::default();
        Self {
            up_threshold: p.up_threshold_permille as f64 / 1000.0,
            down_threshold: p.down_threshold_permille as f64 / 1000.0,
            up_cooldown: millis(p.up_cooldown_ms),
            down_cooldown: millis(p.down_cooldown_ms),
            oom_window: millis(p.oom_window_ms),
            oom_bump: p.oom_bump_permille as f64 / 1000.0,
            oom_min_bump: Bytes(p.oom_min_bump_bytes),
            cpu_request_floor: MilliCpu(p.cpu_request_floor_m),
            ratios: LimitRatios::default(),
            core_planner: true,
        }
    }
}

/// What the policy remembers about one container between minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyState {
    pub last_change: Timestamp,
    pub last_oom: Option<Timestamp>,
    pub oom_handled: Option<Timestamp>,
}

impl PolicyState {
    pub fn new(start: Timestamp) -> Self {
        Self {
            last_change: start,
            last_oom: None,
            oom_handled: None,
        }
    }
}

/// A resize the policy decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    pub to: Size,
    pub memory_changed: bool,
}

impl ResizePolicy {
    pub fn decide(
        &self,
        now: Timestamp,
        size: &Size,
        rec: &Recommendation,
        controlled: Controlled,
        state: &mut PolicyState,
    ) -> Option<Resize> {
        let oom = controlled.memory
            && state.last_oom.is_some_and(|o| {
                now.since(o) <= self.oom_window && state.oom_handled.is_none_or(|h| o > h)
            });
        let cpu_target = rec.target.cpu.max(self.cpu_request_floor);
        let mem_target = rec.target.memory;
        let mut outside = false;
        let mut up = false;
        let mut down = false;
        let mut check = |req: i64, target: i64, lower: i64, upper: i64| {
            outside |= req < lower || req > upper;
            up |= target as f64 > req as f64 * (1.0 + self.up_threshold);
            down |= (target as f64) < req as f64 * (1.0 - self.down_threshold);
        };
        if controlled.cpu {
            check(
                size.cpu_request.get(),
                cpu_target.get(),
                rec.lower_bound.cpu.get(),
                rec.upper_bound.cpu.get(),
            );
        }
        if controlled.memory {
            check(
                size.memory_request.get(),
                mem_target.get(),
                rec.lower_bound.memory.get(),
                rec.upper_bound.memory.get(),
            );
        }
        let since = now.since(state.last_change);
        let fire = oom
            || outside
            || (up && since >= self.up_cooldown)
            || (down && since >= self.down_cooldown);
        if !fire {
            return None;
        }
        let mut memory = if controlled.memory {
            mem_target
        } else {
            size.memory_request
        };
        if oom {
            let lim = size.memory_limit;
            memory = memory
                .max(lim.scale(self.oom_bump))
                .max(lim.saturating_add(self.oom_min_bump));
            state.oom_handled = state.last_oom;
        }
        let cpu = if controlled.cpu {
            cpu_target
        } else {
            size.cpu_request
        };
        let mut to = Size::from_requests(cpu, memory, self.ratios);
        if !controlled.cpu {
            to.cpu_limit = size.cpu_limit;
        }
        if !controlled.memory {
            to.memory_limit = size.memory_limit;
        }
        if to == *size {
            return None;
        }
        state.last_change = now;
        Some(Resize {
            memory_changed: to.memory_request != size.memory_request,
            to,
        })
    }
}

#[cfg(test)]
mod tests {
    use tailor_core::estimate::Resources;

    use super::*;

    const MIN: i64 = 60_000;

    fn rec(cpu: i64, mem: i64) -> Recommendation {
        let t = Resources::new(MilliCpu(cpu), Bytes(mem));
        Recommendation {
            target: t,
            lower_bound: Resources::default(),
            upper_bound: Resources::new(MilliCpu(i64::MAX), Bytes(i64::MAX)),
            uncapped_target: t,
        }
    }

    fn at(min: i64) -> Timestamp {
        Timestamp::from_unix_millis(min * MIN)
    }

    const BOTH: Controlled = Controlled {
        cpu: true,
        memory: true,
    };

    #[test]
    fn drift_waits_for_its_cooldown_and_thresholds() {
        let p = ResizePolicy::default();
        let size = Size::from_requests(MilliCpu(1000), Bytes(1000 << 20), p.ratios);
        let mut st = PolicyState::new(at(0));
        // 5 % up: under the 10 % threshold.
        assert_eq!(
            p.decide(at(10), &size, &rec(1050, 1000 << 20), BOTH, &mut st),
            None
        );
        // 50 % up: waits for the 5-minute up cooldown, then fires.
        assert_eq!(
            p.decide(at(4), &size, &rec(1500, 1000 << 20), BOTH, &mut st),
            None
        );
        let r = p
            .decide(at(5), &size, &rec(1500, 1000 << 20), BOTH, &mut st)
            .expect("fires");
        assert_eq!(r.to.cpu_request, MilliCpu(1500));
        assert_eq!(r.to.cpu_limit, MilliCpu(3000));
        assert!(!r.memory_changed);
        // Down by half: only after the 60-minute down cooldown since that resize.
        let size = r.to;
        assert_eq!(
            p.decide(at(64), &size, &rec(700, 500 << 20), BOTH, &mut st),
            None
        );
        let r = p
            .decide(at(65), &size, &rec(700, 500 << 20), BOTH, &mut st)
            .expect("fires");
        assert!(r.memory_changed);
        assert_eq!(r.to.memory_limit, Bytes(500 << 20));
    }

    #[test]
    fn an_oom_resizes_at_once_with_the_planner_bump_and_only_once() {
        let p = ResizePolicy::default();
        let size = Size::from_requests(MilliCpu(1000), Bytes(1000 << 20), p.ratios);
        let mut st = PolicyState::new(at(0));
        st.last_oom = Some(at(1));
        let r = p
            .decide(at(1), &size, &rec(1000, 1000 << 20), BOTH, &mut st)
            .expect("oom fires");
        assert_eq!(r.to.memory_request, Bytes(1200 << 20));
        assert_eq!(
            p.decide(at(2), &r.to, &rec(1000, 1000 << 20), BOTH, &mut st),
            None,
            "handled"
        );
    }

    #[test]
    fn uncontrolled_resources_are_left_alone() {
        let p = ResizePolicy::default();
        let size = Size::from_requests(MilliCpu(4000), Bytes::ZERO, p.ratios);
        let mut st = PolicyState::new(at(0));
        let cpu_only = Controlled {
            cpu: true,
            memory: false,
        };
        let r = p
            .decide(at(120), &size, &rec(500, 250 << 20), cpu_only, &mut st)
            .expect("down");
        assert_eq!(r.to.memory_request, Bytes::ZERO);
        assert_eq!(r.to.cpu_request, MilliCpu(500));
        assert!(!r.memory_changed);
    }
}
