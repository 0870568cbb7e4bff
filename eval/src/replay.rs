//! Virtual-time replay of one minute series through one contender and the resize policy.

use tailor_core::quantity::{Bytes, MilliCpu};
use tailor_core::time::Timestamp;

use crate::contender::{Contender, ContenderError};
use crate::fill::{MINUTE, MinuteSeries};
use crate::planner::CorePlanner;
use crate::policy::{Controlled, PolicyState, ResizePolicy, Size};
use crate::score::Score;

/// One minute of a replay, kept for plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub at: Timestamp,
    pub cpu_demand: Option<MilliCpu>,
    pub memory_demand: Option<Bytes>,
    pub size: Size,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayResult {
    pub score: Score,
    /// Filled only when asked for (plots).
    pub steps: Vec<Step>,
}

/// Replays `series` minute by minute: score the minute against the size in force, show the contender what the
/// container could show (capped CPU, the limit at an OOM kill) and the kill itself, ask for a recommendation,
/// and let the policy decide whether to resize before the next minute.
pub fn replay(
    series: &MinuteSeries,
    contender: &mut dyn Contender,
    policy: &ResizePolicy,
    keep_steps: bool,
) -> Result<ReplayResult, ContenderError> {
    let controlled = Controlled {
        cpu: series.has_cpu(),
        memory: series.has_memory(),
    };
    let start = series.minutes.first().map_or(Timestamp::EPOCH, |m| m.at);
    let mut size = Size::from_requests(
        series.provisioned.cpu,
        series.provisioned.memory,
        policy.ratios,
    );
    let mut state = PolicyState::new(start);
    let mut planner = policy
        .core_planner
        .then(|| CorePlanner::new(start, &size, controlled));
    let mut score = Score {
        traces: 1,
        ..Score::default()
    };
    let mut steps = Vec::new();
    for m in &series.minutes {
        if keep_steps {
            steps.push(Step {
                at: m.at,
                cpu_demand: m.cpu,
                memory_demand: m.memory,
                size,
            });
        }
        let out = score.minute(m.cpu, m.memory, &size);
        contender.observe(m.at, out.cpu_observed, out.memory_observed)?;
        // A minute whose mean demand is above the limit was throttled in at least (demand − limit) / demand of
        // its periods: the lowest share consistent with the mean (steady demand would be throttled in all).
        if let (Some(d), Some(seen)) = (m.cpu, out.cpu_observed)
            && d > seen
            && d.get() > 0
        {
            let share = (d.get() - seen.get()) as f64 / d.get() as f64;
            contender.observe_throttling(m.at, size.cpu_limit, share);
        }
        if out.oom_killed {
            contender.record_oom(m.at, size.memory_request, size.memory_limit)?;
            state.last_oom = Some(m.at);
        }
        if let Some(p) = planner.as_mut() {
            if let Some(ws) = out.memory_observed {
                p.observe_memory(ws);
            }
            if out.oom_killed {
                p.record_oom(m.at);
            }
        }
        // The recommender's loop runs at the end of the minute, the planner right after it.
        let now = m.at.saturating_add(MINUTE);
        let Some(rec) = contender.recommend(now)? else {
            continue;
        };
        let next = match planner.as_mut() {
            Some(p) => {
                let limit = contender.memory_limit(now);
                p.decide(now, &size, &rec, limit)
            }
            None => policy
                .decide(now, &size, &rec, controlled, &mut state)
                .map(|r| r.to),
        };
        if let Some(to) = next.filter(|to| *to != size) {
            score.resizes += 1;
            if to.memory_request != size.memory_request {
                score.disruptive_resizes += 1;
            }
            size = to;
        }
    }
    Ok(ReplayResult { score, steps })
}
