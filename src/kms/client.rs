//! `KmsClient`: endpoint + region + auth + transport + retry policy + metrics, with async
//! `generate_data_key`, `encrypt` and `decrypt`.

use std::rc::Rc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::arn::KmsArn;
use super::auth::Auth;
use super::error::{KmsError, KmsErrorKind};
use super::metrics::Metrics;
use super::request::{self, Endpoint, Operation};
use super::response::{self, DecryptOutput, EncryptOutput, GenerateDataKeyOutput};
use super::retry::{DEFAULT_TIMEOUT, RetryPolicy};
use super::sigv4::{self, AmzDate};
use super::transport::{CancelToken, HttpRequest, HttpResponse, Transport};

/// How often a backoff sleep checks for cancellation.
const CANCEL_POLL: Duration = Duration::from_millis(50);
use crate::format::EncryptionContext;

/// A client for one KMS-compatible endpoint. Cheap to clone: clones share the transport,
/// credentials provider, metrics and cancel token.
#[derive(Clone)]
pub struct KmsClient {
    endpoint: Endpoint,
    region: String,
    auth: Auth,
    transport: Rc<dyn Transport>,
    retry: RetryPolicy,
    timeout: Duration,
    metrics: Metrics,
    cancel: CancelToken,
    grant_tokens: Vec<String>,
}

impl std::fmt::Debug for KmsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsClient")
            .field("endpoint", &self.endpoint.url())
            .field("region", &self.region)
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KmsClient {
    /// A client for `endpoint`, signing for `region` (SigV4 scope; moto also selects its
    /// per-region backend from it).
    ///
    /// # Errors
    /// `KMS_VALIDATION` for a bad region, or a proxy configuration that asks for a
    /// SigV4-shaped `Authorization` while also setting its own.
    pub fn new(
        endpoint: Endpoint,
        region: impl Into<String>,
        auth: Auth,
        transport: Rc<dyn Transport>,
    ) -> Result<Self, KmsError> {
        let region = region.into();
        request::check_region(&region)?;
        if let Auth::Proxy(p) = &auth {
            let has_auth = p
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
            if p.sigv4_shaped_authorization && has_auth {
                return Err(KmsError::new(
                    KmsErrorKind::Validation,
                    "proxy mode: a custom Authorization header and a SigV4-shaped one exclude each other",
                ));
            }
        }
        Ok(KmsClient {
            endpoint,
            region,
            auth,
            transport,
            retry: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
            metrics: Metrics::new(),
            cancel: CancelToken::new(),
            grant_tokens: Vec::new(),
        })
    }

    /// A client over the native (ureq) transport.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn native(
        endpoint: Endpoint,
        region: impl Into<String>,
        auth: Auth,
    ) -> Result<Self, KmsError> {
        Self::new(
            endpoint,
            region,
            auth,
            Rc::new(super::native::NativeTransport::new()),
        )
    }

    /// Replace the retry policy.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Replace the per-request timeout (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Count into `metrics` (e.g. shared with the data-key cache and other clients).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Abort calls when `token` is cancelled.
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// Send these grant tokens with every call.
    pub fn with_grant_tokens(mut self, grant_tokens: Vec<String>) -> Self {
        self.grant_tokens = grant_tokens;
        self
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The counters this client records into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The cancel token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// `GenerateDataKey`: a new `number_of_bytes`-byte data key under `key_id`, bound to
    /// `context`. The answer's `KeyId` must be a key ARN, equal to `key_id` when that is a
    /// key ARN, and the plaintext must have the requested length.
    ///
    /// # Errors
    /// The classified [`KmsError`] after retries.
    pub async fn generate_data_key(
        &self,
        key_id: &str,
        number_of_bytes: usize,
        context: &EncryptionContext,
    ) -> Result<GenerateDataKeyOutput, KmsError> {
        let body =
            request::generate_data_key_body(key_id, number_of_bytes, context, &self.grant_tokens)?;
        self.call(Operation::GenerateDataKey, body, |resp| {
            let out = response::parse_generate_data_key(resp)?;
            check_key_id(Operation::GenerateDataKey, Some(key_id), &out.key_id)?;
            if out.plaintext.len() != number_of_bytes {
                return Err(KmsError::new(
                    KmsErrorKind::MalformedResponse,
                    format!(
                        "GenerateDataKey: plaintext is {} bytes, {number_of_bytes} were asked for",
                        out.plaintext.len()
                    ),
                ));
            }
            Ok(out)
        })
        .await
    }

    /// `Encrypt`: wrap `plaintext` under `key_id`, bound to `context`. Same `KeyId` checks
    /// as [`generate_data_key`](Self::generate_data_key).
    ///
    /// # Errors
    /// The classified [`KmsError`] after retries.
    pub async fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<EncryptOutput, KmsError> {
        let body = request::encrypt_body(key_id, plaintext, context, &self.grant_tokens)?;
        self.call(Operation::Encrypt, body, |resp| {
            let out = response::parse_encrypt(resp)?;
            check_key_id(Operation::Encrypt, Some(key_id), &out.key_id)?;
            Ok(out)
        })
        .await
    }

    /// `Decrypt`: unwrap `ciphertext_blob` with `context`. With `key_id` set KMS refuses a
    /// blob of another key, and the answer's `KeyId` must equal `key_id` when that is a key
    /// ARN; it must always be a key ARN.
    ///
    /// # Errors
    /// The classified [`KmsError`] after retries (`KMS_INVALID_CIPHERTEXT` for a wrong
    /// context).
    pub async fn decrypt(
        &self,
        key_id: Option<&str>,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<DecryptOutput, KmsError> {
        let body = request::decrypt_body(key_id, ciphertext_blob, context, &self.grant_tokens)?;
        self.call(Operation::Decrypt, body, |resp| {
            let out = response::parse_decrypt(resp)?;
            check_key_id(Operation::Decrypt, key_id, &out.key_id)?;
            Ok(out)
        })
        .await
    }

    /// One logical call: sign, send, parse, retry per policy, record metrics.
    async fn call<T>(
        &self,
        op: Operation,
        body: Zeroizing<Vec<u8>>,
        parse: impl Fn(&HttpResponse) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut out = None;
        self.call_untyped(op, body, &mut |resp| {
            out = Some(parse(resp)?);
            Ok(())
        })
        .await?;
        out.ok_or_else(|| KmsError::new(KmsErrorKind::MalformedResponse, "no answer parsed"))
    }

    /// [`call`](Self::call) with the parsed value left in the closure: one copy of the retry
    /// loop's state machine instead of one per operation (a few KB of wasm each).
    async fn call_untyped(
        &self,
        op: Operation,
        body: Zeroizing<Vec<u8>>,
        parse: &mut dyn FnMut(&HttpResponse) -> Result<(), KmsError>,
    ) -> Result<(), KmsError> {
        let start = self.transport.now();
        let mut attempts = 0u32;
        let result = loop {
            if self.cancel.is_cancelled() {
                break Err(aborted());
            }
            attempts += 1;
            let elapsed = self.transport.now().saturating_sub(start);
            // The last attempt may not outlive the total budget.
            let timeout = self
                .timeout
                .min(self.retry.max_total.saturating_sub(elapsed))
                .max(Duration::from_millis(1));
            let outcome = match self.prepare(op, &body).await {
                Ok(req) => match self.transport.send(&req, timeout, &self.cancel).await {
                    Ok(resp) => parse(&resp),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            let err = match outcome {
                Ok(v) => break Ok(v),
                Err(e) => e,
            };
            let elapsed = self.transport.now().saturating_sub(start);
            match self
                .retry
                .next_delay(attempts, elapsed, &err, self.transport.random_u32())
            {
                Some(delay) => {
                    self.metrics.record_retry(err.kind.code());
                    // Sleep in slices so a cancel is honoured within one slice, whatever the
                    // transport's sleep can or cannot interrupt.
                    let until = self.transport.now() + delay;
                    loop {
                        let left = until.saturating_sub(self.transport.now());
                        if left.is_zero() || self.cancel.is_cancelled() {
                            break;
                        }
                        self.transport.sleep(left.min(CANCEL_POLL)).await;
                    }
                }
                None => break Err(err),
            }
        };
        let latency = self.transport.now().saturating_sub(start);
        let code = result.as_ref().err().map(|e| e.kind.code());
        self.metrics.record_call(op.name(), attempts, latency, code);
        result
    }

    /// Build and authenticate one attempt's request (signed afresh: the date moves and a
    /// provider may have refreshed the credentials).
    async fn prepare(&self, op: Operation, body: &[u8]) -> Result<HttpRequest, KmsError> {
        let mut req = request::build(&self.endpoint, op, Zeroizing::new(body.to_vec()));
        let date = AmzDate::from_unix_seconds(self.transport.now().as_secs());
        match &self.auth {
            Auth::SigV4(provider) => {
                let creds = provider.credentials().await?;
                sigv4::sign_request(
                    &mut req,
                    self.endpoint.host(),
                    self.endpoint.path(),
                    &self.region,
                    &creds,
                    &date,
                );
            }
            Auth::Proxy(p) => {
                req.headers.extend(p.headers.iter().cloned());
                req.fetch_credentials = p.fetch_credentials;
                if p.sigv4_shaped_authorization {
                    // Routing only (moto picks the service from the credential scope); the
                    // signature is deliberately not one.
                    req.headers
                        .push(("X-Amz-Date".into(), date.as_str().into()));
                    req.headers.push((
                        "Authorization".into(),
                        format!(
                            "{} Credential=proxy/{}/{}/{}/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}",
                            sigv4::ALGORITHM,
                            date.date(),
                            self.region,
                            sigv4::SERVICE,
                            "0".repeat(64)
                        ),
                    ));
                }
            }
        }
        Ok(req)
    }
}

fn aborted() -> KmsError {
    KmsError::new(KmsErrorKind::Aborted, "KMS call aborted")
}

/// The answer's `KeyId` must be a key ARN, and the one asked for when that was a key ARN (an
/// alias or bare key id cannot be compared: KMS answers with the key ARN it resolved to).
fn check_key_id(op: Operation, requested: Option<&str>, returned: &str) -> Result<(), KmsError> {
    if let Err(e) = KmsArn::parse_key(returned) {
        return Err(KmsError::new(
            KmsErrorKind::MalformedResponse,
            format!("{}: response KeyId: {e}", op.name()),
        ));
    }
    if let Some(req) = requested
        && KmsArn::parse_key(req).is_ok()
        && req != returned
    {
        return Err(KmsError::new(
            KmsErrorKind::KeyIdMismatch,
            format!(
                "{}: asked for key {req} but KMS answered for {returned}",
                op.name()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::cell::{Cell, RefCell};

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    use super::*;
    use crate::kms::auth::{Credentials, ProxyAuth};
    use crate::kms::transport::KmsFuture;

    const ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    const OTHER: &str =
        "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555";

    /// Headers, body and timeout of one sent request.
    type Seen = (Vec<(String, String)>, Vec<u8>, Duration);

    /// A scripted transport with a virtual clock: `sleep` advances it, nothing waits.
    struct Script {
        answers: RefCell<Vec<Result<(u16, String), KmsErrorKind>>>,
        seen: RefCell<Vec<Seen>>,
        clock: Cell<Duration>,
        slept: RefCell<Vec<Duration>>,
        per_request: Duration,
    }

    impl Script {
        fn new(answers: Vec<Result<(u16, String), KmsErrorKind>>) -> Rc<Self> {
            Rc::new(Script {
                answers: RefCell::new(answers.into_iter().rev().collect()),
                seen: RefCell::new(Vec::new()),
                clock: Cell::new(Duration::from_secs(1_440_938_160)),
                slept: RefCell::new(Vec::new()),
                per_request: Duration::from_millis(20),
            })
        }
    }

    impl Transport for Script {
        fn send<'a>(
            &'a self,
            request: &'a HttpRequest,
            timeout: Duration,
            _cancel: &'a CancelToken,
        ) -> KmsFuture<'a, Result<HttpResponse, KmsError>> {
            Box::pin(async move {
                self.seen.borrow_mut().push((
                    request.headers.clone(),
                    request.body.to_vec(),
                    timeout,
                ));
                self.clock.set(self.clock.get() + self.per_request);
                match self.answers.borrow_mut().pop().expect("script ran out") {
                    Ok((status, body)) => Ok(HttpResponse {
                        status,
                        headers: vec![],
                        body: Zeroizing::new(body.into_bytes()),
                    }),
                    Err(kind) => Err(KmsError::new(kind, "scripted")),
                }
            })
        }
        fn sleep(&self, d: Duration) -> KmsFuture<'_, ()> {
            self.slept.borrow_mut().push(d);
            self.clock.set(self.clock.get() + d);
            Box::pin(async {})
        }
        fn now(&self) -> Duration {
            self.clock.get()
        }
        fn random_u32(&self) -> u32 {
            u32::MAX // always the full ceiling: deterministic delays
        }
    }

    fn client(t: &Rc<Script>) -> KmsClient {
        let ep = Endpoint::parse("http://127.0.0.1:9").unwrap();
        let auth = Auth::static_credentials(Credentials::new("AKID", "SECRET", None));
        KmsClient::new(ep, "us-east-1", auth, t.clone()).unwrap()
    }

    fn ok_decrypt(key: &str) -> Result<(u16, String), KmsErrorKind> {
        Ok((
            200,
            format!(
                r#"{{"KeyId":"{key}","Plaintext":"{}"}}"#,
                B64.encode([5u8; 32])
            ),
        ))
    }

    fn err(ty: &str, status: u16) -> Result<(u16, String), KmsErrorKind> {
        Ok((status, format!(r#"{{"__type":"{ty}"}}"#)))
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        pollster::block_on(f)
    }

    #[test]
    fn throttled_then_success_retries_with_jittered_backoff() {
        let t = Script::new(vec![
            err("ThrottlingException", 400),
            Ok((500, "<html/>".into())),
            ok_decrypt(ARN),
        ]);
        let c = client(&t);
        let out = run(c.decrypt(Some(ARN), b"blob", &EncryptionContext::new())).unwrap();
        assert_eq!(out.key_id, ARN);
        // Backoffs of 100 ms then 200 ms, slept in cancellation-poll slices.
        let slept = t.slept.borrow();
        assert!(slept.iter().all(|d| *d <= CANCEL_POLL), "{slept:?}");
        assert_eq!(slept.iter().sum::<Duration>(), Duration::from_millis(300));
        drop(slept);
        let s = c.metrics().snapshot();
        let d = &s.operations["Decrypt"];
        assert_eq!((d.calls, d.attempts, d.successes), (1, 3, 1));
        assert_eq!(s.retried_errors["KMS_THROTTLED"], 1);
        assert_eq!(s.retried_errors["KMS_UNAVAILABLE"], 1);
        assert_eq!(d.total_latency, Duration::from_millis(360));
    }

    #[test]
    fn invalid_ciphertext_is_not_retried() {
        let t = Script::new(vec![err("InvalidCiphertextException", 400)]);
        let c = client(&t);
        let e = run(c.decrypt(Some(ARN), b"blob", &EncryptionContext::new())).unwrap_err();
        assert_eq!(e.kind, KmsErrorKind::InvalidCiphertext);
        assert_eq!(t.seen.borrow().len(), 1);
        assert_eq!(c.metrics().snapshot().errors["KMS_INVALID_CIPHERTEXT"], 1);
    }

    #[test]
    fn attempts_are_bounded_and_the_last_error_is_returned() {
        let t = Script::new(vec![Err(KmsErrorKind::Network); 4]);
        let c = client(&t);
        let e = run(c.decrypt(None, b"b", &EncryptionContext::new())).unwrap_err();
        assert_eq!(e.kind, KmsErrorKind::Network);
        assert_eq!(t.seen.borrow().len(), 4);
    }

    #[test]
    fn each_attempt_timeout_is_capped_by_the_remaining_budget() {
        let t = Script::new(vec![Err(KmsErrorKind::Timeout), ok_decrypt(ARN)]);
        let c = client(&t).with_retry_policy(RetryPolicy {
            max_total: Duration::from_secs(3),
            ..RetryPolicy::default()
        });
        run(c.decrypt(Some(ARN), b"b", &EncryptionContext::new())).unwrap();
        let seen = t.seen.borrow();
        assert_eq!(seen[0].2, Duration::from_secs(3));
        assert_eq!(seen[1].2, Duration::from_millis(3000 - 20 - 100));
    }

    #[test]
    fn wrong_key_id_in_answer_is_a_mismatch_and_not_retried() {
        let t = Script::new(vec![ok_decrypt(OTHER)]);
        let e = run(client(&t).decrypt(Some(ARN), b"b", &EncryptionContext::new())).unwrap_err();
        assert_eq!(e.kind, KmsErrorKind::KeyIdMismatch);
        let t = Script::new(vec![ok_decrypt("11111111-2222-3333-4444-555555555555")]);
        let e = run(client(&t).decrypt(None, b"b", &EncryptionContext::new())).unwrap_err();
        assert_eq!(
            e.kind,
            KmsErrorKind::MalformedResponse,
            "bare key id is not an ARN"
        );
        let t = Script::new(vec![ok_decrypt(ARN)]);
        assert!(
            run(client(&t).decrypt(Some("alias/any"), b"b", &EncryptionContext::new())).is_ok()
        );
    }

    #[test]
    fn generate_data_key_of_the_wrong_length_is_malformed() {
        let body = format!(
            r#"{{"KeyId":"{ARN}","Plaintext":"{}","CiphertextBlob":"AAAA"}}"#,
            B64.encode([1u8; 16])
        );
        let t = Script::new(vec![Ok((200, body))]);
        let e = run(client(&t).generate_data_key(ARN, 32, &EncryptionContext::new())).unwrap_err();
        assert_eq!(e.kind, KmsErrorKind::MalformedResponse);
    }

    #[test]
    fn cancelled_token_stops_before_sending() {
        let t = Script::new(vec![]);
        let tok = CancelToken::new();
        tok.cancel();
        let e = run(client(&t)
            .with_cancel(tok)
            .decrypt(None, b"b", &EncryptionContext::new()))
        .unwrap_err();
        assert_eq!(e.kind, KmsErrorKind::Aborted);
        assert_eq!(e.into_error().code(), "ABORTED");
        assert!(t.seen.borrow().is_empty());
    }

    #[test]
    fn sigv4_mode_signs_and_proxy_mode_sends_only_custom_headers() {
        let t = Script::new(vec![ok_decrypt(ARN)]);
        run(client(&t).decrypt(Some(ARN), b"b", &EncryptionContext::new())).unwrap();
        let h = t.seen.borrow()[0].0.clone();
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        assert!(
            get("authorization")
                .unwrap()
                .contains("/20150830/us-east-1/kms/aws4_request")
        );
        assert_eq!(get("x-amz-date").as_deref(), Some("20150830T123600Z"));

        let t = Script::new(vec![ok_decrypt(ARN)]);
        let proxy = Auth::Proxy(ProxyAuth {
            headers: vec![("Authorization".into(), "Bearer abc".into())],
            ..ProxyAuth::default()
        });
        let c = KmsClient::new(
            Endpoint::parse("https://app.example/kms").unwrap(),
            "us-east-1",
            proxy,
            t.clone(),
        )
        .unwrap();
        run(c.decrypt(Some(ARN), b"b", &EncryptionContext::new())).unwrap();
        let h = t.seen.borrow()[0].0.clone();
        let auths: Vec<_> = h
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .collect();
        assert_eq!(auths.len(), 1);
        assert_eq!(auths[0].1, "Bearer abc");
        assert!(!h.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-amz-date")));

        let both = Auth::Proxy(ProxyAuth {
            headers: vec![("authorization".into(), "Bearer abc".into())],
            sigv4_shaped_authorization: true,
            ..ProxyAuth::default()
        });
        assert!(
            KmsClient::new(Endpoint::parse("http://h").unwrap(), "us-east-1", both, t).is_err()
        );
    }
}
