//! Turning a recommendation into new requests and limits for each container, under every sizing rule: QoS
//! class kept, requests ≤ limits, `controlledValues`, LimitRange, CPU floors, the OOM bump and the
//! memory-limit-decrease guard.

use super::config::PlannerConfig;
use super::decision::{ContainerChange, SkipReason};
use super::input::{ContainerRecommendation, ContainerView, ControlledValues, LimitRange, PodView};
use super::qos::compute_qos;
use super::types::{QosClass, Requirements, Resource, ResourceMask};

/// `value × num / den`, rounded up, saturating; `den` must be positive.
pub(crate) fn scale_ceil(value: i64, num: i64, den: i64) -> i64 {
    let v = i128::from(value) * i128::from(num);
    let d = i128::from(den.max(1));
    let q = v.div_euclid(d) + i128::from(v.rem_euclid(d) != 0);
    i64::try_from(q).unwrap_or(if q > 0 { i64::MAX } else { i64::MIN })
}

/// `value × permille / 1000`, rounded down, saturating.
pub(crate) fn permille(value: i64, permille: i64) -> i64 {
    let v = i128::from(value) * i128::from(permille) / 1000;
    i64::try_from(v).unwrap_or(if v > 0 { i64::MAX } else { i64::MIN })
}

/// Request and limit values as the kubelet applies them: CPU requests below the shares floor and limits below
/// the quota floor are equal to the floor.
pub(crate) fn effective(
    cfg: &PlannerConfig,
    r: Resource,
    request: bool,
    v: Option<i64>,
) -> Option<i64> {
    match (r, request) {
        (Resource::Cpu, true) => v.map(|x| x.max(cfg.cpu_request_floor_m)),
        (Resource::Cpu, false) => v.map(|x| x.max(cfg.cpu_limit_floor_m)),
        (Resource::Memory, _) => v,
    }
}

fn clamp(v: i64, min: Option<i64>, max: Option<i64>) -> i64 {
    let v = min.map_or(v, |m| v.max(m));
    max.map_or(v, |m| v.min(m))
}

/// Whether two requirements are the same once the CPU floors are applied.
pub(crate) fn same_effective(
    cfg: &PlannerConfig,
    a: &Requirements,
    b: &Requirements,
    r: Resource,
) -> bool {
    effective(cfg, r, true, a.requests.get(r)) == effective(cfg, r, true, b.requests.get(r))
        && effective(cfg, r, false, a.limits.get(r)) == effective(cfg, r, false, b.limits.get(r))
}

/// Everything [`size_pod`] needs besides the pod.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SizingInput<'a> {
    pub cfg: &'a PlannerConfig,
    pub recs: &'a [ContainerRecommendation],
    pub policy: &'a super::input::WorkloadPolicy,
    pub limit_range: Option<&'a LimitRange>,
    /// Resources this step may change.
    pub mask: ResourceMask,
    /// Per container (same order as the pod's): OOM-killed recently, so memory gets the OOM bump.
    pub oom: &'a [bool],
}

/// New values for every container that changes, or the reason no QoS-preserving change exists.
pub(crate) fn size_pod(
    pod: &PodView,
    input: &SizingInput<'_>,
) -> Result<Vec<ContainerChange>, SkipReason> {
    let mut afters: Vec<Requirements> = pod.containers.iter().map(|c| c.spec).collect();
    let mut qos_blocked = false;
    for (i, c) in pod.containers.iter().enumerate() {
        if !c.resizable() {
            continue;
        }
        let Some(rec) = input.recs.iter().find(|r| r.name == c.name) else {
            continue;
        };
        let (off, controlled, values) = input.policy.for_container(&c.name);
        if off {
            continue;
        }
        let mask = controlled.intersect(input.mask);
        let oom = input.oom.get(i).copied().unwrap_or(false);
        afters[i] = size_container(c, rec, pod.qos, values, mask, oom, input);
        // Guaranteed with RequestsOnly cannot move a request without its limit: report it rather than "in sync".
        if pod.qos == QosClass::Guaranteed && values == ControlledValues::RequestsOnly {
            qos_blocked |= Resource::ALL.iter().any(|r| {
                mask.contains(*r)
                    && rec.target.get(*r).is_some_and(|t| {
                        effective(input.cfg, *r, true, Some(t))
                            != effective(input.cfg, *r, true, c.spec.requests.get(*r))
                    })
            });
        }
    }
    keep_qos(pod, &mut afters, input.cfg)?;
    let out = changes(pod, afters, input.cfg);
    if out.is_empty() && qos_blocked {
        return Err(SkipReason::QosWouldChange);
    }
    Ok(out)
}

/// Builds the change list, dropping containers and resources whose values are equal under the CPU floors.
pub(crate) fn changes(
    pod: &PodView,
    afters: Vec<Requirements>,
    cfg: &PlannerConfig,
) -> Vec<ContainerChange> {
    pod.containers
        .iter()
        .zip(afters)
        .filter_map(|(c, mut after)| {
            for r in Resource::ALL {
                if same_effective(cfg, &c.spec, &after, r) {
                    after.requests.set(r, c.spec.requests.get(r));
                    after.limits.set(r, c.spec.limits.get(r));
                }
            }
            (after != c.spec).then(|| ContainerChange {
                name: c.name.clone(),
                before: c.spec,
                after,
            })
        })
        .collect()
}

fn size_container(
    c: &ContainerView,
    rec: &ContainerRecommendation,
    qos: QosClass,
    values: ControlledValues,
    mask: ResourceMask,
    oom: bool,
    input: &SizingInput<'_>,
) -> Requirements {
    let cfg = input.cfg;
    let mut after = c.spec;
    for r in Resource::ALL {
        if !mask.contains(r) {
            continue;
        }
        let Some(mut target) = rec.target.get(r) else {
            continue;
        };
        let req_before = c.spec.requests.get(r);
        let lim_before = c.spec.limits.get(r);
        // A separately recommended limit applies where the limit can move on its own: a Burstable container
        // with a limit, limits controlled. There the OOM bump goes to the limit, where the kill happened.
        let rec_limit = rec.memory_limit.map(super::units::mem_value).filter(|_| {
            r == Resource::Memory
                && qos == QosClass::Burstable
                && lim_before.is_some()
                && values == ControlledValues::RequestsAndLimits
        });
        let mut limit_bump = None;
        if r == Resource::Memory
            && oom
            && let Some(cur) = lim_before.or(req_before)
        {
            let bump = permille(cur, cfg.oom_bump_permille)
                .max(cur.saturating_add(cfg.oom_min_bump_bytes));
            if rec_limit.is_some() {
                limit_bump = Some(bump);
            } else {
                target = target.max(bump);
            }
        }
        if r == Resource::Cpu {
            target = target.max(cfg.cpu_request_floor_m);
        }
        let (mut req, mut lim) = match qos {
            QosClass::BestEffort => continue,
            QosClass::Guaranteed => {
                // Guaranteed needs request == limit; RequestsOnly cannot keep that, so leave it alone.
                if values == ControlledValues::RequestsOnly || lim_before.is_none() {
                    continue;
                }
                let v = if r == Resource::Cpu {
                    target.max(cfg.cpu_limit_floor_m)
                } else {
                    target
                };
                (v, Some(v))
            }
            QosClass::Burstable => {
                let lim = match (lim_before, values, req_before, rec_limit) {
                    (_, _, _, Some(rl)) => Some(rl.max(target).max(limit_bump.unwrap_or(i64::MIN))),
                    (Some(l), ControlledValues::RequestsAndLimits, Some(q), None) if q > 0 => {
                        Some(scale_ceil(l, target, q))
                    }
                    (l, _, _, _) => l,
                };
                let lim = if r == Resource::Cpu {
                    lim.map(|l| l.max(cfg.cpu_limit_floor_m))
                } else {
                    lim
                };
                (target, lim)
            }
        };
        if let Some(lr) = input.limit_range {
            let (min, max) = (lr.min.get(r), lr.max.get(r));
            req = clamp(req, min, max);
            lim = lim.map(|l| clamp(l, min, max));
            if qos == QosClass::Guaranteed {
                lim = Some(req);
            }
            let ratio = match r {
                Resource::Cpu => lr.max_ratio_cpu,
                Resource::Memory => lr.max_ratio_memory,
            };
            if let (Some(l), Some(ratio)) = (lim, ratio.filter(|x| *x > 0))
                && i128::from(l) * 1000 > i128::from(req) * i128::from(ratio)
            {
                req = scale_ceil(l, 1000, ratio).min(l);
            }
        }
        if r == Resource::Memory
            && let (Some(lb), Some(l)) = (lim_before, lim)
            && l < lb
        {
            let floor = c.working_set.map(|ws| {
                let ws = super::units::mem_value(ws);
                ws.saturating_add(
                    permille(ws, cfg.memory_limit_margin_permille)
                        .max(cfg.memory_limit_margin_min_bytes),
                )
            });
            // Without a known working set the limit stays (unless configured to trust the kubelet's check):
            // lowering it blind risks an OOM kill.
            let blind = if cfg.memory_limit_decrease_without_usage {
                l
            } else {
                lb
            };
            let l = floor.map_or(blind, |f| l.max(f).min(lb));
            lim = Some(l);
            if qos == QosClass::Guaranteed {
                req = l;
            }
        }
        if let Some(l) = lim {
            req = req.min(l);
        }
        after.requests.set(r, Some(req));
        if lim_before.is_some() {
            after.limits.set(r, lim);
        }
    }
    after
}

/// Makes sure the planned pod keeps its QoS class. A Burstable pod whose every request would meet its limit is
/// kept Burstable by lowering one changed request by the smallest step.
fn keep_qos(
    pod: &PodView,
    afters: &mut [Requirements],
    cfg: &PlannerConfig,
) -> Result<(), SkipReason> {
    let class = compute_qos(afters.iter());
    if class == pod.qos {
        return Ok(());
    }
    if pod.qos == QosClass::Burstable && class == QosClass::Guaranteed {
        for (i, c) in pod.containers.iter().enumerate() {
            for r in Resource::ALL {
                let after = &mut afters[i];
                let (Some(q), Some(l)) = (after.requests.get(r), after.limits.get(r)) else {
                    continue;
                };
                let changed = !same_effective(cfg, &c.spec, after, r);
                let step = match r {
                    Resource::Cpu => 1,
                    Resource::Memory => 1024 * 1024,
                };
                if changed && q == l && q > step {
                    after.requests.set(r, Some(q - step));
                    if compute_qos(afters.iter()) == pod.qos {
                        return Ok(());
                    }
                }
            }
        }
    }
    Err(SkipReason::QosWouldChange)
}
