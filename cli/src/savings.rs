//! The savings math: per resource, Σ over replicas of (current request − recommended target), in exact integer
//! arithmetic (`i128` inside, saturated to the `i64` of `tailor_core`'s quantities), and the report totals.

use crate::amount::Amount;
use crate::report::{ResourceRow, ResourceTotals, Row, Spread, Totals};

/// One replica's current request and limit of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current<T> {
    /// The request, if set.
    pub request: Option<T>,
    /// The limit, if set.
    pub limit: Option<T>,
}

/// What the VPA recommends for one resource of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recommended<T> {
    /// Target.
    pub target: Option<T>,
    /// Lower bound.
    pub lower_bound: Option<T>,
    /// Upper bound.
    pub upper_bound: Option<T>,
    /// Tailor's recommended limit (memory, from the VPA's `tailor.dev/memory-limits` annotation).
    pub limit: Option<T>,
}

impl<T> Default for Recommended<T> {
    fn default() -> Self {
        Self {
            target: None,
            lower_bound: None,
            upper_bound: None,
            limit: None,
        }
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// `part / whole × 100`, rounded half away from zero; `None` when `whole` is zero.
pub fn percent(part: i128, whole: i128) -> Option<i64> {
    if whole == 0 {
        return None;
    }
    let scaled = part.saturating_mul(100);
    let (q, r) = (scaled / whole, scaled % whole);
    let round_away = r.unsigned_abs().saturating_mul(2) >= whole.unsigned_abs();
    let adjust = if round_away {
        if (scaled < 0) != (whole < 0) { -1 } else { 1 }
    } else {
        0
    };
    Some(saturate(q + adjust))
}

/// The figures of one resource over `replicas`.
pub fn resource_row<T: Amount>(
    replicas: &[Current<T>],
    recommended: Recommended<T>,
    controlled: bool,
) -> ResourceRow<T> {
    let requested: i128 = replicas
        .iter()
        .map(|r| i128::from(r.request.map_or(0, T::raw)))
        .sum();
    let count = i128::try_from(replicas.len()).unwrap_or(i128::MAX);
    let recommended_total = recommended
        .target
        .map(|t| i128::from(t.raw()).saturating_mul(count));
    let savings = recommended_total.map(|rec| requested - rec);
    // A limit Tailor recommends is what the current limit should reach; without one, the target is.
    let limit_floor = recommended.limit.or(recommended.target);
    let below = |value: Option<T>| limit_floor.is_some_and(|t| value.is_some_and(|v| v < t));
    ResourceRow {
        unit: T::UNIT,
        controlled,
        request: Spread::of(replicas.iter().filter_map(|r| r.request)),
        limit: Spread::of(replicas.iter().filter_map(|r| r.limit)),
        replicas_without_request: u32::try_from(
            replicas.iter().filter(|r| r.request.is_none()).count(),
        )
        .unwrap_or(u32::MAX),
        target: recommended.target,
        lower_bound: recommended.lower_bound,
        upper_bound: recommended.upper_bound,
        recommended_limit: recommended.limit,
        requested_total: T::from_raw(saturate(requested)),
        recommended_total: recommended_total.map(|v| T::from_raw(saturate(v))),
        savings: savings.map(|v| T::from_raw(saturate(v))),
        change_percent: savings.and_then(|s| percent(-s, requested)),
        // A replica without a request asks for nothing, so any positive target is above it.
        under_provisioned: recommended.target.is_some_and(|t| {
            replicas
                .iter()
                .any(|r| r.request.map_or(t.raw() > 0, |v| v < t))
        }),
        limit_below_target: replicas.iter().any(|r| below(r.limit)),
    }
}

fn totals_of<T: Amount>(rows: impl Iterator<Item = ResourceRow<T>>) -> ResourceTotals<T> {
    let (mut requested, mut recommended, mut increases) = (0i128, 0i128, 0i128);
    for row in rows {
        let (Some(rec), Some(savings)) = (row.recommended_total, row.savings) else {
            continue;
        };
        requested += i128::from(row.requested_total.raw());
        recommended += i128::from(rec.raw());
        if savings.raw() < 0 {
            increases -= i128::from(savings.raw());
        }
    }
    ResourceTotals {
        unit: T::UNIT,
        requested: T::from_raw(saturate(requested)),
        recommended: T::from_raw(saturate(recommended)),
        savings: T::from_raw(saturate(requested - recommended)),
        increases: T::from_raw(saturate(increases)),
    }
}

/// Totals over `rows`: only rows with a target count towards a resource's sums.
pub fn totals(rows: &[Row]) -> Totals {
    Totals {
        rows: u32::try_from(rows.len()).unwrap_or(u32::MAX),
        rows_with_recommendation: u32::try_from(
            rows.iter()
                .filter(|r| r.cpu.target.is_some() || r.memory.target.is_some())
                .count(),
        )
        .unwrap_or(u32::MAX),
        cpu: totals_of(rows.iter().map(|r| r.cpu.clone())),
        memory: totals_of(rows.iter().map(|r| r.memory.clone())),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tailor_core::quantity::{Bytes, MilliCpu};

    use super::*;

    fn cpu(request: Option<i64>, limit: Option<i64>) -> Current<MilliCpu> {
        Current {
            request: request.map(MilliCpu),
            limit: limit.map(MilliCpu),
        }
    }

    fn target<T>(t: T) -> Recommended<T> {
        Recommended {
            target: Some(t),
            ..Recommended::default()
        }
    }

    #[test]
    fn savings_sum_over_replicas() {
        let pods = [cpu(Some(500), Some(1000)), cpu(Some(500), Some(1000))];
        let row = resource_row(&pods, target(MilliCpu(120)), true);
        assert_eq!(row.requested_total, MilliCpu(1000));
        assert_eq!(row.recommended_total, Some(MilliCpu(240)));
        assert_eq!(row.savings, Some(MilliCpu(760)));
        assert_eq!(row.change_percent, Some(-76));
        assert!(!row.under_provisioned && !row.limit_below_target);
        assert_eq!(
            row.request,
            Some(Spread {
                min: MilliCpu(500),
                max: MilliCpu(500)
            })
        );
    }

    #[test]
    fn increases_are_negative_savings_and_flagged() {
        let pods = [
            Current {
                request: Some(Bytes(128 << 20)),
                limit: Some(Bytes(256 << 20)),
            },
            Current {
                request: Some(Bytes(512 << 20)),
                limit: Some(Bytes(1 << 30)),
            },
        ];
        let row = resource_row(&pods, target(Bytes(300 << 20)), true);
        assert_eq!(row.savings, Some(Bytes(40 << 20)), "640Mi − 600Mi");
        assert!(row.under_provisioned, "the 128Mi replica is below 300Mi");
        assert!(row.limit_below_target, "its 256Mi limit too");
        let row = resource_row(&pods[..1], target(Bytes(300 << 20)), true);
        assert_eq!(row.savings, Some(Bytes(-(172 << 20))));
        assert_eq!(row.change_percent, Some(134), "172/128 = 134.4%");
    }

    #[test]
    fn a_recommended_limit_replaces_the_target_as_the_limit_floor() {
        let pods = [Current {
            request: Some(Bytes(256 << 20)),
            limit: Some(Bytes(512 << 20)),
        }];
        let with_limit = |limit: i64| Recommended {
            target: Some(Bytes(300 << 20)),
            limit: Some(Bytes(limit)),
            ..Recommended::default()
        };
        let row = resource_row(&pods, with_limit(768 << 20), true);
        assert_eq!(row.recommended_limit, Some(Bytes(768 << 20)));
        assert!(row.limit_below_target, "512Mi < 768Mi recommended limit");
        assert_eq!(
            row.savings,
            Some(Bytes(-(44 << 20))),
            "savings still use the target"
        );
        let row = resource_row(&pods, with_limit(512 << 20), true);
        assert!(!row.limit_below_target, "equal is not below");
        let row = resource_row(&pods, target(Bytes(300 << 20)), true);
        assert_eq!(row.recommended_limit, None);
        assert!(!row.limit_below_target, "512Mi is above the 300Mi target");
        let row = resource_row(
            &[Current {
                request: Some(Bytes(1)),
                limit: Some(Bytes(400 << 20)),
            }],
            Recommended {
                target: Some(Bytes(500 << 20)),
                limit: Some(Bytes(300 << 20)),
                ..Recommended::default()
            },
            true,
        );
        assert!(
            !row.limit_below_target,
            "the recommended limit, not the target, decides"
        );
    }

    #[test]
    fn missing_requests_count_as_zero() {
        let pods = [cpu(None, None), cpu(Some(100), None)];
        let row = resource_row(&pods, target(MilliCpu(50)), true);
        assert_eq!(row.replicas_without_request, 1);
        assert_eq!(row.savings, Some(MilliCpu(0)));
        assert!(row.under_provisioned);
        let row = resource_row(&[cpu(None, None)], target(MilliCpu(50)), true);
        assert_eq!(row.change_percent, None, "no percentage of nothing");
        assert_eq!(row.request, None);
    }

    #[test]
    fn no_target_no_savings() {
        let row = resource_row(&[cpu(Some(100), None)], Recommended::default(), true);
        assert_eq!((row.savings, row.recommended_total), (None, None));
        assert!(!row.under_provisioned);
    }

    #[test]
    fn percent_rounds_half_away_from_zero() {
        assert_eq!(percent(1, 3), Some(33));
        assert_eq!(percent(2, 3), Some(67));
        assert_eq!(percent(-1, 2), Some(-50));
        assert_eq!(percent(-1, 200), Some(-1), "-0.5% rounds away");
        assert_eq!(percent(1, 0), None);
    }

    proptest! {
        #[test]
        fn savings_equal_per_replica_differences(
            requests in proptest::collection::vec(proptest::option::of(0i64..1 << 50), 0..20),
            t in 0i64..1 << 50,
        ) {
            let pods: Vec<_> = requests.iter().map(|r| Current { request: r.map(Bytes), limit: None }).collect();
            let row = resource_row(&pods, target(Bytes(t)), true);
            let want: i64 = requests.iter().map(|r| r.unwrap_or(0) - t).sum();
            prop_assert_eq!(row.savings, Some(Bytes(want)));
            prop_assert_eq!(row.under_provisioned, requests.iter().any(|r| r.unwrap_or(0) < t));
        }

        #[test]
        fn extreme_amounts_saturate_instead_of_panicking(
            requests in proptest::collection::vec(any::<i64>(), 0..8),
            t in any::<i64>(),
        ) {
            let pods: Vec<_> = requests.iter().map(|r| cpu(Some(*r), Some(*r))).collect();
            let _ = resource_row(&pods, target(MilliCpu(t)), true);
        }
    }
}
