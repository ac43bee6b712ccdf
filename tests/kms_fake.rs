//! Faults real emulators don't produce, from a scripted fake KMS on 127.0.0.1: throttling
//! then success, 500s, slow answers past the timeout, malformed JSON, a wrong `KeyId`, key
//! states moto ignores. Runs the real native transport, signer, parser, retries and keyring.
//! Every test is bounded by the client's timeouts and retry budget; none asserts on timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// `Client` takes `Arc<dyn Keyring>`; KMS keyrings are deliberately !Send (browser transports).
#![allow(clippy::arc_with_non_send_sync)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kms_envelope::cache::{CacheLimits, MaterialsCache};
use kms_envelope::client::{Client, EncryptOptions};
use kms_envelope::keyring::KmsKeyring;
use kms_envelope::kms::{
    Auth, CancelToken, Credentials, Endpoint, KmsClient, KmsErrorKind, RetryPolicy,
};
use kms_envelope::{AlgorithmSuite, EncryptionContext, Error};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-1111-2222-3333-444444444444";
const OTHER: &str = "arn:aws:kms:us-east-1:111122223333:key/bbbbbbbb-1111-2222-3333-444444444444";

/// One scripted answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: impl Into<String>) -> Reply {
    Reply {
        status,
        content_type: "application/x-amz-json-1.1",
        body: body.into(),
        delay: Duration::ZERO,
    }
}

fn kms_error(ty: &str) -> Reply {
    reply(
        400,
        format!(r#"{{"__type":"{ty}","message":"scripted {ty}"}}"#),
    )
}

fn decrypt_ok(key: &str) -> Reply {
    reply(
        200,
        format!(
            r#"{{"KeyId":"{key}","Plaintext":"{}"}}"#,
            B64.encode([42u8; 32])
        ),
    )
}

fn gdk_ok(key: &str) -> Reply {
    reply(
        200,
        format!(
            r#"{{"KeyId":"{key}","Plaintext":"{}","CiphertextBlob":"{}"}}"#,
            B64.encode([42u8; 32]),
            B64.encode(b"opaque-blob")
        ),
    )
}

/// A request as the fake saw it.
#[derive(Debug, Clone)]
struct Seen {
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct FakeKms {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeKms {
    /// Serve `script` in order, one connection per request (each on its own thread, so a slow
    /// answer does not hold up the retry). The accept loop ends when the script is used up.
    fn start(script: Vec<Reply>) -> FakeKms {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let seen2 = seen.clone();
        thread::spawn(move || {
            while !script.lock().unwrap().is_empty() {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let Some(r) = script.lock().unwrap().pop_front() else {
                    return;
                };
                let seen = seen2.clone();
                thread::spawn(move || serve(stream, r, &seen));
            }
        });
        FakeKms { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn client(&self) -> KmsClient {
        let auth = Auth::static_credentials(Credentials::new("AKIDFAKE", "secret", None));
        KmsClient::native(Endpoint::parse(&self.url).unwrap(), "us-east-1", auth)
            .unwrap()
            .with_timeout(Duration::from_millis(300))
            .with_retry_policy(RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
                max_total: Duration::from_secs(5),
            })
    }
}

fn serve(stream: TcpStream, r: Reply, seen: &Mutex<Vec<Seen>>) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok(); // request line
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok();
    seen.lock().unwrap().push(Seen {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    thread::sleep(r.delay);
    let reason = if r.status == 200 { "OK" } else { "Error" };
    let resp = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.status,
        r.content_type,
        r.body.len(),
        r.body
    );
    let mut stream = stream;
    stream.write_all(resp.as_bytes()).ok(); // the client may have given up (timeout tests)
}

fn ctx() -> EncryptionContext {
    [("purpose", "fake-kms-test")].into_iter().collect()
}

fn decrypt_err(fake: &FakeKms) -> kms_envelope::kms::KmsError {
    let t0 = Instant::now();
    let r = pollster::block_on(fake.client().decrypt(Some(KEY), b"blob", &ctx()));
    println!("decrypt took {:?}", t0.elapsed());
    r.expect_err("expected a KMS error")
}

#[test]
fn throttling_then_success_is_retried() {
    let fake = FakeKms::start(vec![
        kms_error("ThrottlingException"),
        reply(429, ""),
        decrypt_ok(KEY),
    ]);
    let client = fake.client();
    let out = pollster::block_on(client.decrypt(Some(KEY), b"blob", &ctx())).unwrap();
    assert_eq!(out.plaintext.expose_secret(), &[42u8; 32]);
    let m = client.metrics().snapshot();
    let d = &m.operations["Decrypt"];
    assert_eq!((d.calls, d.attempts, d.successes), (1, 3, 1));
    assert_eq!(m.retried_errors["KMS_THROTTLED"], 2);
    println!("latency with two throttles: {:?}", d.total_latency);
    // Every attempt was signed afresh and carried the KMS wire format.
    for s in fake.seen() {
        assert_eq!(s.header("x-amz-target"), Some("TrentService.Decrypt"));
        assert_eq!(s.header("content-type"), Some("application/x-amz-json-1.1"));
        assert!(
            s.header("authorization")
                .unwrap()
                .contains("/us-east-1/kms/aws4_request")
        );
        assert!(s.header("host").unwrap().starts_with("127.0.0.1:"));
        let body: serde_json::Value = serde_json::from_str(&s.body).unwrap();
        assert_eq!(body["KeyId"], KEY);
        assert_eq!(body["EncryptionContext"]["purpose"], "fake-kms-test");
    }
}

#[test]
fn persistent_500s_surface_as_unavailable_after_bounded_attempts() {
    let html = Reply {
        content_type: "text/html",
        ..reply(
            500,
            "<!doctype html><title>500 Internal Server Error</title>",
        )
    };
    let fake = FakeKms::start(vec![html; 4]);
    let e = decrypt_err(&fake);
    assert_eq!(e.kind, KmsErrorKind::Unavailable);
    assert_eq!(e.status, Some(500));
    assert_eq!(fake.seen().len(), 4, "max_attempts bounds the retries");
}

#[test]
fn slow_answer_past_the_timeout_is_retried() {
    let slow = Reply {
        delay: Duration::from_secs(2),
        ..decrypt_ok(KEY)
    };
    let fake = FakeKms::start(vec![slow, decrypt_ok(KEY)]);
    let client = fake.client();
    let t0 = Instant::now();
    pollster::block_on(client.decrypt(Some(KEY), b"blob", &ctx())).unwrap();
    println!("timeout then success took {:?}", t0.elapsed());
    assert_eq!(client.metrics().snapshot().retried_errors["KMS_TIMEOUT"], 1);
}

#[test]
fn only_slow_answers_end_in_kms_timeout() {
    let slow = Reply {
        delay: Duration::from_secs(2),
        ..decrypt_ok(KEY)
    };
    let fake = FakeKms::start(vec![slow; 4]);
    let e = decrypt_err(&fake);
    assert_eq!(e.kind, KmsErrorKind::Timeout);
    assert_eq!(Error::Kms(e).code(), "KMS_TIMEOUT");
}

#[test]
fn malformed_json_is_refused_and_not_retried() {
    let fake = FakeKms::start(vec![reply(200, r#"{"KeyId": "#)]);
    assert_eq!(decrypt_err(&fake).kind, KmsErrorKind::MalformedResponse);
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn s3_xml_from_a_misrouted_request_is_refused() {
    let xml = Reply {
        content_type: "application/xml",
        ..reply(200, "<?xml version=\"1.0\"?><ListAllMyBucketsResult/>")
    };
    let fake = FakeKms::start(vec![xml]);
    assert_eq!(decrypt_err(&fake).kind, KmsErrorKind::MalformedResponse);
}

#[test]
fn key_states_and_permanent_errors_are_typed_and_never_retried() {
    for (ty, code) in [
        ("DisabledException", "KMS_KEY_UNAVAILABLE"),
        ("KMSInvalidStateException", "KMS_KEY_UNAVAILABLE"),
        ("IncorrectKeyException", "KMS_INCORRECT_KEY"),
        ("AccessDeniedException", "KMS_ACCESS_DENIED"),
        ("InvalidCiphertextException", "KMS_INVALID_CIPHERTEXT"),
        ("com.amazonaws.kms#NotFoundException", "KMS_NOT_FOUND"),
        ("ValidationException", "KMS_VALIDATION"),
    ] {
        let fake = FakeKms::start(vec![kms_error(ty)]);
        let e = decrypt_err(&fake);
        assert_eq!(e.kind.code(), code, "{ty}");
        assert_eq!(fake.seen().len(), 1, "{ty} was retried");
    }
}

#[test]
fn wrong_key_id_in_the_answer_fails_the_keyring_decrypt() {
    let fake = FakeKms::start(vec![gdk_ok(KEY), decrypt_ok(OTHER)]);
    let kr = KmsKeyring::strict(fake.client(), Some(KEY.into()), vec![]).unwrap();
    let client = Client::new(Arc::new(kr));
    let opts = EncryptOptions {
        context: ctx(),
        ..EncryptOptions::default()
    };
    let ct = pollster::block_on(client.encrypt(b"hello", &opts)).unwrap();
    let err = pollster::block_on(client.decrypt(&ct, &EncryptionContext::new())).unwrap_err();
    assert_eq!(err.code(), "KMS_KEY_ID_MISMATCH");
    let seen = fake.seen();
    let gdk: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(gdk["NumberOfBytes"], 32);
    assert_eq!(gdk["EncryptionContext"]["purpose"], "fake-kms-test");
    assert!(
        gdk["EncryptionContext"]["aws-crypto-public-key"].is_string(),
        "the full context, with the signing key, goes to KMS"
    );
}

#[test]
fn generate_data_key_answering_for_another_key_is_refused() {
    let fake = FakeKms::start(vec![gdk_ok(OTHER)]);
    let kr = KmsKeyring::strict(fake.client(), Some(KEY.into()), vec![]).unwrap();
    let err =
        pollster::block_on(Client::new(Arc::new(kr)).encrypt(b"x", &EncryptOptions::default()))
            .unwrap_err();
    assert_eq!(err.code(), "KMS_KEY_ID_MISMATCH");
}

#[test]
fn connection_refused_is_a_network_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let auth = Auth::static_credentials(Credentials::new("A", "S", None));
    let client = KmsClient::native(
        Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        "us-east-1",
        auth,
    )
    .unwrap()
    .with_retry_policy(RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    });
    let e = pollster::block_on(client.decrypt(None, b"b", &ctx())).unwrap_err();
    assert_eq!(e.kind, KmsErrorKind::Network);
    assert_eq!(
        client.metrics().snapshot().operations["Decrypt"].attempts,
        4
    );
}

#[test]
fn cancelled_call_sends_nothing_and_reports_aborted() {
    let fake = FakeKms::start(vec![decrypt_ok(KEY)]);
    let token = CancelToken::new();
    token.cancel();
    let kr =
        KmsKeyring::strict(fake.client().with_cancel(token), Some(KEY.into()), vec![]).unwrap();
    let err =
        pollster::block_on(Client::new(Arc::new(kr)).encrypt(b"x", &EncryptOptions::default()))
            .unwrap_err();
    assert_eq!(err.code(), "ABORTED");
    assert!(fake.seen().is_empty());
}

/// Encrypt `n` messages and decrypt each; returns (GenerateDataKey, Decrypt) calls made.
fn run_messages(client: &Client, kms: &KmsClient, n: usize) -> (u64, u64) {
    let opts = EncryptOptions {
        context: ctx(),
        ..EncryptOptions::default()
    };
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            pollster::block_on(client.encrypt(format!("message {i}").as_bytes(), &opts)).unwrap()
        })
        .collect();
    for (i, m) in msgs.iter().enumerate() {
        let d = pollster::block_on(client.decrypt(m, &EncryptionContext::new())).unwrap();
        assert_eq!(d.plaintext, format!("message {i}").as_bytes());
    }
    let s = kms.metrics().snapshot();
    let calls = |op: &str| s.operations.get(op).map_or(0, |o| o.calls);
    (calls("GenerateDataKey"), calls("Decrypt"))
}

fn cache(max_messages: u64) -> Arc<MaterialsCache> {
    let limits = CacheLimits::new(100, Duration::from_secs(300))
        .unwrap()
        .with_max_messages(max_messages)
        .unwrap();
    Arc::new(MaterialsCache::with_system_clock(limits))
}

#[test]
fn cache_turns_ten_messages_into_one_call_each_way() {
    let fake = FakeKms::start(vec![gdk_ok(KEY), decrypt_ok(KEY)]);
    let kms = fake.client();
    let kr = KmsKeyring::strict(kms.clone(), Some(KEY.into()), vec![]).unwrap();
    let client = Client::new(Arc::new(kr))
        .with_suite(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)
        .unwrap()
        .with_cache(cache(1 << 32), "fake-test");
    assert_eq!(run_messages(&client, &kms, 10), (1, 1));
}

#[test]
fn without_a_cache_every_message_calls_kms() {
    let fake = FakeKms::start([vec![gdk_ok(KEY); 10], vec![decrypt_ok(KEY); 10]].concat());
    let kms = fake.client();
    let kr = KmsKeyring::strict(kms.clone(), Some(KEY.into()), vec![]).unwrap();
    let client = Client::new(Arc::new(kr))
        .with_suite(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)
        .unwrap();
    assert_eq!(run_messages(&client, &kms, 10), (10, 10));
}

#[test]
fn cache_max_messages_bounds_data_key_reuse() {
    // 10 messages, at most 4 per data key: keys for messages 1-4, 5-8, 9-10.
    let fake = FakeKms::start(vec![gdk_ok(KEY), gdk_ok(KEY), gdk_ok(KEY), decrypt_ok(KEY)]);
    let kms = fake.client();
    let kr = KmsKeyring::strict(kms.clone(), Some(KEY.into()), vec![]).unwrap();
    let c = cache(4);
    let client = Client::new(Arc::new(kr))
        .with_suite(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)
        .unwrap()
        .with_cache(c.clone(), "fake-test");
    // The fake wraps every key identically, so all messages share one decrypt cache entry.
    assert_eq!(run_messages(&client, &kms, 10), (3, 1));
    let (enc, dec) = c.stats();
    assert_eq!((enc.hits, enc.misses), (7, 3));
    assert_eq!((dec.hits, dec.misses), (9, 1));
}

#[test]
fn signing_suite_reuses_cached_materials_with_their_signing_key() {
    // One GenerateDataKey and one Decrypt serve both messages: the cached entry holds the
    // signing key too (as the ESDK caching CMM does), so the context — public key included —
    // is identical and so is the decrypt cache key.
    let fake = FakeKms::start(vec![gdk_ok(KEY), decrypt_ok(KEY)]);
    let kms = fake.client();
    let kr = KmsKeyring::strict(kms.clone(), Some(KEY.into()), vec![]).unwrap();
    let c = cache(1 << 32);
    let client = Client::new(Arc::new(kr)).with_cache(c.clone(), "fake-test");
    assert!(client.suite().signature().is_some());
    assert_eq!(run_messages(&client, &kms, 2), (1, 1));
    let opts = EncryptOptions {
        context: ctx(),
        ..EncryptOptions::default()
    };
    let a = pollster::block_on(client.encrypt(b"x", &opts)).unwrap();
    let b = pollster::block_on(client.encrypt(b"y", &opts)).unwrap();
    let pk = |m: &[u8]| {
        let mut d = client.start_decrypt(&EncryptionContext::new());
        d.push(m).unwrap();
        d.header()
            .unwrap()
            .body
            .context
            .get("aws-crypto-public-key")
            .map(str::to_owned)
    };
    assert!(pk(&a).is_some());
    assert_eq!(pk(&a), pk(&b), "the cached signing key is reused");
    assert_eq!(c.stats().0.bypasses, 0);
}
