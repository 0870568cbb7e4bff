//! The `report_buffer_depth` gauge when several endpoint lanes each have a buffer: it shows the deepest one,
//! the figure that says how close the agent is to dropping reports for some replica.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::metrics::gauge::Gauge;

#[derive(Debug, Default)]
struct Board {
    depths: Mutex<HashMap<u64, usize>>,
    next_id: AtomicU64,
}

/// Shared by the lanes of one reporter; hands out one [`DepthSlot`] per lane.
#[derive(Debug, Clone)]
pub struct DepthBoard {
    board: Arc<Board>,
    gauge: Gauge,
}

impl DepthBoard {
    pub fn new(gauge: Gauge) -> Self {
        Self {
            board: Arc::new(Board::default()),
            gauge,
        }
    }

    /// A slot for one more lane (depth 0 until it says otherwise).
    pub fn slot(&self) -> DepthSlot {
        let id = self.board.next_id.fetch_add(1, Ordering::Relaxed);
        DepthSlot {
            board: self.clone(),
            id,
            forget_on_drop: true,
        }
    }

    fn update(&self, id: u64, depth: Option<usize>) {
        let mut depths = self
            .board
            .depths
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match depth {
            Some(d) => {
                depths.insert(id, d);
            }
            None => {
                depths.remove(&id);
            }
        }
        let deepest = depths.values().copied().max().unwrap_or(0);
        self.gauge.set(i64::try_from(deepest).unwrap_or(i64::MAX));
    }

    /// The gauge's current value.
    pub fn deepest(&self) -> i64 {
        self.gauge.get()
    }
}

/// One lane's buffer depth. A fan-out lane's is forgotten when the lane ends (its endpoint went away); a lone
/// reporter's stays, so the gauge still shows what was left undelivered at shutdown.
#[derive(Debug)]
pub struct DepthSlot {
    board: DepthBoard,
    id: u64,
    forget_on_drop: bool,
}

impl DepthSlot {
    /// A slot of its own (a reporter with one endpoint).
    pub fn solo(gauge: Gauge) -> Self {
        let mut slot = DepthBoard::new(gauge).slot();
        slot.forget_on_drop = false;
        slot
    }

    pub fn set(&self, depth: usize) {
        self.board.update(self.id, Some(depth));
    }
}

impl Drop for DepthSlot {
    fn drop(&mut self) {
        if self.forget_on_drop {
            self.board.update(self.id, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_deepest_lane_and_forgets_ended_ones() {
        let board = DepthBoard::new(Gauge::default());
        let (a, b) = (board.slot(), board.slot());
        a.set(3);
        b.set(7);
        assert_eq!(board.deepest(), 7);
        b.set(1);
        assert_eq!(board.deepest(), 3);
        drop(a);
        assert_eq!(board.deepest(), 1);
        drop(b);
        assert_eq!(board.deepest(), 0);

        let gauge = Gauge::default();
        let solo = DepthSlot::solo(gauge.clone());
        solo.set(2);
        drop(solo);
        assert_eq!(
            gauge.get(),
            2,
            "a lone reporter's undelivered reports stay visible"
        );
    }
}
