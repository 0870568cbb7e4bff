//! Retries with exponential backoff and jitter for Kubernetes API calls.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// An exponential backoff policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub initial: Duration,
    /// The largest delay between tries.
    pub max: Duration,
    /// How many tries in all (the first call included); at least 1.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
            max_attempts: 5,
        }
    }
}

impl Backoff {
    /// The delay after failed try number `attempt` (1-based), before jitter: `initial × 2^(attempt−1)`, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Whether a Kubernetes API error is worth retrying: transport failures, throttling, timeouts and server
/// errors. Client errors (bad request, forbidden, not found, invalid) will fail the same way again.
pub fn is_retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 408 | 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Calls `op` until it succeeds, fails with an error `retryable` rejects, or the tries run out; waits
/// `policy.delay(n)` scaled by a random factor in [0.5, 1.0] between tries so replicas do not retry in step.
pub async fn retry<T, E, F, Fut>(
    policy: &Backoff,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < policy.max_attempts.max(1) && retryable(&error) => {
                let delay = jitter(policy.delay(attempt));
                tracing::debug!(%error, attempt, ?delay, "retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn jitter(delay: Duration) -> Duration {
    // RandomState is seeded randomly per instance: enough randomness to spread retries, no extra crate.
    let random = RandomState::new().hash_one(delay.as_nanos());
    let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
    delay.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("x", "y")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn delays_double_and_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 10,
        };
        let delays: Vec<_> = (1..=6).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn classifies_api_errors() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&api_error(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!is_retryable(&api_error(code)), "{code}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_then_succeeds() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, kube::Error> = retry(&Backoff::default(), is_retryable, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 { Err(api_error(503)) } else { Ok(n) }
        })
        .await;
        assert_eq!(result.expect("third try succeeds"), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_non_retryable_errors_and_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let result: Result<(), kube::Error> = retry(&Backoff::default(), is_retryable, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(api_error(403))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let policy = Backoff {
            max_attempts: 4,
            ..Backoff::default()
        };
        let result: Result<(), kube::Error> = retry(&policy, is_retryable, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(api_error(500))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
