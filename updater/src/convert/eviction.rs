//! The VPA's rules for the recreate paths (`updatePolicy.evictionRequirements`, `evictAfterOOMSeconds`) and
//! the pod facts they need (how long an OOM-killed container had run).

use k8s_openapi::api::core::v1::Pod;
use tailor_core::plan::{ChangeRequirement, EvictionPolicy, EvictionRequirement, ResourceMask};
use tailor_k8s::crd::vpa::{EvictionChangeRequirement, VerticalPodAutoscaler};

/// The VPA's eviction rules. A requirement this version cannot read (unknown change kind, or no cpu/memory
/// among its resources) is kept as one that never holds, so an unreadable rule blocks evictions rather than
/// silently allowing them.
pub fn eviction_policy(vpa: &VerticalPodAutoscaler) -> EvictionPolicy {
    let Some(update) = vpa.spec.update_policy.as_ref() else {
        return EvictionPolicy::default();
    };
    let requirements = update
        .eviction_requirements
        .iter()
        .map(|r| {
            let resources = ResourceMask {
                cpu: r.resources.iter().any(|x| x == "cpu"),
                memory: r.resources.iter().any(|x| x == "memory"),
            };
            match r.change_requirement {
                EvictionChangeRequirement::TargetHigherThanRequests => EvictionRequirement {
                    resources,
                    change: ChangeRequirement::TargetHigherThanRequests,
                },
                EvictionChangeRequirement::TargetLowerThanRequests => EvictionRequirement {
                    resources,
                    change: ChangeRequirement::TargetLowerThanRequests,
                },
                EvictionChangeRequirement::Unknown => EvictionRequirement {
                    resources: ResourceMask::NONE,
                    change: ChangeRequirement::TargetHigherThanRequests,
                },
            }
        })
        .collect();
    EvictionPolicy {
        requirements,
        evict_after_oom_ms: update
            .evict_after_oom_seconds
            .filter(|s| *s > 0)
            .map(|s| i64::from(s) * 1000),
    }
}

/// `(container, run length in ms)` for every container whose last run ended in an OOM kill with both
/// `startedAt` and `finishedAt` known.
pub fn oom_runs(pod: &Pod) -> Vec<(String, i64)> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .filter_map(|s| {
            let t = s.last_state.as_ref()?.terminated.as_ref()?;
            if t.reason.as_deref() != Some("OOMKilled") {
                return None;
            }
            let run = t.finished_at.as_ref()?.0.as_millisecond()
                - t.started_at.as_ref()?.0.as_millisecond();
            Some((s.name.clone(), run.max(0)))
        })
        .collect()
}
