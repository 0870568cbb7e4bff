//! Bounded report buffer for when the recommender is away. Urgent reports go out before periodic ones; when
//! full, the oldest periodic report is dropped first (an OOM kill is worth more than ten seconds of usage).

use std::borrow::Borrow;
use std::collections::VecDeque;

use tailor_core::report::{NodeReport, ReportKind};

/// Reports waiting for delivery, at most `capacity` of them. `R` is the report or a shared handle to it (one
/// report fanned out to several recommender replicas is held once, by each endpoint's buffer).
#[derive(Debug)]
pub struct ReportBuffer<R = NodeReport> {
    urgent: VecDeque<R>,
    periodic: VecDeque<R>,
    capacity: usize,
}

impl<R: Borrow<NodeReport>> ReportBuffer<R> {
    /// A buffer holding at most `capacity` reports (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            urgent: VecDeque::new(),
            periodic: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds a report; returns the one dropped to make room, if any.
    pub fn push(&mut self, report: R) -> Option<R> {
        let dropped = if self.len() >= self.capacity {
            self.periodic
                .pop_front()
                .or_else(|| self.urgent.pop_front())
        } else {
            None
        };
        match report.borrow().kind {
            ReportKind::Urgent => self.urgent.push_back(report),
            ReportKind::Periodic => self.periodic.push_back(report),
        }
        dropped
    }

    /// The next report to send.
    pub fn front(&self) -> Option<&R> {
        self.urgent.front().or_else(|| self.periodic.front())
    }

    /// Removes the report [`ReportBuffer::front`] returned.
    pub fn pop_front(&mut self) -> Option<R> {
        self.urgent
            .pop_front()
            .or_else(|| self.periodic.pop_front())
    }

    pub fn len(&self) -> usize {
        self.urgent.len() + self.periodic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tailor_core::report::REPORT_VERSION;

    fn report(seq: u64, kind: ReportKind) -> NodeReport {
        NodeReport {
            version: REPORT_VERSION,
            node: "n".into(),
            agent_id: "a".into(),
            sequence: seq,
            created_ms: 1_800_000_000_000,
            kind,
            containers: Vec::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn urgent_first_and_oldest_periodic_dropped() {
        let mut b = ReportBuffer::new(3);
        assert!(b.push(report(1, ReportKind::Periodic)).is_none());
        assert!(b.push(report(2, ReportKind::Periodic)).is_none());
        assert!(b.push(report(3, ReportKind::Urgent)).is_none());
        assert_eq!(
            b.push(report(4, ReportKind::Periodic)).map(|r| r.sequence),
            Some(1)
        );
        assert_eq!(b.len(), 3);
        let order: Vec<u64> = std::iter::from_fn(|| b.pop_front())
            .map(|r| r.sequence)
            .collect();
        assert_eq!(order, [3, 2, 4]);
    }

    #[test]
    fn all_urgent_drops_oldest_urgent() {
        let mut b = ReportBuffer::new(1);
        b.push(report(1, ReportKind::Urgent));
        assert_eq!(
            b.push(report(2, ReportKind::Urgent)).map(|r| r.sequence),
            Some(1)
        );
        assert_eq!(b.front().map(|r| r.sequence), Some(2));
    }
}
