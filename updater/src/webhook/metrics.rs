//! The webhook's metrics, in the updater's one registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How a review ended and why (both bounded: the outcome is one of three, the reason a fixed enum).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    /// `mutated`, `would_mutate` (dry run), `unchanged` or `error` (an unreadable review, let through).
    pub outcome: &'static str,
    pub reason: &'static str,
}

/// Webhook metrics.
#[derive(Debug, Clone)]
pub struct WebhookMetrics {
    pub reviews: Family<ReviewLabels, Counter>,
    pub duration: Histogram,
}

impl WebhookMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            reviews: Family::default(),
            duration: Histogram::new([
                0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5,
            ]),
        };
        let r = registry.sub_registry_with_prefix("tailor_updater_webhook");
        r.register(
            "reviews",
            "Pod admission reviews by outcome and reason",
            m.reviews.clone(),
        );
        r.register(
            "review_duration_seconds",
            "Time to answer one admission review",
            m.duration.clone(),
        );
        m
    }

    pub fn record(&self, outcome: &'static str, reason: &'static str) {
        self.reviews
            .get_or_create(&ReviewLabels { outcome, reason })
            .inc();
    }
}
