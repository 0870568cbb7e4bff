//! Small value types shared by the planner's inputs and decisions.

use super::units::{Bytes, MilliCpu, cpu, cpu_value, mem, mem_value};

/// The two resources in-place resize can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    pub const ALL: [Resource; 2] = [Resource::Cpu, Resource::Memory];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }
}

/// CPU and memory values of one kind (requests, limits, allocated); `None` means the field is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ResourceValues {
    pub cpu: Option<MilliCpu>,
    pub memory: Option<Bytes>,
}

impl ResourceValues {
    pub fn new(cpu_m: Option<i64>, memory_bytes: Option<i64>) -> Self {
        Self {
            cpu: cpu_m.map(cpu),
            memory: memory_bytes.map(mem),
        }
    }

    /// The value of `r` as a plain integer (millicores or bytes).
    pub fn get(&self, r: Resource) -> Option<i64> {
        match r {
            Resource::Cpu => self.cpu.map(cpu_value),
            Resource::Memory => self.memory.map(mem_value),
        }
    }

    pub fn set(&mut self, r: Resource, v: Option<i64>) {
        match r {
            Resource::Cpu => self.cpu = v.map(cpu),
            Resource::Memory => self.memory = v.map(mem),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none()
    }
}

/// Requests and limits of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Requirements {
    pub requests: ResourceValues,
    pub limits: ResourceValues,
}

/// The pod's QoS class, as the API server computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// `resizePolicy[].restartPolicy` of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum RestartPolicy {
    #[default]
    NotRequired,
    RestartContainer,
}

/// A container's resize policy per resource (absent entries default to `NotRequired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ResizePolicy {
    pub cpu: RestartPolicy,
    pub memory: RestartPolicy,
}

impl ResizePolicy {
    pub fn get(&self, r: Resource) -> RestartPolicy {
        match r {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
        }
    }
}

/// A set of resources (which ones a policy controls, or which ones a step may change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceMask {
    pub cpu: bool,
    pub memory: bool,
}

impl ResourceMask {
    pub const ALL: ResourceMask = ResourceMask {
        cpu: true,
        memory: true,
    };
    pub const CPU: ResourceMask = ResourceMask {
        cpu: true,
        memory: false,
    };
    pub const MEMORY: ResourceMask = ResourceMask {
        cpu: false,
        memory: true,
    };
    pub const NONE: ResourceMask = ResourceMask {
        cpu: false,
        memory: false,
    };

    pub fn contains(self, r: Resource) -> bool {
        match r {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
        }
    }

    pub fn union(self, other: ResourceMask) -> ResourceMask {
        ResourceMask {
            cpu: self.cpu || other.cpu,
            memory: self.memory || other.memory,
        }
    }

    pub fn with(self, r: Resource) -> ResourceMask {
        self.union(ResourceMask::only(r))
    }

    pub fn only(r: Resource) -> ResourceMask {
        match r {
            Resource::Cpu => ResourceMask::CPU,
            Resource::Memory => ResourceMask::MEMORY,
        }
    }

    pub fn intersect(self, other: ResourceMask) -> ResourceMask {
        ResourceMask {
            cpu: self.cpu && other.cpu,
            memory: self.memory && other.memory,
        }
    }
}

impl Default for ResourceMask {
    fn default() -> Self {
        ResourceMask::ALL
    }
}
