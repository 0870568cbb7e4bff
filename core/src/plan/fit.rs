//! Node headroom and namespace quota: a planned change must fit now, or be cut down to what fits.
//!
//! The kubelet admits a resize when the other pods' allocations plus the new requests fit allocatable; the
//! scheduler and quota charge every pod max(spec, allocated, actual). The caller's `committed` figures use the
//! latter for every pod, so the room left for the changed containers is
//! `allocatable − committed + Σ max(spec, allocated, actual)` over those containers.

use super::decision::{ContainerChange, SkipReason};
use super::input::{ContainerView, NodeCapacity, PodView, QuotaRoom};
use super::types::{QosClass, Resource};
use super::units::{cpu_value, mem_value};

/// What a container holds now on the node for `r`: max of spec, allocated and actual requests.
pub(crate) fn reserved(c: &ContainerView, r: Resource) -> i64 {
    let spec = c.spec.requests.get(r).unwrap_or(0);
    let alloc = c.allocated.and_then(|a| a.get(r)).unwrap_or(0);
    let actual = c.actual.and_then(|a| a.requests.get(r)).unwrap_or(0);
    spec.max(alloc).max(actual)
}

/// What the kubelet has granted the container for `r` (the point below which a change is a decrease).
fn granted(c: &ContainerView, r: Resource) -> i64 {
    c.allocated
        .and_then(|a| a.get(r))
        .or_else(|| c.actual.and_then(|a| a.requests.get(r)))
        .or_else(|| c.spec.requests.get(r))
        .unwrap_or(0)
}

/// How a change relates to the room available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    Fits,
    /// Increases were cut down.
    Shrunk,
    /// No increase fits; `SkipReason` says whether node or quota is the bound.
    NoRoom(SkipReason),
}

/// The room for the changed containers' requests, per resource; `None` when unbounded.
pub(crate) fn room(
    pod: &PodView,
    changes: &[ContainerChange],
    node: Option<&NodeCapacity>,
    quota: Option<&QuotaRoom>,
    r: Resource,
) -> (Option<i64>, SkipReason) {
    let own: i64 = changes
        .iter()
        .filter_map(|ch| pod.container(&ch.name))
        .map(|c| reserved(c, r))
        .fold(0i64, i64::saturating_add);
    let node_room = node.map(|n| {
        let (alloc, committed) = match r {
            Resource::Cpu => (cpu_value(n.allocatable_cpu), cpu_value(n.committed_cpu)),
            Resource::Memory => (
                mem_value(n.allocatable_memory),
                mem_value(n.committed_memory),
            ),
        };
        alloc.saturating_sub(committed).saturating_add(own)
    });
    let quota_room = quota
        .and_then(|q| q.requests.get(r))
        .map(|free| free.saturating_add(own));
    match (node_room, quota_room) {
        (Some(n), Some(q)) if q < n => (Some(q), SkipReason::QuotaExhausted),
        (Some(n), _) => (Some(n), SkipReason::NoHeadroom),
        (None, Some(q)) => (Some(q), SkipReason::QuotaExhausted),
        (None, None) => (None, SkipReason::NoHeadroom),
    }
}

/// Cuts request increases down so the changed containers fit the room; drops changes that become empty. With
/// `scale_limits`, a limit that rose with its request gives up the same share (steady-state sizing); without
/// it, limits keep their increase (a boost bursts on the limit without reserving).
pub(crate) fn fit(
    pod: &PodView,
    changes: &mut Vec<ContainerChange>,
    node: Option<&NodeCapacity>,
    quota: Option<&QuotaRoom>,
    scale_limits: bool,
) -> Fit {
    let mut outcome = Fit::Fits;
    let mut last_bound = SkipReason::NoHeadroom;
    for r in Resource::ALL {
        let (room, bound) = room(pod, changes, node, quota, r);
        let Some(room) = room else { continue };
        let mut base_sum = 0i64;
        let mut inc_sum = 0i64;
        for ch in changes.iter() {
            let Some(c) = pod.container(&ch.name) else {
                continue;
            };
            let after = ch.after.requests.get(r).unwrap_or(0);
            let g = granted(c, r);
            base_sum = base_sum.saturating_add(after.min(g));
            inc_sum = inc_sum.saturating_add((after - g).max(0));
        }
        if base_sum.saturating_add(inc_sum) <= room {
            continue;
        }
        let avail = room.saturating_sub(base_sum).max(0);
        outcome = Fit::Shrunk;
        last_bound = bound;
        for ch in changes.iter_mut() {
            let Some(c) = pod.container(&ch.name) else {
                continue;
            };
            let g = granted(c, r);
            let Some(after) = ch.after.requests.get(r) else {
                continue;
            };
            if after <= g {
                continue;
            }
            let inc = i64::try_from(
                i128::from(after - g) * i128::from(avail) / i128::from(inc_sum.max(1)),
            )
            .unwrap_or(0);
            let req = g
                .saturating_add(inc)
                .max(ch.before.requests.get(r).unwrap_or(0).min(g));
            let running_limit = c.current().limits.get(r);
            if pod.qos == QosClass::Guaranteed {
                ch.after.limits.set(r, Some(req));
            } else if scale_limits
                && let (Some(lr), Some(la)) = (running_limit, ch.after.limits.get(r))
                && la > lr
            {
                // The limit rose with the request: it keeps the planned limit:request ratio.
                let l = i128::from(la) * i128::from(req) / i128::from(after.max(1));
                ch.after
                    .limits
                    .set(r, Some(i64::try_from(l).unwrap_or(la).max(req).max(lr)));
            }
            ch.after.requests.set(r, Some(req));
        }
    }
    if let Some(q) = quota {
        for r in Resource::ALL {
            if let Some(free) = q.limits.get(r) {
                let delta: i64 = changes
                    .iter()
                    .map(|ch| {
                        ch.after.limits.get(r).unwrap_or(0) - ch.before.limits.get(r).unwrap_or(0)
                    })
                    .sum();
                if delta > free {
                    return Fit::NoRoom(SkipReason::QuotaExhausted);
                }
            }
        }
    }
    changes.retain(|ch| ch.after != ch.before);
    if changes.is_empty() {
        return Fit::NoRoom(last_bound);
    }
    outcome
}

/// What the pod's change adds to the node's and quota's committed figures (scheduler view).
pub(crate) fn committed_delta(pod: &PodView, changes: &[ContainerChange], r: Resource) -> i64 {
    changes
        .iter()
        .filter_map(|ch| pod.container(&ch.name).map(|c| (ch, c)))
        .map(|(ch, c)| {
            let alloc = c.allocated.and_then(|a| a.get(r)).unwrap_or(0);
            let actual = c.actual.and_then(|a| a.requests.get(r)).unwrap_or(0);
            let after = ch.after.requests.get(r).unwrap_or(0).max(alloc).max(actual);
            after - reserved(c, r)
        })
        .sum()
}
