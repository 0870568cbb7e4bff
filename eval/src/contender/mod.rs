//! The recommenders under test. Each sees the same observed samples (usage as the container could show it:
//! throttled CPU is capped at the limit, an OOM-killed container shows its limit) and the same OOM kills.

mod krr;
mod tailor;
mod vpa_go;

use tailor_core::estimate::Recommendation;
use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

pub use krr::Krr;
pub use tailor::{Tailor, TailorVariant};
pub use vpa_go::{DriverError, VpaGo};

/// Why a contender could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ContenderError {
    #[error("upstream VPA driver: {0}")]
    Driver(#[from] DriverError),
}

/// A recommender fed one container's samples in time order.
pub trait Contender {
    fn observe(
        &mut self,
        at: Timestamp,
        cpu: Option<MilliCpu>,
        memory: Option<Bytes>,
    ) -> Result<(), ContenderError>;
    /// An OOM kill at `at` with the memory request and limit then in force.
    fn record_oom(
        &mut self,
        at: Timestamp,
        request: Bytes,
        limit: Bytes,
    ) -> Result<(), ContenderError>;
    /// The current recommendation; `None` means "leave the request alone".
    fn recommend(&mut self, at: Timestamp) -> Result<Option<Recommendation>, ContenderError>;
    /// The minute starting `at` was throttled under `limit` in about `share` of its CFS periods (demand above
    /// the limit). Only Tailor's throttling signal listens.
    fn observe_throttling(&mut self, _at: Timestamp, _limit: MilliCpu, _share: f64) {}
    /// A memory limit recommended apart from the request (after [`Self::recommend`] at the same `at`); `None`
    /// keeps the limit's ratio to the request.
    fn memory_limit(&mut self, _at: Timestamp) -> Option<Bytes> {
        None
    }
}

/// The static initial request: never recommends anything.
#[derive(Debug, Default)]
pub struct Static;

impl Contender for Static {
    fn observe(
        &mut self,
        _: Timestamp,
        _: Option<MilliCpu>,
        _: Option<Bytes>,
    ) -> Result<(), ContenderError> {
        Ok(())
    }
    fn record_oom(&mut self, _: Timestamp, _: Bytes, _: Bytes) -> Result<(), ContenderError> {
        Ok(())
    }
    fn recommend(&mut self, _: Timestamp) -> Result<Option<Recommendation>, ContenderError> {
        Ok(None)
    }
}

/// Which contender to build (one fresh instance per trace).
#[derive(Debug, Clone, PartialEq)]
pub enum ContenderSpec {
    Static,
    Krr,
    /// The upstream VPA recommender's own Go code, through the driver binary at this path.
    VpaGo(std::path::PathBuf),
    Tailor(Box<TailorVariant>),
}

impl ContenderSpec {
    pub fn name(&self) -> String {
        match self {
            Self::Static => "static".into(),
            Self::Krr => "krr-like".into(),
            Self::VpaGo(_) => "vpa-upstream".into(),
            Self::Tailor(v) => v.name.clone(),
        }
    }

    pub fn build(&self) -> Result<Box<dyn Contender>, ContenderError> {
        Ok(match self {
            Self::Static => Box::new(Static),
            Self::Krr => Box::new(Krr::default()),
            Self::VpaGo(path) => Box::new(VpaGo::spawn(path)?),
            Self::Tailor(v) => Box::new(Tailor::new(v.as_ref().clone())),
        })
    }

    /// [`Self::all`] and then the candidate core changes ([`TailorVariant::candidates`]).
    pub fn with_candidates(driver: std::path::PathBuf) -> Vec<Self> {
        let mut v = Self::all(driver);
        v.extend(
            TailorVariant::candidates()
                .into_iter()
                .map(|t| Self::Tailor(Box::new(t))),
        );
        v
    }

    /// Every contender of the evaluation, in table order.
    pub fn all(driver: std::path::PathBuf) -> Vec<Self> {
        let mut v = vec![Self::Static, Self::Krr, Self::VpaGo(driver)];
        v.extend(
            TailorVariant::all()
                .into_iter()
                .map(|t| Self::Tailor(Box::new(t))),
        );
        v
    }
}
