//! KMS fault injection beyond tests/kms_fake.rs (hardening issue, part 4): a scripted fake KMS
//! on 127.0.0.1 that can also close connections, cut bodies short, echo requests and send
//! oversized bodies. Runs the real native transport, signer, parser, retries, keyrings and
//! client.
//!
//! Covered here: connection refused and reset through the whole client; a body cut short of
//! its Content-Length; plaintext of the wrong length from Decrypt and GenerateDataKey; 503 and
//! throttling bursts that recover or exhaust the retries (exact attempt counts, elapsed time
//! within the retry budget); the total-time budget cutting a long burst; a 2 MiB body; abort
//! through a `CancelToken` mid-backoff (no request after it, promptly, not swallowed by a
//! multi-keyring); EDK provider-info edits (no KMS call for an EDK that is not the keyring's);
//! and no data key in any error, even from a proxy that echoes the request.
//!
//! Time: every test is bounded by its client's timeouts and retry budget. The only time
//! assertions are generous upper bounds ("no hang"), never lower bounds or exact durations.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// `Client` takes `Arc<dyn Keyring>`; KMS keyrings are deliberately !Send (browser transports).
#![allow(clippy::arc_with_non_send_sync)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use kms_envelope::client::{Client, EncryptOptions};
use kms_envelope::crypto::DataKey;
use kms_envelope::keyring::{
    DecryptionMaterials, DiscoveryFilter, EncryptionMaterials, Keyring, KeyringFuture, KmsKeyring,
    MultiKeyring, RawAesKeyring,
};
use kms_envelope::kms::{
    Auth, CancelToken, Credentials, Endpoint, HttpRequest, HttpResponse, KmsClient, KmsError,
    KmsErrorKind, KmsFuture, NativeTransport, RetryPolicy, Transport,
};
use kms_envelope::{EncryptedDataKey, EncryptionContext, Error, Result};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-1111-2222-3333-444444444444";
const OTHER: &str = "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-1111-2222-3333-444444444444";
/// The data key the fake's GenerateDataKey hands out.
const DATA_KEY: [u8; 32] = [
    0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0,
    0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf0,
];

// ---------------------------------------------------------------------------------------------
// The scripted fake.

/// What the fake does with one connection.
#[derive(Clone)]
enum Act {
    /// An HTTP response.
    Reply {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Headers promising `declared` body bytes, then `body` (shorter), then close.
    Short { declared: usize, body: Vec<u8> },
    /// Read the request, then close without a word.
    Close,
    /// Answer `status` with the request body itself (a misbehaving proxy or WAF page).
    Echo {
        status: u16,
        content_type: &'static str,
    },
}

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Act {
    Act::Reply {
        status,
        content_type: "application/x-amz-json-1.1",
        body: body.into(),
        delay: Duration::ZERO,
    }
}

fn kms_error(ty: &str) -> Act {
    reply(
        400,
        format!(r#"{{"__type":"{ty}","message":"scripted {ty}"}}"#),
    )
}

fn gdk_ok() -> Act {
    reply(
        200,
        format!(
            r#"{{"KeyId":"{KEY}","Plaintext":"{}","CiphertextBlob":"{}"}}"#,
            B64.encode(DATA_KEY),
            B64.encode(b"opaque-blob")
        ),
    )
}

fn decrypt_ok_with(plaintext: &[u8]) -> Act {
    reply(
        200,
        format!(
            r#"{{"KeyId":"{KEY}","Plaintext":"{}"}}"#,
            B64.encode(plaintext)
        ),
    )
}

struct Fake {
    url: String,
    served: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Fake {
    /// Serve `script` in order, one connection each, each on its own thread; the accept loop
    /// ends when the script is used up.
    fn start(script: Vec<Act>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (served2, bodies2) = (served.clone(), bodies.clone());
        thread::spawn(move || {
            while !script.lock().unwrap().is_empty() {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let Some(act) = script.lock().unwrap().pop_front() else {
                    return;
                };
                let (served, bodies) = (served2.clone(), bodies2.clone());
                thread::spawn(move || {
                    // Record the request before answering, so the client never sees an answer
                    // the counters do not yet include.
                    serve(stream, act, |request| {
                        bodies.lock().unwrap().push(request.to_vec());
                        served.fetch_add(1, Ordering::SeqCst);
                    });
                });
            }
        });
        Fake {
            url,
            served,
            bodies,
        }
    }

    fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    fn kms(&self, retry: RetryPolicy) -> KmsClient {
        kms_at(&self.url, retry)
    }
}

fn kms_at(url: &str, retry: RetryPolicy) -> KmsClient {
    let auth = Auth::static_credentials(Credentials::new("AKIDFAKE", "secret", None));
    KmsClient::native(Endpoint::parse(url).unwrap(), "us-east-1", auth)
        .unwrap()
        .with_timeout(Duration::from_millis(500))
        .with_retry_policy(retry)
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total: Duration::from_secs(5),
    }
}

/// Read one request; return its body.
fn read_request(stream: &TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    let mut len = 0usize;
    reader.read_line(&mut line).ok();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok();
    body
}

fn head(status: u16, content_type: &str, len: usize) -> String {
    let reason = if status == 200 { "OK" } else { "Error" };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

fn serve(mut stream: TcpStream, act: Act, record: impl FnOnce(&[u8])) {
    let request = read_request(&stream);
    record(&request);
    match act {
        Act::Reply {
            status,
            content_type,
            body,
            delay,
        } => {
            thread::sleep(delay);
            let _ = stream.write_all(head(status, content_type, body.len()).as_bytes());
            let _ = stream.write_all(&body);
        }
        Act::Short { declared, body } => {
            let _ = stream.write_all(head(200, "application/x-amz-json-1.1", declared).as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
        Act::Close => {}
        Act::Echo {
            status,
            content_type,
        } => {
            let _ = stream.write_all(head(status, content_type, request.len()).as_bytes());
            let _ = stream.write_all(&request);
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn ctx() -> EncryptionContext {
    [("purpose", "kms-faults")].into_iter().collect()
}

fn options() -> EncryptOptions {
    EncryptOptions {
        context: ctx(),
        ..EncryptOptions::default()
    }
}

/// A message whose only EDK is a KMS EDK for `KEY` (made through a fake that answers one
/// GenerateDataKey).
fn kms_message() -> Vec<u8> {
    let fake = Fake::start(vec![gdk_ok()]);
    let kr = KmsKeyring::strict(fake.kms(quick()), Some(KEY.into()), vec![]).unwrap();
    pollster::block_on(Client::new(Arc::new(kr)).encrypt(b"kms faults", &options())).unwrap()
}

fn strict_client(kms: KmsClient) -> Client {
    Client::new(Arc::new(
        KmsKeyring::strict(kms, Some(KEY.into()), vec![]).unwrap(),
    ))
}

/// No form of `key` (hex, base64 of any 9-byte window, decimal Debug) in `text`.
fn assert_no_key(what: &str, text: &str, key: &[u8]) {
    let mut needles = vec![hex::encode(key), B64.encode(key)];
    for w in key.windows(9).step_by(3) {
        needles.push(B64.encode(w));
        needles.push(URL_SAFE_NO_PAD.encode(w));
    }
    for w in key.windows(6) {
        needles.push(hex::encode(w));
    }
    for w in key.windows(4) {
        needles.push(w.iter().map(u8::to_string).collect::<Vec<_>>().join(", "));
    }
    for n in needles {
        assert!(
            !text.contains(&n),
            "{what} shows the data key ({n}): {text}"
        );
    }
}

fn assert_error_clean(what: &str, e: &Error) {
    assert_no_key(what, &format!("{e} {e:?}"), &DATA_KEY);
}

/// Generous upper bound for a call that must give up within `policy`'s budget: the budget,
/// one request timeout, and slack for a loaded machine. A "no hang" check, not a benchmark.
fn within_budget(policy: &RetryPolicy, elapsed: Duration) {
    let bound = policy.max_total + Duration::from_millis(500) + Duration::from_secs(5);
    assert!(elapsed <= bound, "took {elapsed:?}, more than {bound:?}");
}

// ---------------------------------------------------------------------------------------------
// Network-level faults, through the whole client.

#[test]
fn connection_refused_on_decrypt_is_kms_network_after_bounded_attempts() {
    let ct = kms_message();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // bound then dropped: nothing listens there now
    let kms = kms_at(&format!("http://127.0.0.1:{port}"), quick());
    let metrics = kms.metrics().clone();
    let t0 = Instant::now();
    let err =
        pollster::block_on(strict_client(kms).decrypt(&ct, &EncryptionContext::new())).unwrap_err();
    within_budget(&quick(), t0.elapsed());
    assert_eq!(err.code(), "KMS_NETWORK");
    assert_eq!(metrics.snapshot().operations["Decrypt"].attempts, 4);
    assert_error_clean("connection refused", &err);
}

#[test]
fn connection_closed_without_an_answer_is_retried_then_kms_network() {
    let ct = kms_message();
    // Three resets, then a good answer: recovers.
    let fake = Fake::start(vec![
        Act::Close,
        Act::Close,
        Act::Close,
        decrypt_ok_with(&DATA_KEY),
    ]);
    let out = pollster::block_on(
        strict_client(fake.kms(quick())).decrypt(&ct, &EncryptionContext::new()),
    );
    assert_eq!(out.unwrap().plaintext, b"kms faults");
    assert_eq!(fake.served(), 4);
    // Only resets: gives up after max_attempts.
    let fake = Fake::start(vec![Act::Close; 4]);
    let t0 = Instant::now();
    let err = pollster::block_on(
        strict_client(fake.kms(quick())).decrypt(&ct, &EncryptionContext::new()),
    )
    .unwrap_err();
    within_budget(&quick(), t0.elapsed());
    assert_eq!(err.code(), "KMS_NETWORK");
    assert_eq!(fake.served(), 4);
}

#[test]
fn body_cut_short_of_its_content_length_is_not_a_key() {
    // The first 60 bytes of a real Decrypt answer (holding part of the base64 key), then the
    // connection closes although 200 bytes were promised.
    let ct = kms_message();
    let full = format!(
        r#"{{"KeyId":"{KEY}","Plaintext":"{}"}}"#,
        B64.encode(DATA_KEY)
    );
    let cut = full.as_bytes()[..full.len() - 20].to_vec();
    let short = Act::Short {
        declared: full.len(),
        body: cut,
    };
    let fake = Fake::start(vec![short; 4]);
    let kms = fake.kms(quick());
    let metrics = kms.metrics().clone();
    let t0 = Instant::now();
    let err =
        pollster::block_on(strict_client(kms).decrypt(&ct, &EncryptionContext::new())).unwrap_err();
    within_budget(&quick(), t0.elapsed());
    // A transport failure (retried), never a parse of half a key.
    assert_eq!(err.code(), "KMS_NETWORK", "{err}");
    assert_eq!(metrics.snapshot().operations["Decrypt"].attempts, 4);
    assert_error_clean("short body", &err);
}

#[test]
fn a_two_mib_body_is_cut_at_one_mib_and_refused() {
    let ct = kms_message();
    let mut body = vec![b' '; 2 << 20];
    body.extend_from_slice(
        format!(
            r#"{{"KeyId":"{KEY}","Plaintext":"{}"}}"#,
            B64.encode(DATA_KEY)
        )
        .as_bytes(),
    );
    let fake = Fake::start(vec![reply(200, body)]);
    let err = pollster::block_on(
        strict_client(fake.kms(quick())).decrypt(&ct, &EncryptionContext::new()),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS_MALFORMED_RESPONSE", "{err}");
    assert_eq!(fake.served(), 1, "a malformed answer is not retried");
}

// ---------------------------------------------------------------------------------------------
// Answers of the wrong shape.

#[test]
fn decrypt_plaintext_of_the_wrong_length_is_refused_without_retry() {
    let ct = kms_message();
    for (len, what) in [
        (16, "16 bytes for a 32-byte suite"),
        (33, "33 bytes"),
        (0, "empty"),
    ] {
        let pt: Vec<u8> = DATA_KEY.iter().copied().cycle().take(len).collect();
        let fake = Fake::start(vec![decrypt_ok_with(&pt)]);
        let err = pollster::block_on(
            strict_client(fake.kms(quick())).decrypt(&ct, &EncryptionContext::new()),
        )
        .unwrap_err();
        // An empty Plaintext is a missing field; any other length a wrong one: both malformed.
        assert_eq!(err.code(), "KMS_MALFORMED_RESPONSE", "{what}: {err}");
        assert_eq!(fake.served(), 1, "{what}: retried");
        assert_error_clean(what, &err);
    }
}

#[test]
fn generate_data_key_of_the_wrong_length_writes_nothing() {
    let short = reply(
        200,
        format!(
            r#"{{"KeyId":"{KEY}","Plaintext":"{}","CiphertextBlob":"{}"}}"#,
            B64.encode(&DATA_KEY[..16]),
            B64.encode(b"blob")
        ),
    );
    let fake = Fake::start(vec![short]);
    let client = strict_client(fake.kms(quick()));
    let err = pollster::block_on(client.encrypt(b"x", &options())).unwrap_err();
    assert_eq!(err.code(), "KMS_MALFORMED_RESPONSE");
    assert_eq!(fake.served(), 1);
    assert_error_clean("short GenerateDataKey", &err);
}

// ---------------------------------------------------------------------------------------------
// Bursts: bounded attempts, bounded time.

#[test]
fn a_503_burst_shorter_than_the_retries_recovers() {
    let ct = kms_message();
    let unavailable = reply(503, "Service Unavailable");
    let fake = Fake::start(vec![
        unavailable.clone(),
        unavailable.clone(),
        unavailable,
        decrypt_ok_with(&DATA_KEY),
    ]);
    let kms = fake.kms(quick());
    let metrics = kms.metrics().clone();
    let out =
        pollster::block_on(strict_client(kms).decrypt(&ct, &EncryptionContext::new())).unwrap();
    assert_eq!(out.plaintext, b"kms faults");
    let m = metrics.snapshot();
    assert_eq!(m.operations["Decrypt"].attempts, 4);
    assert_eq!(m.retried_errors["KMS_UNAVAILABLE"], 3);
}

#[test]
fn bursts_longer_than_the_retries_exhaust_them_with_the_right_code() {
    let ct = kms_message();
    for (act, code) in [
        (reply(503, "Service Unavailable"), "KMS_UNAVAILABLE"),
        (kms_error("ThrottlingException"), "KMS_THROTTLED"),
        (reply(429, ""), "KMS_THROTTLED"),
        (kms_error("KMSInternalException"), "KMS_UNAVAILABLE"),
    ] {
        // More answers than attempts: exactly max_attempts of them are used.
        let fake = Fake::start(vec![act; 6]);
        let kms = fake.kms(quick());
        let metrics = kms.metrics().clone();
        let t0 = Instant::now();
        let err = pollster::block_on(strict_client(kms).decrypt(&ct, &EncryptionContext::new()))
            .unwrap_err();
        within_budget(&quick(), t0.elapsed());
        assert_eq!(err.code(), code);
        let d = &metrics.snapshot().operations["Decrypt"];
        assert_eq!((d.calls, d.attempts), (1, 4), "{code}");
        assert_eq!(fake.served(), 4, "{code}: no request after giving up");
    }
}

#[test]
fn the_total_time_budget_cuts_a_long_burst() {
    // 100 attempts allowed, but only 1.5 s: the budget, not the count, ends it.
    let policy = RetryPolicy {
        max_attempts: 100,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        max_total: Duration::from_millis(1500),
    };
    let fake = Fake::start(vec![reply(503, "busy"); 100]);
    let kms = fake.kms(policy);
    let t0 = Instant::now();
    let err = pollster::block_on(kms.decrypt(Some(KEY), b"blob", &ctx())).unwrap_err();
    within_budget(&policy, t0.elapsed());
    assert_eq!(err.kind, KmsErrorKind::Unavailable);
    let attempts = kms.metrics().snapshot().operations["Decrypt"].attempts;
    assert!((2..100).contains(&attempts), "{attempts} attempts");
}

// ---------------------------------------------------------------------------------------------
// Abort.

/// The native transport with full-ceiling jitter: backoffs are exactly `ceiling(n)`.
struct NoJitter(NativeTransport);

impl Transport for NoJitter {
    fn send<'a>(
        &'a self,
        request: &'a HttpRequest,
        timeout: Duration,
        cancel: &'a CancelToken,
    ) -> KmsFuture<'a, std::result::Result<HttpResponse, KmsError>> {
        self.0.send(request, timeout, cancel)
    }
    fn sleep(&self, duration: Duration) -> KmsFuture<'_, ()> {
        self.0.sleep(duration)
    }
    fn now(&self) -> Duration {
        self.0.now()
    }
    fn random_u32(&self) -> u32 {
        u32::MAX
    }
}

/// A client whose every retry waits `backoff`, cancelled by `token`.
fn slow_backoff_client(url: &str, backoff: Duration, token: &CancelToken) -> KmsClient {
    let auth = Auth::static_credentials(Credentials::new("AKIDFAKE", "secret", None));
    KmsClient::new(
        Endpoint::parse(url).unwrap(),
        "us-east-1",
        auth,
        Rc::new(NoJitter(NativeTransport::new())),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(2))
    .with_retry_policy(RetryPolicy {
        max_attempts: 4,
        base_delay: backoff,
        max_delay: backoff,
        max_total: Duration::from_secs(60),
    })
    .with_cancel(token.clone())
}

#[test]
fn cancel_mid_backoff_sends_nothing_more_and_reports_aborted() {
    let fake = Fake::start(vec![reply(503, "busy"); 4]);
    let token = CancelToken::new();
    let kms = slow_backoff_client(&fake.url, Duration::from_millis(1500), &token);
    let metrics = kms.metrics().clone();
    let canceller = {
        let token = token.clone();
        let served = fake.served.clone();
        thread::spawn(move || {
            let t0 = Instant::now();
            while served.load(Ordering::SeqCst) == 0 && t0.elapsed() < Duration::from_secs(10) {
                thread::sleep(Duration::from_millis(5));
            }
            thread::sleep(Duration::from_millis(200));
            token.cancel();
        })
    };
    let err = pollster::block_on(kms.decrypt(Some(KEY), b"blob", &ctx())).unwrap_err();
    canceller.join().unwrap();
    assert_eq!(err.kind, KmsErrorKind::Aborted);
    assert_eq!(err.clone().into_error().code(), "ABORTED");
    assert_eq!(fake.served(), 1, "no request after the cancel");
    let d = &metrics.snapshot().operations["Decrypt"];
    assert_eq!(d.attempts, 1);
}

#[test]
fn cancel_mid_backoff_is_honoured_promptly() {
    // Every retry would wait 6 s; the cancel comes ~0.2 s into the first wait. "Promptly":
    // well before the wait would have ended (3 s bound against a 6 s backoff). The native
    // transport's sleep does not see the token, so this measures whether the backoff is cut.
    let fake = Fake::start(vec![reply(503, "busy"); 4]);
    let token = CancelToken::new();
    let kms = slow_backoff_client(&fake.url, Duration::from_secs(6), &token);
    let served = fake.served.clone();
    let canceller = {
        let token = token.clone();
        thread::spawn(move || {
            let t0 = Instant::now();
            while served.load(Ordering::SeqCst) == 0 && t0.elapsed() < Duration::from_secs(10) {
                thread::sleep(Duration::from_millis(5));
            }
            thread::sleep(Duration::from_millis(200));
            token.cancel();
            Instant::now()
        })
    };
    let err = pollster::block_on(kms.decrypt(Some(KEY), b"blob", &ctx())).unwrap_err();
    let returned = Instant::now();
    let cancelled = canceller.join().unwrap();
    assert_eq!(err.kind, KmsErrorKind::Aborted);
    let lag = returned.saturating_duration_since(cancelled);
    assert!(
        lag < Duration::from_secs(3),
        "the call returned {lag:?} after the cancel: the 6 s backoff was not interrupted"
    );
}

/// A keyring that counts how often it was asked to decrypt.
struct Counting(Arc<dyn Keyring>, Arc<AtomicUsize>);

impl Keyring for Counting {
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        self.0.on_encrypt(materials)
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.on_decrypt(materials, edks)
    }
}

#[test]
fn an_aborted_kms_keyring_stops_a_multi_keyring() {
    // A message with a KMS EDK and a raw AES EDK; decrypt with [KMS (cancelled), raw AES]:
    // the abort is the caller's decision, so the raw keyring is not tried and the code is
    // ABORTED, not a keyring failure.
    let fake = Fake::start(vec![gdk_ok()]);
    let raw: Arc<dyn Keyring> = Arc::new(RawAesKeyring::new("faults", "raw", &[9u8; 32]).unwrap());
    let kms_ring: Arc<dyn Keyring> =
        Arc::new(KmsKeyring::strict(fake.kms(quick()), Some(KEY.into()), vec![]).unwrap());
    let enc = MultiKeyring::new(Some(kms_ring), vec![raw.clone()]).unwrap();
    let ct =
        pollster::block_on(Client::new(Arc::new(enc)).encrypt(b"two keys", &options())).unwrap();

    let token = CancelToken::new();
    token.cancel();
    let quiet = Fake::start(vec![decrypt_ok_with(&DATA_KEY)]);
    let cancelled: Arc<dyn Keyring> = Arc::new(
        KmsKeyring::strict(
            quiet.kms(quick()).with_cancel(token),
            Some(KEY.into()),
            vec![],
        )
        .unwrap(),
    );
    let raw_calls = Arc::new(AtomicUsize::new(0));
    let counted: Arc<dyn Keyring> = Arc::new(Counting(raw, raw_calls.clone()));
    let dec = MultiKeyring::new(Some(cancelled), vec![counted]).unwrap();
    let err =
        pollster::block_on(Client::new(Arc::new(dec)).decrypt(&ct, &EncryptionContext::new()))
            .unwrap_err();
    assert_eq!(err.code(), "ABORTED");
    assert_eq!(
        raw_calls.load(Ordering::SeqCst),
        0,
        "the raw keyring was tried after the abort"
    );
    assert_eq!(quiet.served(), 0, "nothing was sent");
}

// ---------------------------------------------------------------------------------------------
// EDK provider-info edits: an EDK that is not the keyring's never reaches KMS.

/// Replace the first occurrence of `from` in `ct` with `to` (same length: the header layout
/// stays valid, its tag does not — but no keyring may get that far with these).
fn replace(ct: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = ct.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = ct.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn edited_kms_provider_info_is_refused_before_any_kms_call() {
    let ct = kms_message();
    let same_len = |s: &str| {
        assert_eq!(s.len(), KEY.len(), "{s}");
        s.as_bytes().to_vec()
    };
    let not_an_arn = same_len(&"x".repeat(KEY.len()));
    let alias_arn =
        same_len("arn:aws:kms:us-east-1:111122223333:alias/aaaaaaaa-1111-2222-3333-4444444444");
    let other_key = OTHER.as_bytes().to_vec();
    let other_account =
        same_len("arn:aws:kms:us-east-1:999999999999:key/aaaaaaaa-1111-2222-3333-444444444444");
    let mut not_utf8 = KEY.as_bytes().to_vec();
    not_utf8[20] = 0xFF;
    for (what, info, code) in [
        (
            "provider info is not an ARN",
            not_an_arn,
            "MALFORMED_MESSAGE",
        ),
        (
            "provider info is an alias ARN",
            alias_arn,
            "MALFORMED_MESSAGE",
        ),
        ("provider info is not UTF-8", not_utf8, "MALFORMED_MESSAGE"),
        (
            "another key of the same account",
            other_key,
            "NO_DECRYPTABLE_KEY",
        ),
        (
            "the same key id in another account",
            other_account,
            "NO_DECRYPTABLE_KEY",
        ),
    ] {
        let bad = replace(&ct, KEY.as_bytes(), &info);
        let fake = Fake::start(vec![decrypt_ok_with(&DATA_KEY)]);
        let err = pollster::block_on(
            strict_client(fake.kms(quick())).decrypt(&bad, &EncryptionContext::new()),
        )
        .unwrap_err();
        assert_eq!(err.code(), code, "{what}: {err}");
        assert_eq!(fake.served(), 0, "{what}: KMS was called");
    }
    // Provider id `aws-kms` → `aws-kmz`: not a KMS EDK at all.
    let bad = replace(&ct, b"aws-kms", b"aws-kmz");
    let fake = Fake::start(vec![decrypt_ok_with(&DATA_KEY)]);
    let err = pollster::block_on(
        strict_client(fake.kms(quick())).decrypt(&bad, &EncryptionContext::new()),
    )
    .unwrap_err();
    assert_eq!(err.code(), "NO_DECRYPTABLE_KEY");
    assert_eq!(fake.served(), 0);
    // Discovery limited to another account: filtered out before KMS.
    let fake = Fake::start(vec![decrypt_ok_with(&DATA_KEY)]);
    let filter = DiscoveryFilter {
        partition: "aws".into(),
        accounts: vec!["999999999999".into()],
    };
    let disc = KmsKeyring::discovery(fake.kms(quick()), Some(filter)).unwrap();
    let err =
        pollster::block_on(Client::new(Arc::new(disc)).decrypt(&ct, &EncryptionContext::new()))
            .unwrap_err();
    assert_eq!(err.code(), "NO_DECRYPTABLE_KEY");
    assert_eq!(fake.served(), 0);
}

#[test]
fn an_edited_kms_ciphertext_blob_reaches_kms_and_fails_there() {
    // The blob is opaque to us: KMS decides (InvalidCiphertextException), once, no retry.
    let ct = kms_message();
    let bad = replace(&ct, b"opaque-blob", b"opaque-blub");
    let fake = Fake::start(vec![kms_error("InvalidCiphertextException")]);
    let err = pollster::block_on(
        strict_client(fake.kms(quick())).decrypt(&bad, &EncryptionContext::new()),
    )
    .unwrap_err();
    assert_eq!(err.code(), "KMS_INVALID_CIPHERTEXT");
    assert_eq!(fake.served(), 1);
    let sent = fake.bodies.lock().unwrap()[0].clone();
    let sent: serde_json::Value = serde_json::from_slice(&sent).unwrap();
    assert_eq!(sent["CiphertextBlob"], B64.encode(b"opaque-blub"));
}

// ---------------------------------------------------------------------------------------------
// No data key in errors, even when the answer carries it.

/// A generator that uses `DATA_KEY`, so a KMS keyring after it must `Encrypt` that key.
struct KnownDataKey;

impl Keyring for KnownDataKey {
    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            materials.data_key = Some(DataKey::from_bytes(DATA_KEY.to_vec()));
            Ok(materials)
        })
    }
    fn on_decrypt<'a>(
        &'a self,
        _: &'a DecryptionMaterials,
        _: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        Box::pin(async { None })
    }
}

#[test]
fn an_echoing_proxy_does_not_put_the_data_key_in_the_error() {
    // KMS Encrypt carries the plaintext data key (base64) in its request. A proxy or WAF that
    // answers with the request in its error page must not make that key part of the error
    // message (which ends up in logs, JS error objects, the CLI's stderr).
    for (status, content_type) in [
        (400, "text/plain"),
        (500, "text/html"),
        (403, "application/json"),
        (200, "text/plain"),
    ] {
        let fake = Fake::start(vec![Act::Echo {
            status,
            content_type,
        }]);
        let kms_ring: Arc<dyn Keyring> = Arc::new(
            KmsKeyring::strict(fake.kms(RetryPolicy::none()), None, vec![KEY.into()]).unwrap(),
        );
        let multi = MultiKeyring::new(Some(Arc::new(KnownDataKey)), vec![kms_ring]).unwrap();
        let err =
            pollster::block_on(Client::new(Arc::new(multi)).encrypt(b"x", &options())).unwrap_err();
        let sent = fake.bodies.lock().unwrap()[0].clone();
        assert!(
            String::from_utf8_lossy(&sent).contains(&B64.encode(DATA_KEY)),
            "the Encrypt request carries the key (premise of this test)"
        );
        assert!(err.code().starts_with("KMS_"), "{status}: {}", err.code());
        assert_error_clean(&format!("echo with HTTP {status} {content_type}"), &err);
    }
}

#[test]
fn malformed_answers_carrying_the_key_do_not_leak_it() {
    let ct = kms_message();
    let b64 = B64.encode(DATA_KEY);
    for body in [
        format!(r#"{{"KeyId":5,"Plaintext":"{b64}"}}"#),
        format!(r#"{{"KeyId":"{OTHER}","Plaintext":"{b64}"}}"#),
        format!(r#"{{"KeyId":"not an arn","Plaintext":"{b64}"}}"#),
        format!(r#"{{"KeyId":"{KEY}","Plaintext":"{b64}""#),
        format!(r#"{{"KeyId":"{KEY}","Plaintext":["{b64}"]}}"#),
        format!(r#"{{"KeyId":"{KEY}","Plaintext":"{b64}","Plaintext":"{b64}"}}"#),
        format!(r#"{{"__type":"KMSInternalException","Plaintext":"{b64}"}}"#),
    ] {
        let status = if body.contains("__type") { 500 } else { 200 };
        let fake = Fake::start(vec![reply(status, body.clone()); 4]);
        let err = pollster::block_on(
            strict_client(fake.kms(quick())).decrypt(&ct, &EncryptionContext::new()),
        )
        .unwrap_err();
        assert!(err.code().starts_with("KMS_"), "{body}: {}", err.code());
        assert_error_clean(&body, &err);
    }
}
