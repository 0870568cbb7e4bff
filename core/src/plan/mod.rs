//! The resize planner: a pure function from a pod, its recommendation and the cluster's figures to a
//! [`Decision`] with a reason. No I/O and no clock: `now` comes in with the [`PassState`].
//!
//! The rules it enforces are those of `research/inplace-and-boost.md` ("Rules an updater must obey"): the QoS
//! class never changes, requests stay ≤ limits and follow `controlledValues`, LimitRange and quota clamp,
//! CPU floors apply to comparisons, memory limits drop only above the working set plus a margin, increases fit
//! the node now or are cut down, `RestartContainer` changes are budgeted like disruptions (or split), triggers
//! have hysteresis and cooldowns, rate limits are token buckets, and pending resizes are followed through
//! (bounded Deferred, Infeasible revert with back-off, InProgress errors). The startup CPU boost lives in
//! [`boost`].

pub mod admission;
pub mod annotation;
pub mod boost;
pub mod config;
pub mod decision;
mod fit;
mod follow;
pub mod input;
pub mod memory;
mod pass;
pub mod qos;
pub mod rate;
mod sizing;
mod trigger;
pub mod types;
mod units;

pub use admission::{Creation, CreationInput, size_at_creation};
pub use boost::{BoostAmount, BoostPolicy, BoostRecord, BoostedContainer};
pub use config::PlannerConfig;
pub use decision::{
    ContainerChange, Decision, EvictReason, FailureReason, ResizePlan, SkipReason, Trigger,
    UnboostReason, WaitReason,
};
pub use input::*;
pub use memory::{OomFloor, PodMemory, ResizeKind, ResizeRecord};
pub use pass::{PassState, PodInput};
pub use qos::compute_qos;
pub use rate::{RateLimits, TokenBucket};
pub use types::*;

#[cfg(test)]
mod tests;
