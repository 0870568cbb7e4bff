//! CPU contention between containers on one node: when the containers together want more CPU than the node
//! has, CFS gives each a share proportional to its `cpu.weight`, and containers that want less than their
//! share leave the rest to the others (water-filling).

/// Each container's CPU share in millicores, given `(wanted millicores, cpu.weight)` pairs and the node's
/// capacity. If everything fits, every container gets what it wants.
pub fn fair_shares(capacity: u64, wants: &[(u64, u64)]) -> Vec<u64> {
    let total: u64 = wants.iter().map(|w| w.0).sum();
    if total <= capacity {
        return wants.iter().map(|w| w.0).collect();
    }
    let mut shares = vec![0u64; wants.len()];
    let mut open: Vec<usize> = (0..wants.len()).filter(|&i| wants[i].0 > 0).collect();
    let mut remaining = capacity;
    loop {
        let weight: u64 = open.iter().map(|&i| wants[i].1.max(1)).sum();
        if weight == 0 || open.is_empty() {
            break;
        }
        // Containers wanting less than their weighted part are satisfied and leave the pool.
        let satisfied: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&i| {
                u128::from(wants[i].0) * u128::from(weight)
                    <= u128::from(remaining) * u128::from(wants[i].1.max(1))
            })
            .collect();
        if satisfied.is_empty() {
            for &i in &open {
                let part =
                    u128::from(remaining) * u128::from(wants[i].1.max(1)) / u128::from(weight);
                shares[i] = u64::try_from(part).unwrap_or(remaining);
            }
            break;
        }
        for &i in &satisfied {
            shares[i] = wants[i].0;
            remaining -= wants[i].0;
        }
        open.retain(|i| !satisfied.contains(i));
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(
            fair_shares(4000, &[(1000, 100), (2000, 100)]),
            vec![1000, 2000]
        );
        // Equal weights split evenly; the small one is satisfied and its rest goes to the others.
        assert_eq!(
            fair_shares(3000, &[(500, 100), (4000, 100), (4000, 100)]),
            vec![500, 1250, 1250]
        );
        // Weights 1:3.
        assert_eq!(
            fair_shares(2000, &[(4000, 100), (4000, 300)]),
            vec![500, 1500]
        );
        assert_eq!(fair_shares(1000, &[(0, 100), (4000, 1)]), vec![0, 1000]);
    }

    proptest! {
        #[test]
        fn shares_never_exceed_wants_or_capacity(cap in 1u64..64_000, wants in proptest::collection::vec((0u64..8000, 1u64..10_000), 0..30)) {
            let s = fair_shares(cap, &wants);
            prop_assert_eq!(s.len(), wants.len());
            for (share, (want, _)) in s.iter().zip(&wants) {
                prop_assert!(share <= want);
            }
            let total: u64 = s.iter().sum();
            let wanted: u64 = wants.iter().map(|w| w.0).sum();
            prop_assert!(total <= cap.max(wanted.min(cap)));
            // Work-conserving up to rounding: the node is used fully when oversubscribed.
            if wanted > cap {
                prop_assert!(total + wants.len() as u64 >= cap, "total {total} cap {cap}");
            }
        }
    }
}
