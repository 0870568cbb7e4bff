//! The pods on this node: an index fed by a kube watch.

pub mod convert;
pub mod index;
pub mod watch;

pub use index::{ContainerInfo, ContainerMatch, PodIndex, PodInfo};
