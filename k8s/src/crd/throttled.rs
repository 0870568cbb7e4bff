//! The `CPUThrottled` condition Tailor's recommender adds to a VPA's status: which containers spent a large share
//! of their recent CFS periods throttled. Conditions carry no structured payload, so the message is written in
//! one fixed form that `tailor report` reads back; container names (DNS labels) hold neither spaces nor commas,
//! which keeps it unambiguous.

/// One container's throttled share, in whole percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottledContainer {
    /// Container name.
    pub container: String,
    /// Throttled share of its recent CFS periods, 0–100.
    pub percent: u8,
}

const LIST_START: &str = " over recent hours: ";

/// Whole percent of a share, clamped to 0–100 (a share that is not a number is 0).
pub fn whole_percent(share: f64) -> u8 {
    if share.is_finite() {
        (share.clamp(0.0, 1.0) * 100.0).round() as u8
    } else {
        0
    }
}

/// The condition message for containers at or above `threshold_percent`; an empty list says none is.
pub fn throttled_message(threshold_percent: u8, containers: &[ThrottledContainer]) -> String {
    if containers.is_empty() {
        return format!(
            "no container was throttled in {threshold_percent}% or more of its CFS periods over recent hours"
        );
    }
    let list: Vec<String> = containers
        .iter()
        .map(|c| format!("{} {}%", c.container, c.percent))
        .collect();
    format!(
        "throttled in {threshold_percent}% or more of CFS periods{LIST_START}{}",
        list.join(", ")
    )
}

/// The containers a `CPUThrottled` message names; entries that do not have the written form are skipped, so a
/// message from another writer yields nothing rather than an error.
pub fn parse_throttled_message(message: &str) -> Vec<ThrottledContainer> {
    let Some((_, list)) = message.split_once(LIST_START) else {
        return Vec::new();
    };
    list.split(", ")
        .filter_map(|entry| {
            let (name, percent) = entry.split_once(' ')?;
            let percent: u8 = percent.strip_suffix('%')?.parse().ok()?;
            let valid_name = !name.is_empty() && !name.contains([',', ' ']);
            (valid_name && percent <= 100).then(|| ThrottledContainer {
                container: name.to_owned(),
                percent,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(name: &str, percent: u8) -> ThrottledContainer {
        ThrottledContainer {
            container: name.to_owned(),
            percent,
        }
    }

    #[test]
    fn messages_read_back_and_foreign_text_yields_nothing() {
        let list = vec![c("app", 23), c("istio-proxy", 100)];
        let message = throttled_message(10, &list);
        assert_eq!(
            message,
            "throttled in 10% or more of CFS periods over recent hours: app 23%, istio-proxy 100%"
        );
        assert_eq!(parse_throttled_message(&message), list);
        assert!(parse_throttled_message(&throttled_message(10, &[])).is_empty());
        assert!(parse_throttled_message("set by someone else: app 5").is_empty());
        assert_eq!(
            parse_throttled_message("x over recent hours: a 5%, b 300%, c%, d 7%"),
            vec![c("a", 5), c("d", 7)]
        );
        assert_eq!(whole_percent(0.234), 23);
        assert_eq!(whole_percent(2.0), 100);
        assert_eq!(whole_percent(f64::NAN), 0);
    }

    proptest! {
        #[test]
        fn any_list_of_dns_labels_round_trips(
            list in prop::collection::vec(("[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", 0u8..=100), 0..8),
            threshold in 0u8..=100,
        ) {
            let list: Vec<_> = list.into_iter().map(|(n, p)| c(&n, p)).collect();
            prop_assert_eq!(parse_throttled_message(&throttled_message(threshold, &list)), list);
        }

        #[test]
        fn parsing_any_text_never_panics(message in "\\PC{0,200}") {
            for entry in parse_throttled_message(&message) {
                prop_assert!(entry.percent <= 100 && !entry.container.is_empty());
            }
        }
    }
}
