//! The native transport (CLI, tests): blocking `ureq` inside the future, which is fine for a
//! single-threaded CLI driven by `pollster::block_on`. Not compiled for wasm32.

use std::io::Read as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::error::{KmsError, KmsErrorKind};
use super::transport::{CancelToken, HttpRequest, HttpResponse, KmsFuture, Transport};

/// Largest response body read (KMS answers are well under 10 KiB).
const MAX_BODY: u64 = 1 << 20;

/// `ureq`-based transport. Statuses are never errors here; the parser classifies them.
#[derive(Debug, Clone)]
pub struct NativeTransport {
    agent: ureq::Agent,
}

impl Default for NativeTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeTransport {
    /// A transport with its own connection pool; no redirects (a KMS endpoint never
    /// redirects, and following one would re-send a signed body elsewhere).
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Audit logs (CloudTrail, the dev KMS) name the caller by its user agent.
            .user_agent(concat!("kms-envelope/", env!("CARGO_PKG_VERSION")))
            .build();
        NativeTransport {
            agent: config.into(),
        }
    }

    fn send_blocking(
        &self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, KmsError> {
        let mut builder = self
            .agent
            .post(&request.url)
            .config()
            .timeout_global(Some(timeout))
            .build();
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut resp = builder.send(&request.body[..]).map_err(map_error)?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().ok()?.to_string(),
                ))
            })
            .collect();
        let expected = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(4096)
            .min(MAX_BODY);
        // Pre-sized so a body holding a plaintext key is (normally) never reallocated.
        let mut body = Zeroizing::new(Vec::with_capacity(
            usize::try_from(expected).unwrap_or(4096) + 1,
        ));
        resp.body_mut()
            .as_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::TimedOut {
                    KmsErrorKind::Timeout
                } else {
                    KmsErrorKind::Network
                };
                KmsError::new(kind, format!("reading KMS response: {e}")).with_status(status)
            })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

fn map_error(e: ureq::Error) -> KmsError {
    match e {
        ureq::Error::Timeout(t) => KmsError::new(
            KmsErrorKind::Timeout,
            format!("KMS request timed out ({t})"),
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => KmsError::new(
            KmsErrorKind::Timeout,
            format!("KMS request timed out ({io})"),
        ),
        other => KmsError::new(
            KmsErrorKind::Network,
            format!("KMS request failed: {other}"),
        ),
    }
}

impl Transport for NativeTransport {
    fn send<'a>(
        &'a self,
        request: &'a HttpRequest,
        timeout: Duration,
        cancel: &'a CancelToken,
    ) -> KmsFuture<'a, Result<HttpResponse, KmsError>> {
        Box::pin(async move {
            if cancel.is_cancelled() {
                return Err(KmsError::new(KmsErrorKind::Aborted, "KMS call aborted"));
            }
            self.send_blocking(request, timeout)
        })
    }

    fn sleep(&self, duration: Duration) -> KmsFuture<'_, ()> {
        Box::pin(async move { std::thread::sleep(duration) })
    }

    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}
