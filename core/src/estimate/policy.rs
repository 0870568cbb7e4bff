//! A VPA container policy applied to a recommendation: `minAllowed` and `maxAllowed` clamp target and both
//! bounds (the VPA policy wins over everything else, as upstream), and no figure may exceed what the largest
//! node can hold — a request no node fits would leave the pod Pending (upstream issue #4515).

use super::{Recommendation, Resources};
use crate::quantity::{Bytes, MilliCpu};

/// Which resources a VPA controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlledResources {
    #[default]
    CpuAndMemory,
    CpuOnly,
    MemoryOnly,
}

/// The parts of a VPA container policy that shape the recommendation itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContainerPolicy {
    pub min_cpu: Option<MilliCpu>,
    pub min_memory: Option<Bytes>,
    pub max_cpu: Option<MilliCpu>,
    pub max_memory: Option<Bytes>,
    pub controlled: ControlledResources,
}

fn clamp<T: Ord + Copy>(v: T, min: Option<T>, max: Option<T>) -> T {
    // Max first, then min: when an operator sets min > max, min wins (upstream applies them in that order too).
    let v = max.map_or(v, |m| v.min(m));
    min.map_or(v, |m| v.max(m))
}

/// Caps target and bounds by the policy and by `largest_node` (allocatable of the biggest node, if known);
/// `uncapped_target` keeps what the estimators said.
pub fn cap_to_policy(
    rec: &Recommendation,
    policy: &ContainerPolicy,
    largest_node: Option<Resources>,
) -> Recommendation {
    let max_cpu = match (policy.max_cpu, largest_node.map(|n| n.cpu)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let max_memory = match (policy.max_memory, largest_node.map(|n| n.memory)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let cap = |r: Resources| {
        Resources::new(
            clamp(r.cpu, policy.min_cpu, max_cpu),
            clamp(r.memory, policy.min_memory, max_memory),
        )
    };
    Recommendation {
        target: cap(rec.target),
        lower_bound: cap(rec.lower_bound),
        upper_bound: cap(rec.upper_bound),
        uncapped_target: rec.uncapped_target,
    }
}
