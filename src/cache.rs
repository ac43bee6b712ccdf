//! The data-key ("envelope") cache: reuse encryption materials for a bounded number of
//! messages, bytes and seconds, and decryption materials for a bounded time, so a burst of
//! messages costs one KMS call instead of one each (ESDK caching CMM:
//! SPEC `framework/caching-cmm.md`, `local-cryptographic-materials-cache.md`).
//!
//! Pure and generic: the entry type `T` is whatever the client needs to reuse (data key,
//! EDKs and — for signing suites, whose context carries the public key — the signing key and
//! full context). The clock is injected. Evicted entries are dropped, so their `DataKey`s
//! zeroize.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha512};

use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::format::{EncryptedDataKey, EncryptionContext};
use crate::kms::metrics::{CacheEvent, CacheKind, CacheStats, Metrics};
use crate::suite::{AlgorithmSuite, CommitmentPolicy, Kdf};

/// The ESDK's hard cap on messages per cached data key (SPEC caching-cmm.md: 2^32).
pub const MAX_MESSAGES_LIMIT: u64 = 1 << 32;

/// Limits of a [`DataKeyCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries held; the least recently used is evicted beyond it.
    pub max_entries: usize,
    /// An entry older than this is never used.
    pub max_age: Duration,
    /// Messages one cached encryption data key may protect (≤ 2^32).
    pub max_messages: u64,
    /// Plaintext bytes one cached encryption data key may protect.
    pub max_bytes: u64,
}

impl CacheLimits {
    /// `max_entries` entries living at most `max_age`, with the ESDK's default message and
    /// byte limits (2^32 messages, 2^63 − 1 bytes).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for zero entries or a zero age.
    pub fn new(max_entries: usize, max_age: Duration) -> Result<Self> {
        Self {
            max_entries,
            max_age,
            max_messages: MAX_MESSAGES_LIMIT,
            max_bytes: i64::MAX as u64,
        }
        .validated()
    }

    /// Limit messages per encryption data key.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for 0 or more than 2^32.
    pub fn with_max_messages(mut self, max_messages: u64) -> Result<Self> {
        self.max_messages = max_messages;
        self.validated()
    }

    /// Limit plaintext bytes per encryption data key.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for 0.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Result<Self> {
        self.max_bytes = max_bytes;
        self.validated()
    }

    fn validated(self) -> Result<Self> {
        if self.max_entries == 0 {
            return Err(Error::invalid("cache: max entries must be at least 1"));
        }
        if self.max_age.is_zero() {
            return Err(Error::invalid("cache: max age must be positive"));
        }
        if self.max_messages == 0 || self.max_messages > MAX_MESSAGES_LIMIT {
            return Err(Error::invalid("cache: max messages must be in 1..=2^32"));
        }
        if self.max_bytes == 0 {
            return Err(Error::invalid("cache: max bytes must be positive"));
        }
        Ok(self)
    }
}

/// A cache key: SHA-512 over the request's identity.
pub type CacheKey = [u8; 64];

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // u64 lengths: unambiguous for any input (this key is never shared with other SDKs).
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The key of encryption materials: partition, suite (when the caller fixed one), commitment
/// policy, the caller's serialized context and the required-context keys.
///
/// # Errors
/// `INVALID_ARGUMENT` when the context does not serialize.
pub fn encryption_key(
    partition: &[u8],
    suite: Option<AlgorithmSuite>,
    policy: CommitmentPolicy,
    context: &EncryptionContext,
    required_keys: &BTreeSet<String>,
) -> Result<CacheKey> {
    let suite_part = match suite {
        None => vec![0u8],
        Some(s) => {
            let mut v = vec![1u8];
            v.extend_from_slice(&s.id().to_be_bytes());
            v
        }
    };
    let mut required = Vec::new();
    for k in required_keys {
        len_prefixed(&mut required, k.as_bytes());
    }
    Ok(sha512(&[
        b"kms-envelope/encrypt/v1",
        &sha512(&[partition]),
        &suite_part,
        policy.name().as_bytes(),
        &[0],
        &sha512(&[&context.serialize()?]),
        &sha512(&[&required]),
    ]))
}

/// The key of decryption materials: partition, suite, commitment policy, the EDKs (sorted,
/// so their order does not matter) and the full serialized context.
///
/// # Errors
/// `INVALID_ARGUMENT` when the context does not serialize.
pub fn decryption_key(
    partition: &[u8],
    suite: AlgorithmSuite,
    policy: CommitmentPolicy,
    edks: &[EncryptedDataKey],
    context: &EncryptionContext,
) -> Result<CacheKey> {
    let mut hashes: Vec<[u8; 64]> = edks
        .iter()
        .map(|e| {
            let mut b = Vec::new();
            len_prefixed(&mut b, e.provider_id.as_bytes());
            len_prefixed(&mut b, &e.provider_info);
            len_prefixed(&mut b, &e.ciphertext);
            sha512(&[&b])
        })
        .collect();
    crate::sort::heapsort(&mut hashes);
    let edk_part: Vec<u8> = hashes.concat();
    Ok(sha512(&[
        b"kms-envelope/decrypt/v1",
        &sha512(&[partition]),
        &suite.id().to_be_bytes(),
        policy.name().as_bytes(),
        &[0],
        &sha512(&[&edk_part]),
        &sha512(&[&context.serialize()?]),
    ]))
}

/// What [`Client`](crate::Client) keeps in a cache.
#[derive(Debug, Clone)]
pub enum CachedMaterials {
    /// Encryption materials: reused for messages with the same caller context.
    Encrypt {
        /// The plaintext data key.
        data_key: DataKey,
        /// Its wrapped copies.
        encrypted_data_keys: Vec<EncryptedDataKey>,
        /// The full context the keyrings bound them to (with the public key, if signing).
        context: EncryptionContext,
        /// The signing key whose public key is in `context` (signing suites).
        signing_key: Option<Box<crate::crypto::SigningKey>>,
    },
    /// An unwrapped data key.
    Decrypt(DataKey),
}

/// The cache type [`Client::with_cache`](crate::Client::with_cache) takes.
pub type MaterialsCache = DataKeyCache<CachedMaterials>;

/// The answer of an encryption lookup.
#[derive(Debug)]
pub enum Lookup<T> {
    /// Reuse these materials (this message has been counted against the entry's limits).
    Hit(T),
    /// Call KMS, then [`DataKeyCache::put_encrypt`].
    Miss,
    /// Call KMS and don't store the result: this request may not be cached.
    Bypass,
}

struct Entry<T> {
    value: T,
    kind: CacheKind,
    created: Duration,
    messages: u64,
    bytes: u64,
    last_used: u64,
}

struct Inner<T> {
    entries: HashMap<CacheKey, Entry<T>>,
    tick: u64,
    encrypt: CacheStats,
    decrypt: CacheStats,
}

/// A bounded, least-recently-used cache of materials with an injected clock. Interior
/// mutability, so it can be shared (`Arc`) between clients.
pub struct DataKeyCache<T: Clone> {
    limits: CacheLimits,
    clock: Arc<dyn Fn() -> Duration + Send + Sync>,
    metrics: Option<Metrics>,
    inner: Mutex<Inner<T>>,
}

impl<T: Clone> std::fmt::Debug for DataKeyCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeyCache")
            .field("limits", &self.limits)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T: Clone> DataKeyCache<T> {
    /// An empty cache. `clock` returns the current time (any fixed origin); on wasm32 pass
    /// one based on `Date.now()`.
    pub fn new(limits: CacheLimits, clock: Arc<dyn Fn() -> Duration + Send + Sync>) -> Self {
        DataKeyCache {
            limits,
            clock,
            metrics: None,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                tick: 0,
                encrypt: CacheStats::default(),
                decrypt: CacheStats::default(),
            }),
        }
    }

    /// An empty cache on the system clock (not on wasm32, where `SystemTime` panics).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_system_clock(limits: CacheLimits) -> Self {
        Self::new(
            limits,
            Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
            }),
        )
    }

    /// Also count hits, misses, bypasses and evictions into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The limits.
    pub fn limits(&self) -> &CacheLimits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note(&self, inner: &mut Inner<T>, kind: CacheKind, event: CacheEvent) {
        let s = match kind {
            CacheKind::Encrypt => &mut inner.encrypt,
            CacheKind::Decrypt => &mut inner.decrypt,
        };
        match event {
            CacheEvent::Hit => s.hits += 1,
            CacheEvent::Miss => s.misses += 1,
            CacheEvent::Bypass => s.bypasses += 1,
            CacheEvent::Eviction => s.evictions += 1,
        }
        if let Some(m) = &self.metrics {
            m.record_cache(kind, event);
        }
    }

    /// Whether an encryption of `plaintext_len` bytes with `suite` may use the cache at all:
    /// never for identity-KDF suites (the data key would be the frame key of every message),
    /// nor when the length is unknown (the byte limit could not be enforced) or alone exceeds
    /// the byte limit.
    pub fn may_cache_encrypt(&self, suite: AlgorithmSuite, plaintext_len: Option<u64>) -> bool {
        suite.kdf() != Kdf::Identity && plaintext_len.is_some_and(|n| n <= self.limits.max_bytes)
    }

    /// Look up encryption materials for a message of `plaintext_len` bytes. A hit counts the
    /// message against the entry; an entry that is too old, or would exceed its message or
    /// byte limit with this message, is evicted and reported as a miss.
    pub fn get_encrypt(
        &self,
        key: &CacheKey,
        suite: AlgorithmSuite,
        plaintext_len: Option<u64>,
    ) -> Lookup<T> {
        let mut inner = self.lock();
        if !self.may_cache_encrypt(suite, plaintext_len) {
            self.note(&mut inner, CacheKind::Encrypt, CacheEvent::Bypass);
            return Lookup::Bypass;
        }
        let len = plaintext_len.unwrap_or(0);
        let now = (self.clock)();
        inner.tick += 1;
        let tick = inner.tick;
        let limits = self.limits;
        let verdict = match inner.entries.get_mut(key) {
            None => None,
            Some(e) if e.kind != CacheKind::Encrypt => None,
            Some(e) => {
                let fresh = now.saturating_sub(e.created) < limits.max_age;
                let room = e.messages < limits.max_messages
                    && e.bytes.saturating_add(len) <= limits.max_bytes;
                if fresh && room {
                    e.messages += 1;
                    e.bytes += len;
                    e.last_used = tick;
                    Some(Ok(e.value.clone()))
                } else {
                    Some(Err(()))
                }
            }
        };
        match verdict {
            Some(Ok(v)) => {
                self.note(&mut inner, CacheKind::Encrypt, CacheEvent::Hit);
                Lookup::Hit(v)
            }
            Some(Err(())) => {
                inner.entries.remove(key);
                self.note(&mut inner, CacheKind::Encrypt, CacheEvent::Eviction);
                self.note(&mut inner, CacheKind::Encrypt, CacheEvent::Miss);
                Lookup::Miss
            }
            None => {
                self.note(&mut inner, CacheKind::Encrypt, CacheEvent::Miss);
                Lookup::Miss
            }
        }
    }

    /// Store fresh encryption materials, already used for one message of `plaintext_len`
    /// bytes. Ignored when the request may not be cached.
    pub fn put_encrypt(
        &self,
        key: CacheKey,
        suite: AlgorithmSuite,
        plaintext_len: Option<u64>,
        value: T,
    ) {
        if !self.may_cache_encrypt(suite, plaintext_len) {
            return;
        }
        self.insert(key, CacheKind::Encrypt, plaintext_len.unwrap_or(0), value);
    }

    /// Look up decryption materials (only the age limit applies).
    pub fn get_decrypt(&self, key: &CacheKey) -> Option<T> {
        let mut inner = self.lock();
        let now = (self.clock)();
        inner.tick += 1;
        let tick = inner.tick;
        let max_age = self.limits.max_age;
        let verdict = match inner.entries.get_mut(key) {
            Some(e) if e.kind == CacheKind::Decrypt => {
                if now.saturating_sub(e.created) < max_age {
                    e.last_used = tick;
                    Some(Ok(e.value.clone()))
                } else {
                    Some(Err(()))
                }
            }
            _ => None,
        };
        match verdict {
            Some(Ok(v)) => {
                self.note(&mut inner, CacheKind::Decrypt, CacheEvent::Hit);
                Some(v)
            }
            Some(Err(())) => {
                inner.entries.remove(key);
                self.note(&mut inner, CacheKind::Decrypt, CacheEvent::Eviction);
                self.note(&mut inner, CacheKind::Decrypt, CacheEvent::Miss);
                None
            }
            None => {
                self.note(&mut inner, CacheKind::Decrypt, CacheEvent::Miss);
                None
            }
        }
    }

    /// Count a request that could not use the cache (e.g. a signing suite, whose ephemeral
    /// signing key is not cacheable).
    pub fn note_bypass(&self, kind: CacheKind) {
        let mut inner = self.lock();
        self.note(&mut inner, kind, CacheEvent::Bypass);
    }

    /// Store decryption materials.
    pub fn put_decrypt(&self, key: CacheKey, value: T) {
        self.insert(key, CacheKind::Decrypt, 0, value);
    }

    fn insert(&self, key: CacheKey, kind: CacheKind, bytes: u64, value: T) {
        let mut inner = self.lock();
        let now = (self.clock)();
        inner.tick += 1;
        let tick = inner.tick;
        // Expired entries go first, then the least recently used while full.
        let max_age = self.limits.max_age;
        let expired: Vec<(CacheKey, CacheKind)> = inner
            .entries
            .iter()
            .filter(|(_, e)| now.saturating_sub(e.created) >= max_age)
            .map(|(k, e)| (*k, e.kind))
            .collect();
        for (k, kind) in expired {
            inner.entries.remove(&k);
            self.note(&mut inner, kind, CacheEvent::Eviction);
        }
        if !inner.entries.contains_key(&key) {
            while inner.entries.len() >= self.limits.max_entries {
                let lru = inner
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, e)| (*k, e.kind));
                let Some((k, kind)) = lru else { break };
                inner.entries.remove(&k);
                self.note(&mut inner, kind, CacheEvent::Eviction);
            }
        }
        inner.entries.insert(
            key,
            Entry {
                value,
                kind,
                created: now,
                messages: 1,
                bytes,
                last_used: tick,
            },
        );
    }

    /// Drop every entry (their keys zeroize).
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hit/miss counters: (encryption, decryption).
    pub fn stats(&self) -> (CacheStats, CacheStats) {
        let inner = self.lock();
        (inner.encrypt, inner.decrypt)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const SUITE: AlgorithmSuite = AlgorithmSuite::DEFAULT;

    const POLICY: CommitmentPolicy = CommitmentPolicy::RequireEncryptRequireDecrypt;

    /// A manual clock in milliseconds.
    fn clock() -> (Arc<AtomicU64>, Arc<dyn Fn() -> Duration + Send + Sync>) {
        let t = Arc::new(AtomicU64::new(0));
        let c = t.clone();
        (
            t,
            Arc::new(move || Duration::from_millis(c.load(Ordering::SeqCst))),
        )
    }

    fn limits() -> CacheLimits {
        CacheLimits::new(2, Duration::from_secs(60)).unwrap()
    }

    fn ctx(v: &str) -> EncryptionContext {
        [("purpose", v)].into_iter().collect()
    }

    fn ekey(v: &str) -> CacheKey {
        encryption_key(b"p", None, POLICY, &ctx(v), &BTreeSet::new()).unwrap()
    }

    fn hit<T>(l: Lookup<T>) -> Option<T> {
        match l {
            Lookup::Hit(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn hit_after_put_until_max_messages_then_miss() {
        let (_, c) = clock();
        let cache = DataKeyCache::new(limits().with_max_messages(3).unwrap(), c);
        let k = ekey("a");
        assert!(matches!(
            cache.get_encrypt(&k, SUITE, Some(10)),
            Lookup::Miss
        ));
        cache.put_encrypt(k, SUITE, Some(10), DataKey::from_bytes(vec![1; 32]));
        assert!(hit(cache.get_encrypt(&k, SUITE, Some(10))).is_some()); // message 2
        assert!(hit(cache.get_encrypt(&k, SUITE, Some(10))).is_some()); // message 3
        assert!(
            matches!(cache.get_encrypt(&k, SUITE, Some(10)), Lookup::Miss),
            "4th message"
        );
        assert!(cache.is_empty(), "the exhausted entry is evicted");
        let (enc, _) = cache.stats();
        assert_eq!((enc.hits, enc.misses, enc.evictions), (2, 2, 1));
    }

    #[test]
    fn byte_limit_counts_every_message() {
        let (_, c) = clock();
        let cache = DataKeyCache::new(limits().with_max_bytes(100).unwrap(), c);
        let k = ekey("a");
        cache.put_encrypt(k, SUITE, Some(60), 1u8);
        assert!(
            matches!(cache.get_encrypt(&k, SUITE, Some(41)), Lookup::Miss),
            "60 + 41 > 100"
        );
        cache.put_encrypt(k, SUITE, Some(60), 1u8);
        assert_eq!(
            hit(cache.get_encrypt(&k, SUITE, Some(40))),
            Some(1),
            "60 + 40 = 100"
        );
        assert!(matches!(
            cache.get_encrypt(&k, SUITE, Some(101)),
            Lookup::Bypass
        ));
    }

    #[test]
    fn entries_expire_at_max_age() {
        let (t, c) = clock();
        let cache = DataKeyCache::new(limits(), c);
        let k = ekey("a");
        cache.put_encrypt(k, SUITE, Some(1), 7u8);
        t.store(59_999, Ordering::SeqCst);
        assert!(hit(cache.get_encrypt(&k, SUITE, Some(1))).is_some());
        t.store(60_000, Ordering::SeqCst);
        assert!(matches!(
            cache.get_encrypt(&k, SUITE, Some(1)),
            Lookup::Miss
        ));
        let d = decryption_key(b"p", SUITE, POLICY, &[], &ctx("a")).unwrap();
        cache.put_decrypt(d, 8u8);
        assert_eq!(cache.get_decrypt(&d), Some(8));
        t.store(120_000, Ordering::SeqCst);
        assert_eq!(cache.get_decrypt(&d), None);
    }

    #[test]
    fn capacity_evicts_the_least_recently_used() {
        let (_, c) = clock();
        let cache = DataKeyCache::new(limits(), c);
        let (a, b, x) = (ekey("a"), ekey("b"), ekey("x"));
        cache.put_encrypt(a, SUITE, Some(1), 'a');
        cache.put_encrypt(b, SUITE, Some(1), 'b');
        assert!(hit(cache.get_encrypt(&a, SUITE, Some(1))).is_some()); // a is now fresher
        cache.put_encrypt(x, SUITE, Some(1), 'x');
        assert_eq!(cache.len(), 2);
        assert!(matches!(
            cache.get_encrypt(&b, SUITE, Some(1)),
            Lookup::Miss
        ));
        assert!(hit(cache.get_encrypt(&a, SUITE, Some(1))).is_some());
    }

    #[test]
    fn identity_kdf_suites_and_unknown_lengths_bypass() {
        let (_, c) = clock();
        let m = Metrics::new();
        let cache = DataKeyCache::new(limits(), c).with_metrics(m.clone());
        let k = ekey("a");
        cache.put_encrypt(k, AlgorithmSuite::Aes256GcmNoKdf, Some(1), 1u8);
        assert!(cache.is_empty());
        assert!(matches!(
            cache.get_encrypt(&k, AlgorithmSuite::Aes256GcmNoKdf, Some(1)),
            Lookup::Bypass
        ));
        assert!(matches!(cache.get_encrypt(&k, SUITE, None), Lookup::Bypass));
        assert_eq!(m.snapshot().encrypt_cache.bypasses, 2);
    }

    #[test]
    fn limits_are_validated() {
        assert!(CacheLimits::new(0, Duration::from_secs(1)).is_err());
        assert!(CacheLimits::new(1, Duration::ZERO).is_err());
        assert!(limits().with_max_messages(MAX_MESSAGES_LIMIT + 1).is_err());
        assert!(limits().with_max_messages(0).is_err());
        assert!(limits().with_max_bytes(0).is_err());
    }

    #[test]
    fn keys_separate_contexts_suites_policies_required_keys_and_edk_sets() {
        let none = BTreeSet::new();
        let req: BTreeSet<String> = ["purpose".to_string()].into_iter().collect();
        let base = encryption_key(b"p", None, POLICY, &ctx("a"), &none).unwrap();
        assert_ne!(
            base,
            encryption_key(b"q", None, POLICY, &ctx("a"), &none).unwrap()
        );
        assert_ne!(
            base,
            encryption_key(b"p", Some(SUITE), POLICY, &ctx("a"), &none).unwrap()
        );
        assert_ne!(
            base,
            encryption_key(
                b"p",
                None,
                CommitmentPolicy::ForbidEncryptAllowDecrypt,
                &ctx("a"),
                &none
            )
            .unwrap()
        );
        assert_ne!(
            base,
            encryption_key(b"p", None, POLICY, &ctx("a"), &req).unwrap()
        );
        assert_ne!(
            base,
            encryption_key(b"p", None, POLICY, &ctx("b"), &none).unwrap()
        );
        let e = |info: &str| EncryptedDataKey {
            provider_id: "aws-kms".into(),
            provider_info: info.as_bytes().to_vec(),
            ciphertext: vec![1, 2],
        };
        let d1 = decryption_key(b"p", SUITE, POLICY, &[e("x"), e("y")], &ctx("a")).unwrap();
        let d2 = decryption_key(b"p", SUITE, POLICY, &[e("y"), e("x")], &ctx("a")).unwrap();
        assert_eq!(d1, d2, "EDK order does not matter");
        assert_ne!(
            d1,
            decryption_key(b"p", SUITE, POLICY, &[e("x")], &ctx("a")).unwrap()
        );
        assert_ne!(
            d1,
            decryption_key(b"p", SUITE, POLICY, &[e("x"), e("y")], &ctx("b")).unwrap()
        );
    }

    #[test]
    fn encrypt_and_decrypt_entries_never_answer_each_other() {
        let (_, c) = clock();
        let cache = DataKeyCache::new(limits(), c);
        let k = ekey("a");
        cache.put_decrypt(k, 1u8);
        assert!(matches!(
            cache.get_encrypt(&k, SUITE, Some(1)),
            Lookup::Miss
        ));
    }
}
