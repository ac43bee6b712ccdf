//! The I/O boundary: one trait that sends an HTTP request, sleeps and tells the time.
//!
//! Everything above it (request building, signing, parsing, retries) is pure, so the same
//! client runs over the browser's `fetch` (wasm32) and over a blocking native client (CLI,
//! tests), and tests can script the clock and the randomness.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zeroize::Zeroizing;

use super::error::KmsError;

/// A boxed, non-`Send` future (browser transports hold JS values).
pub type KmsFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What `fetch` does with cookies and HTTP auth (`RequestInit.credentials`). Native transports
/// ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FetchCredentials {
    /// Never send cookies (`omit`): the default for signed calls to AWS.
    #[default]
    Omit,
    /// Send cookies to the same origin only (`same-origin`).
    SameOrigin,
    /// Always send cookies (`include`): for a backend proxy that authenticates by session cookie.
    Include,
}

impl FetchCredentials {
    /// The `RequestInit.credentials` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchCredentials::Omit => "omit",
            FetchCredentials::SameOrigin => "same-origin",
            FetchCredentials::Include => "include",
        }
    }
}

/// One HTTP request, ready to send. The body may carry a plaintext data key (Encrypt), so it
/// is zeroized when dropped.
#[derive(Debug)]
pub struct HttpRequest {
    /// Always `POST` for KMS.
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Header names as written (`X-Amz-Target`, …); transports send them verbatim. `Host` is
    /// not among them: it follows from `url` (and browsers forbid setting it).
    pub headers: Vec<(String, String)>,
    /// The exact body bytes that were signed.
    pub body: Zeroizing<Vec<u8>>,
    /// `fetch` credentials mode.
    pub fetch_credentials: FetchCredentials,
}

impl HttpRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP response. The body may carry a plaintext data key (GenerateDataKey, Decrypt), so
/// it is zeroized when dropped.
#[derive(Debug)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names lowercased. In a browser, only CORS-exposed headers are present.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Zeroizing<Vec<u8>>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A cancellation flag shared between the caller and the client. Checked before every attempt
/// and after every backoff sleep; a `fetch` transport should also pass the caller's
/// `AbortSignal` to `fetch` so an in-flight request stops at once.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancel every call that holds this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Sends requests and provides time. Implementations: `NativeTransport` (ureq, not on wasm32)
/// and the browser `fetch` transport (wasm bindings).
///
/// Contract for `send`: answer `Ok` for **every** HTTP response, whatever its status (the
/// parser classifies statuses). Answer `Err` only when there is no response: kind `Network`
/// (refused, reset, DNS, CORS failure), `Timeout` (no answer within `timeout`) or `Aborted`
/// (`cancel` fired).
pub trait Transport {
    /// Send `request`, giving up after `timeout`.
    fn send<'a>(
        &'a self,
        request: &'a HttpRequest,
        timeout: Duration,
        cancel: &'a CancelToken,
    ) -> KmsFuture<'a, Result<HttpResponse, KmsError>>;

    /// Wait `duration` (retry backoff). Browser: a `setTimeout` promise.
    fn sleep(&self, duration: Duration) -> KmsFuture<'_, ()>;

    /// Wall-clock time since the Unix epoch: SigV4 dates, latency and retry budgets.
    /// (Never `SystemTime::now()` on wasm32: it panics there; use `Date.now()`.)
    fn now(&self) -> Duration;

    /// A uniformly random `u32` for backoff jitter. Tests override it to be deterministic.
    fn random_u32(&self) -> u32 {
        let mut b = [0u8; 4];
        // Jitter needs no cryptographic strength; on failure fall back to no jitter spread.
        match crate::crypto::random::fill(&mut b) {
            Ok(()) => u32::from_le_bytes(b),
            Err(_) => u32::MAX / 2,
        }
    }
}
