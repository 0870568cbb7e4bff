//! The state shared by report ingestion, the watches and the recommendation pass.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;

use crate::ingest::dedup::SequenceTracker;
use crate::ingest::oom::OomLedger;
use crate::ingest::parked::ParkedEntries;
use crate::model::{Model, ModelOptions};
use crate::pods::PodIndex;

/// Model, pod index and report sequence numbers, each behind its own lock (held briefly, never across I/O).
///
/// Where several are held at once they are taken in this order: pods, model, then one of the OOM ledger or the
/// parked entries (never both).
#[derive(Debug)]
pub struct Shared {
    model: Mutex<Model>,
    pods: RwLock<PodIndex>,
    sequences: Mutex<SequenceTracker>,
    ooms: Mutex<OomLedger>,
    parked: Mutex<ParkedEntries>,
    /// Woken when an OOM kill arrives, so the recommendation pass runs at once instead of at its next tick.
    pub urgent: Notify,
}

impl Shared {
    /// Empty state.
    pub fn new(opts: ModelOptions) -> Self {
        Self {
            model: Mutex::new(Model::new(opts)),
            pods: RwLock::new(PodIndex::default()),
            sequences: Mutex::new(SequenceTracker::default()),
            ooms: Mutex::new(OomLedger::default()),
            parked: Mutex::new(ParkedEntries::default()),
            urgent: Notify::new(),
        }
    }

    // A panic while a lock is held cannot leave these structures half-updated in a way later readers would
    // misread (each update is a single map operation), so poisoned locks are recovered.

    /// The model.
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pod index, for reading.
    pub fn pods(&self) -> RwLockReadGuard<'_, PodIndex> {
        self.pods.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pod index, for writing.
    pub fn pods_mut(&self) -> RwLockWriteGuard<'_, PodIndex> {
        self.pods.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The report sequence numbers.
    pub fn sequences(&self) -> MutexGuard<'_, SequenceTracker> {
        self.sequences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The OOM kills already counted, per runtime container.
    pub fn ooms(&self) -> MutexGuard<'_, OomLedger> {
        self.ooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Report entries waiting for their pod or its workload to be known.
    pub fn parked(&self) -> MutexGuard<'_, ParkedEntries> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
