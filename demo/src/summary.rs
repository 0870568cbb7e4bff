//! What the pipeline achieved, from what was observed: requests before (as declared) and now (as applied by
//! the kubelet), in-place actions and restarts, and how fast an OOM kill was answered by a bigger size.

use std::fmt::Write as _;
use std::time::Duration;

use crate::observe::{Amount, EventRow, Observer, Snapshot, cpu, mem};
use crate::workloads::Workload;

/// The end-of-run figures.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Requests of the workloads Tailor manages (mode other than Off) as their owners declared them.
    pub declared: Amount,
    /// The same workloads' requests as the kubelet applied them at the end.
    pub applied: Amount,
    /// Report-only workloads: requests and what the recommender would set.
    pub report_only: Vec<(String, Amount, Option<Amount>)>,
    pub resizes: usize,
    pub boosts: usize,
    pub unboosts: usize,
    pub restarts_oom: usize,
    /// Restarts for any other reason (a resize that restarted a container would show here).
    pub restarts_other: usize,
    /// Per OOM kill answered: (pod, time from the kill to the resize event on that pod).
    pub oom_reactions: Vec<(String, Duration)>,
    /// Workloads whose VPA's `CPUThrottled` condition names their container at the end, with the share.
    pub throttled: Vec<(String, u8)>,
}

fn count(events: &[EventRow], reason: &str) -> usize {
    events.iter().filter(|e| e.reason == reason).count()
}

impl Summary {
    /// Sums up the observer's history.
    pub fn compute(workloads: &[Workload], observer: &Observer) -> Self {
        let last = observer.last.clone().unwrap_or_default();
        let mut s = Summary::default();
        for w in workloads {
            let declared = Amount::of(
                serde_json::from_value(w.resources["requests"].clone())
                    .ok()
                    .as_ref(),
            );
            let applied = sum_requests(&last, w.name);
            let vpa = last.vpas.get(w.name);
            if let Some(p) = vpa.and_then(|v| v.throttled_percent) {
                s.throttled.push((w.name.to_owned(), p));
            }
            if w.mode == "Off" {
                let target = vpa.and_then(|v| v.target);
                s.report_only.push((w.name.to_owned(), applied, target));
                continue;
            }
            for _ in 0..w.replicas {
                s.declared = s.declared.plus(declared);
            }
            s.applied = s.applied.plus(applied);
        }
        s.resizes = count(&last.events, "ResizedByTailor");
        s.boosts = count(&last.events, "StartupBoosted");
        s.unboosts = count(&last.events, "StartupUnboosted");
        for r in &observer.restarts {
            if r.reason == "OOMKilled" {
                s.restarts_oom += 1;
                let answer = last
                    .events
                    .iter()
                    .filter(|e| {
                        e.object == r.pod && e.reason == "ResizedByTailor" && e.time >= r.at
                    })
                    .map(|e| e.time)
                    .min();
                if let Some(t) = answer {
                    let d = t.duration_since(r.at);
                    s.oom_reactions
                        .push((r.pod.clone(), Duration::try_from(d).unwrap_or_default()));
                }
            } else {
                s.restarts_other += 1;
            }
        }
        s
    }

    /// The summary as printed at the end of the demo.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let pct = |before: i64, after: i64| {
            if before > 0 {
                (before - after) as f64 * 100.0 / before as f64
            } else {
                0.0
            }
        };
        let _ = writeln!(out, "== Summary (workloads Tailor manages) ==");
        let _ = writeln!(
            out,
            "CPU requested:    {:>8} declared -> {:>8} applied  (saved {}, {:.0}%)",
            cpu(self.declared.cpu_millis),
            cpu(self.applied.cpu_millis),
            cpu(self.declared.cpu_millis - self.applied.cpu_millis),
            pct(self.declared.cpu_millis, self.applied.cpu_millis)
        );
        let _ = writeln!(
            out,
            "Memory requested: {:>8} declared -> {:>8} applied  (saved {}, {:.0}%)",
            mem(self.declared.memory_bytes),
            mem(self.applied.memory_bytes),
            mem(self.declared.memory_bytes - self.applied.memory_bytes),
            pct(self.declared.memory_bytes, self.applied.memory_bytes)
        );
        let _ = writeln!(
            out,
            "In-place actions: {} resizes, {} startup boosts, {} unboosts; restarts not caused by OOM kills: {}",
            self.resizes, self.boosts, self.unboosts, self.restarts_other
        );
        if self.restarts_oom == 0 {
            let _ = writeln!(out, "OOM kills:        none observed");
        } else {
            let times: Vec<String> = self
                .oom_reactions
                .iter()
                .map(|(pod, d)| format!("{pod} {:.1}s", d.as_secs_f64()))
                .collect();
            let _ = writeln!(
                out,
                "OOM kills:        {}, answered by a memory resize: {} (kill -> resize: {})",
                self.restarts_oom,
                self.oom_reactions.len(),
                if times.is_empty() {
                    "-".to_owned()
                } else {
                    times.join(", ")
                }
            );
        }
        let throttled: Vec<String> = self
            .throttled
            .iter()
            .map(|(name, p)| format!("{name} {p}%"))
            .collect();
        let _ = writeln!(
            out,
            "CPU-throttled:    {} (share of recent CFS periods, from the VPAs' CPUThrottled condition)",
            if throttled.is_empty() {
                "none".to_owned()
            } else {
                throttled.join(", ")
            }
        );
        for (name, requests, target) in &self.report_only {
            let _ = writeln!(
                out,
                "Report only ({name}, mode Off): requests {} , recommendation {} (not applied)",
                requests.display(),
                target.map_or("-".to_owned(), Amount::display)
            );
        }
        out
    }
}

fn sum_requests(snap: &Snapshot, workload: &str) -> Amount {
    snap.pods
        .iter()
        .filter(|p| p.workload == workload)
        .fold(Amount::default(), |acc, p| acc.plus(p.requests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{PodRow, Restart};

    #[test]
    fn savings_restarts_and_oom_reaction_from_history() {
        let workloads: Vec<Workload> = crate::workloads::default_workloads()
            .into_iter()
            .filter(|w| w.name == "worker")
            .collect();
        let t0 = jiff::Timestamp::UNIX_EPOCH;
        let later = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
        let mut obs = Observer::default();
        obs.last = Some(Snapshot {
            pods: vec![PodRow {
                workload: "worker".into(),
                pod: "worker-1".into(),
                uid: "u".into(),
                node: "n".into(),
                requests: Amount {
                    cpu_millis: 100,
                    memory_bytes: 200 << 20,
                },
                limits: Amount::default(),
                restarts: 1,
                ready: true,
                last_termination: None,
            }],
            events: vec![EventRow {
                time: later(3),
                object: "worker-1".into(),
                reason: "ResizedByTailor".into(),
                message: String::new(),
            }],
            ..Snapshot::default()
        });
        obs.restarts.push(Restart {
            workload: "worker".into(),
            pod: "worker-1".into(),
            reason: "OOMKilled".into(),
            at: later(1),
        });
        let s = Summary::compute(&workloads, &obs);
        assert_eq!(s.declared.cpu_millis, 200);
        assert_eq!(s.applied.cpu_millis, 100);
        assert_eq!((s.resizes, s.restarts_oom, s.restarts_other), (1, 1, 0));
        assert_eq!(
            s.oom_reactions,
            vec![("worker-1".to_owned(), Duration::from_secs(2))]
        );
        let text = s.render();
        assert!(text.contains("saved 100m, 50%"), "{text}");
        assert!(text.contains("CPU-throttled:    none"), "{text}");
        obs.last.as_mut().expect("snapshot").vpas.insert(
            "worker".into(),
            crate::observe::VpaRow {
                throttled_percent: Some(97),
                ..Default::default()
            },
        );
        let text = Summary::compute(&workloads, &obs).render();
        assert!(text.contains("CPU-throttled:    worker 97%"), "{text}");
    }
}
