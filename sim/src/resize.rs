//! The kubelet's in-place resize logic as pure functions: admission (fit against node allocatable, giving
//! Infeasible or Deferred), the order in which Deferred resizes are retried, and the per-container actuation
//! plan (in place, restart by `resizePolicy`, or an Error for a memory-limit decrease below current usage).

use serde::{Deserialize, Serialize};

/// A container's CPU (millicores) and memory (bytes) requests and limits; `None` = not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_request: Option<u64>,
    pub cpu_limit: Option<u64>,
    pub memory_request: Option<u64>,
    pub memory_limit: Option<u64>,
}

impl Resources {
    /// Requests as the scheduler and kubelet count them (an unset request counts as zero).
    pub fn requests(&self) -> (u64, u64) {
        (
            self.cpu_request.unwrap_or(0),
            self.memory_request.unwrap_or(0),
        )
    }

    fn cpu_changed(&self, other: &Resources) -> bool {
        self.cpu_request != other.cpu_request || self.cpu_limit != other.cpu_limit
    }

    fn memory_changed(&self, other: &Resources) -> bool {
        self.memory_request != other.memory_request || self.memory_limit != other.memory_limit
    }
}

/// `resizePolicy[].restartPolicy` for one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResizeRestart {
    #[default]
    NotRequired,
    RestartContainer,
}

/// Node capacity as the kubelet's admission sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRoom {
    pub allocatable_cpu: u64,
    pub allocatable_memory: u64,
    /// Sum of the *allocated* requests of every other active pod on the node.
    pub others_cpu: u64,
    pub others_memory: u64,
}

/// Outcome of a resize admission attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The spec equals the allocation: nothing pending.
    Unchanged,
    /// Fits now: the spec becomes the allocation.
    Accept,
    /// Would fit an empty node but not now (reason `Deferred`); retried when room appears.
    Deferred(String),
    /// Can never fit this node (reason `Infeasible`); not retried until the spec changes.
    Infeasible(String),
}

/// Sum of requests over containers.
pub fn pod_requests(containers: &[Resources]) -> (u64, u64) {
    containers.iter().fold((0, 0), |(c, m), r| {
        let (rc, rm) = r.requests();
        (c + rc, m + rm)
    })
}

/// Decides a resize like the kubelet's `handlePodResourcesResize`: compare the desired spec with the
/// allocation, then fit the new requests against allocatable and the other pods' allocations.
pub fn admit(desired: &[Resources], allocated: &[Resources], node: NodeRoom) -> Admission {
    if desired == allocated {
        return Admission::Unchanged;
    }
    let (cpu, mem) = pod_requests(desired);
    for (name, want, cap) in [
        ("cpu", cpu, node.allocatable_cpu),
        ("memory", mem, node.allocatable_memory),
    ] {
        if want > cap {
            return Admission::Infeasible(format!(
                "Node didn't have enough capacity: {name}, requested: {want}, capacity: {cap}"
            ));
        }
    }
    for (name, want, used, cap) in [
        ("cpu", cpu, node.others_cpu, node.allocatable_cpu),
        ("memory", mem, node.others_memory, node.allocatable_memory),
    ] {
        if used + want > cap {
            return Admission::Deferred(format!(
                "Node didn't have enough resource: {name}, requested: {want}, used: {used}, capacity: {cap}"
            ));
        }
    }
    Admission::Accept
}

/// A Deferred resize waiting for room, with what the retry order needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingResize {
    pub key: String,
    /// True if the resize raises the pod's CPU or memory requests.
    pub increases_requests: bool,
    pub priority: i32,
    pub guaranteed: bool,
    /// When PodResizePending was set (any monotonic unit).
    pub pending_since: i64,
}

/// Sorts Deferred resizes in the kubelet's retry order: non-increasing first, higher priority, Guaranteed
/// before Burstable, then oldest pending.
pub fn retry_order(pending: &mut [PendingResize]) {
    pending.sort_by(|a, b| {
        a.increases_requests
            .cmp(&b.increases_requests)
            .then(b.priority.cmp(&a.priority))
            .then(b.guaranteed.cmp(&a.guaranteed))
            .then(a.pending_since.cmp(&b.pending_since))
            .then(a.key.cmp(&b.key))
    });
}

/// What to do with one container to move it from its actuated to its allocated resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already actuated.
    None,
    /// Write the new `cpu.max` / `cpu.weight` / `memory.max` without restarting.
    InPlace,
    /// Restart the container (a changed resource has `RestartContainer`); it starts with the allocation.
    Restart,
    /// Refused: the memory limit would drop below current usage. The resize stays in progress with reason Error.
    Error(String),
}

/// Plans one container's actuation.
pub fn plan_container(
    name: &str,
    actuated: &Resources,
    allocated: &Resources,
    cpu_policy: ResizeRestart,
    memory_policy: ResizeRestart,
    memory_usage: u64,
) -> Action {
    if actuated == allocated {
        return Action::None;
    }
    let restart = (allocated.cpu_changed(actuated)
        && cpu_policy == ResizeRestart::RestartContainer)
        || (allocated.memory_changed(actuated) && memory_policy == ResizeRestart::RestartContainer);
    if restart {
        return Action::Restart;
    }
    if let Some(new_limit) = allocated.memory_limit {
        let decreasing = actuated.memory_limit.is_none_or(|old| new_limit < old);
        if decreasing && memory_usage > new_limit {
            return Action::Error(format!(
                "container {name:?}: cannot decrease memory limit to {new_limit} bytes: current usage {memory_usage} bytes is above the new limit"
            ));
        }
    }
    Action::InPlace
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu: u64, mem: u64) -> Resources {
        Resources {
            cpu_request: Some(cpu),
            cpu_limit: Some(cpu * 2),
            memory_request: Some(mem),
            memory_limit: Some(mem * 2),
        }
    }

    const ROOM: NodeRoom = NodeRoom {
        allocatable_cpu: 4000,
        allocatable_memory: 8 << 30,
        others_cpu: 3000,
        others_memory: 1 << 30,
    };

    #[test]
    fn admission_table() {
        let cur = [r(500, 1 << 30)];
        assert_eq!(admit(&cur, &cur, ROOM), Admission::Unchanged);
        assert_eq!(admit(&[r(900, 1 << 30)], &cur, ROOM), Admission::Accept);
        assert_eq!(
            admit(&[r(1000, 1 << 30)], &cur, ROOM),
            Admission::Accept,
            "exactly full fits"
        );
        match admit(&[r(1001, 1 << 30)], &cur, ROOM) {
            Admission::Deferred(m) => assert!(
                m.contains("cpu, requested: 1001, used: 3000, capacity: 4000"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        match admit(&[r(4001, 1 << 30)], &cur, ROOM) {
            Admission::Infeasible(m) => assert_eq!(
                m,
                "Node didn't have enough capacity: cpu, requested: 4001, capacity: 4000"
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(admit(&[r(100, 9 << 30)], &cur, ROOM), Admission::Infeasible(m) if m.contains("memory"))
        );
        assert!(
            matches!(admit(&[r(100, 7 << 30 | 1)], &cur, ROOM), Admission::Deferred(m) if m.contains("memory"))
        );
        // Limits-only changes never need room.
        let mut lim = cur;
        lim[0].cpu_limit = Some(3900);
        assert_eq!(admit(&lim, &cur, ROOM), Admission::Accept);
    }

    #[test]
    fn actuation_table() {
        let old = r(500, 100 << 20);
        let nr = ResizeRestart::NotRequired;
        let rc = ResizeRestart::RestartContainer;
        assert_eq!(plan_container("c", &old, &old, rc, rc, 0), Action::None);
        let mut cpu_up = old;
        cpu_up.cpu_limit = Some(1500);
        assert_eq!(
            plan_container("c", &old, &cpu_up, nr, rc, 0),
            Action::InPlace
        );
        assert_eq!(
            plan_container("c", &old, &cpu_up, rc, nr, 0),
            Action::Restart
        );
        let mut mem_down = old;
        mem_down.memory_limit = Some(150 << 20);
        assert_eq!(
            plan_container("c", &old, &mem_down, nr, nr, 120 << 20),
            Action::InPlace
        );
        assert!(
            matches!(plan_container("c", &old, &mem_down, nr, nr, 160 << 20), Action::Error(m) if m.contains("above the new limit"))
        );
        assert_eq!(
            plan_container("c", &old, &mem_down, nr, rc, 160 << 20),
            Action::Restart,
            "restart resets usage"
        );
        let mut mem_req = old;
        mem_req.memory_request = Some(50 << 20);
        assert_eq!(
            plan_container("c", &old, &mem_req, nr, rc, 0),
            Action::Restart,
            "request-only change restarts too"
        );
        let mut mem_up = old;
        mem_up.memory_limit = Some(1 << 30);
        assert_eq!(
            plan_container("c", &old, &mem_up, nr, nr, 900 << 20),
            Action::InPlace
        );
    }

    #[test]
    fn retry_order_follows_kubelet() {
        let p = |key: &str, inc, prio, g, since| PendingResize {
            key: key.into(),
            increases_requests: inc,
            priority: prio,
            guaranteed: g,
            pending_since: since,
        };
        let mut v = vec![
            p("a", true, 0, false, 1),
            p("b", false, 0, false, 5),
            p("c", true, 10, false, 9),
            p("d", true, 10, true, 9),
            p("e", true, 10, true, 2),
        ];
        retry_order(&mut v);
        let keys: Vec<&str> = v.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(keys, ["b", "e", "d", "c", "a"]);
    }
}
