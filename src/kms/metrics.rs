//! Counters for the SLIs operators watch: KMS success rate, KMS latency, errors by kind and
//! the data-key cache hit rate. Cheap to clone (shared), readable as a snapshot.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Per-operation counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Logical calls (one per `generate_data_key`/`encrypt`/`decrypt`, retries included).
    pub calls: u64,
    /// HTTP requests sent (calls + retries).
    pub attempts: u64,
    /// Calls that ended in success.
    pub successes: u64,
    /// Calls that ended in an error.
    pub failures: u64,
    /// Sum of call latencies (first attempt start to final answer, backoff included).
    pub total_latency: Duration,
    /// Slowest call.
    pub max_latency: Duration,
}

impl OpStats {
    /// Mean call latency, if any call was made.
    pub fn mean_latency(&self) -> Option<Duration> {
        let n = u32::try_from(self.calls).ok().filter(|n| *n > 0)?;
        Some(self.total_latency / n)
    }
}

/// Hit/miss counters of one cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to call KMS.
    pub misses: u64,
    /// Requests that could not use the cache at all (unknown length, identity-KDF suite, a
    /// message bigger than the byte limit).
    pub bypasses: u64,
    /// Entries removed because a limit was reached (age, messages, bytes, capacity).
    pub evictions: u64,
}

impl CacheStats {
    /// hits / (hits + misses), if there was a lookup.
    pub fn hit_rate(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}

/// A point-in-time copy of all counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// By operation name (`GenerateDataKey`, `Encrypt`, `Decrypt`).
    pub operations: BTreeMap<&'static str, OpStats>,
    /// Failed calls by stable code (`KMS_THROTTLED`, …); one per failed call.
    pub errors: BTreeMap<&'static str, u64>,
    /// Attempts that failed and were retried, by stable code.
    pub retried_errors: BTreeMap<&'static str, u64>,
    /// The encryption-materials cache.
    pub encrypt_cache: CacheStats,
    /// The decryption-materials cache.
    pub decrypt_cache: CacheStats,
}

impl MetricsSnapshot {
    /// All KMS calls across operations.
    pub fn total_calls(&self) -> u64 {
        self.operations.values().map(|o| o.calls).sum()
    }

    /// Successful calls / all calls, if any call was made.
    pub fn success_rate(&self) -> Option<f64> {
        let calls = self.total_calls();
        let ok: u64 = self.operations.values().map(|o| o.successes).sum();
        (calls > 0).then(|| ok as f64 / calls as f64)
    }
}

/// Which cache a counter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// Encryption materials.
    Encrypt,
    /// Decryption materials.
    Decrypt,
}

/// What happened on one cache lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEvent {
    /// Answered from the cache.
    Hit,
    /// Not there (or expired).
    Miss,
    /// The request could not be cached.
    Bypass,
    /// An entry was evicted.
    Eviction,
}

/// Shared counters. Clones count into the same totals.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<MetricsSnapshot>>);

impl Metrics {
    /// Fresh counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, MetricsSnapshot> {
        // A panic while holding the lock cannot leave the counters inconsistent enough to matter.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.lock().clone()
    }

    /// Set every counter back to zero.
    pub fn reset(&self) {
        *self.lock() = MetricsSnapshot::default();
    }

    /// Record the end of one logical call.
    pub fn record_call(
        &self,
        op: &'static str,
        attempts: u32,
        latency: Duration,
        error_code: Option<&'static str>,
    ) {
        let mut m = self.lock();
        let s = m.operations.entry(op).or_default();
        s.calls += 1;
        s.attempts += u64::from(attempts);
        s.total_latency += latency;
        s.max_latency = s.max_latency.max(latency);
        match error_code {
            None => s.successes += 1,
            Some(code) => {
                s.failures += 1;
                *m.errors.entry(code).or_default() += 1;
            }
        }
    }

    /// Record an attempt that failed and will be retried.
    pub fn record_retry(&self, code: &'static str) {
        *self.lock().retried_errors.entry(code).or_default() += 1;
    }

    /// Record a cache event.
    pub fn record_cache(&self, kind: CacheKind, event: CacheEvent) {
        let mut m = self.lock();
        let c = match kind {
            CacheKind::Encrypt => &mut m.encrypt_cache,
            CacheKind::Decrypt => &mut m.decrypt_cache,
        };
        match event {
            CacheEvent::Hit => c.hits += 1,
            CacheEvent::Miss => c.misses += 1,
            CacheEvent::Bypass => c.bypasses += 1,
            CacheEvent::Eviction => c.evictions += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_counters_and_rates_are_computed() {
        let m = Metrics::new();
        let c = m.clone();
        c.record_call("Decrypt", 1, Duration::from_millis(10), None);
        c.record_call(
            "Decrypt",
            3,
            Duration::from_millis(30),
            Some("KMS_THROTTLED"),
        );
        m.record_cache(CacheKind::Decrypt, CacheEvent::Hit);
        m.record_cache(CacheKind::Decrypt, CacheEvent::Miss);
        m.record_cache(CacheKind::Decrypt, CacheEvent::Hit);
        let s = m.snapshot();
        let d = &s.operations["Decrypt"];
        assert_eq!((d.calls, d.attempts, d.successes, d.failures), (2, 4, 1, 1));
        assert_eq!(d.mean_latency(), Some(Duration::from_millis(20)));
        assert_eq!(d.max_latency, Duration::from_millis(30));
        assert_eq!(s.errors["KMS_THROTTLED"], 1);
        assert_eq!(s.success_rate(), Some(0.5));
        assert_eq!(s.decrypt_cache.hit_rate(), Some(2.0 / 3.0));
        assert_eq!(s.encrypt_cache.hit_rate(), None);
        m.reset();
        assert_eq!(c.snapshot().total_calls(), 0);
    }
}
