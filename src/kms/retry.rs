//! Retry policy: capped exponential backoff with full jitter, bounded attempts and total
//! time. Pure: the caller passes the elapsed time and a random number.

use std::time::Duration;

use super::error::KmsError;

/// When and how long to wait before retrying a failed KMS call.
///
/// Defaults (4 attempts, 100 ms base, 2 s cap, 20 s budget, 5 s per request): KMS answers in
/// tens of milliseconds and its throttling quotas are per second, so a few hundred
/// milliseconds of jittered spread (expected waits 50/100/200 ms) clears a burst without a
/// user noticing; four attempts ride out a 5xx blip or a dropped connection; the 20 s budget
/// bounds the worst case a person waits in a browser (all four attempts timing out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; doubles per retry.
    pub base_delay: Duration,
    /// Largest ceiling any single backoff may have.
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt, and none is
    /// scheduled whose backoff would end after it.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_total: Duration::from_secs(20),
        }
    }
}

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff ceiling before retry number `retry` (1-based):
    /// `min(max_delay, base_delay · 2^(retry−1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Full jitter: a delay uniform in `[0, ceiling(retry)]`, from `random`.
    pub fn jittered(&self, retry: u32, random: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_nanos();
        let nanos = ceiling * u128::from(random) / u128::from(u32::MAX);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// After `attempts_made` attempts, the last failing with `error`, `elapsed` since the first
    /// began: the delay before the next attempt, or `None` to give up. Never retries errors
    /// that a retry cannot fix (access denied, invalid ciphertext, incorrect key, disabled
    /// key, validation, malformed response, key-id mismatch, abort).
    pub fn next_delay(
        &self,
        attempts_made: u32,
        elapsed: Duration,
        error: &KmsError,
        random: u32,
    ) -> Option<Duration> {
        if !error.kind.is_retryable() || attempts_made >= self.max_attempts {
            return None;
        }
        let delay = self.jittered(attempts_made, random);
        if elapsed.saturating_add(delay) >= self.max_total {
            return None;
        }
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::KmsErrorKind as K;

    fn e(kind: K) -> KmsError {
        KmsError::new(kind, "x")
    }

    #[test]
    fn ceilings_double_and_cap() {
        let p = RetryPolicy::default();
        let ms: Vec<u128> = (1..=8).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(
            p.ceiling(200),
            Duration::from_secs(2),
            "no overflow on huge retry counts"
        );
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.jittered(2, 0), Duration::ZERO);
        assert_eq!(p.jittered(2, u32::MAX), Duration::from_millis(200));
        let mid = p.jittered(2, u32::MAX / 2).as_millis();
        assert!((99..=100).contains(&mid), "{mid}");
    }

    #[test]
    fn retryable_kinds_are_retried_until_the_attempt_limit() {
        let p = RetryPolicy::default();
        for kind in [K::Throttled, K::Unavailable, K::Network, K::Timeout] {
            for made in 1..4 {
                assert!(
                    p.next_delay(made, Duration::ZERO, &e(kind), 7).is_some(),
                    "{kind:?}"
                );
            }
            assert_eq!(
                p.next_delay(4, Duration::ZERO, &e(kind), 7),
                None,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn permanent_failures_are_never_retried() {
        let p = RetryPolicy::default();
        for kind in [
            K::AccessDenied,
            K::InvalidCiphertext,
            K::IncorrectKey,
            K::KeyUnavailable,
            K::Validation,
            K::NotFound,
            K::MalformedResponse,
            K::KeyIdMismatch,
            K::Aborted,
            K::Other,
        ] {
            assert_eq!(
                p.next_delay(1, Duration::ZERO, &e(kind), 0),
                None,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn total_time_budget_stops_retries() {
        let p = RetryPolicy::default();
        let t = e(K::Throttled);
        assert!(
            p.next_delay(1, Duration::from_millis(19_800), &t, 0)
                .is_some()
        );
        // ceiling(1) = 100 ms at full jitter would end after the 20 s budget.
        assert_eq!(
            p.next_delay(1, Duration::from_millis(19_950), &t, u32::MAX),
            None
        );
        assert_eq!(p.next_delay(1, Duration::from_secs(20), &t, 0), None);
        assert_eq!(
            RetryPolicy::none().next_delay(1, Duration::ZERO, &t, 0),
            None
        );
    }
}
