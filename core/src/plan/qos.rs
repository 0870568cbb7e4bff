//! The pod QoS class computed the way the API server does (`ComputePodQOS`, without pod-level resources,
//! which the planner skips), so a planned change can be checked before it is sent.

use super::types::{QosClass, Requirements, Resource};

/// QoS class of a pod whose containers (all of them, init containers included) have these requirements.
/// A limit without a request counts as a request of the same value (API defaulting); zero values are ignored.
pub fn compute_qos<'a>(containers: impl IntoIterator<Item = &'a Requirements>) -> QosClass {
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        for r in Resource::ALL {
            let limit = c.limits.get(r).filter(|v| *v != 0);
            let request = c.requests.get(r).filter(|v| *v != 0).or(limit);
            if request.is_some() || limit.is_some() {
                any = true;
            }
            match (request, limit) {
                (Some(q), Some(l)) if q == l => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        QosClass::BestEffort
    } else if guaranteed {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}
