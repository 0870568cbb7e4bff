//! Finding container cgroups: naming rules, the directory walk, and the join with the pod index.

pub mod naming;
pub mod resolve;
pub mod walk;

pub use naming::{Driver, Qos};
pub use resolve::{Resolution, Target, resolve, standalone};
pub use walk::{DiscoveryError, Found, FoundCgroup, walk};
