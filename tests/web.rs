//! The crate in a real browser (`wasm-pack test --headless --chrome -- --test web`): WebCrypto
//! frame sealing/opening byte-identical to the Rust AES-GCM, the `fetch` KMS transport against
//! the dev KMS on loopback (success, KMS errors, refused connection, timeout, cancel), and
//! `getrandom` through `crypto.getRandomValues`.
//!
//! The JS API of the package (`src/wasm`, private) is tested from JS in `pkg-tests/`.
//!
//! Loopback URLs come in at compile time from `scripts/pkg-tests.sh` (via
//! `pkg-tests/lib/web-rs.mjs`): `KMS_MOCK_URL` (a dev KMS seeded with alias `web-rs`),
//! `KMS_HANG_URL` (accepts, never answers) and `KMS_CLOSED_URL` (nothing listens).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Client::new takes an `Arc<dyn Keyring>`; browser keyrings are single-threaded by design.
#![allow(clippy::arc_with_non_send_sync)]

mod common;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use js_sys::{Array, Object, Reflect, Uint8Array};
use kms_envelope::keyring::{KmsKeyring, RawAesKeyring};
use kms_envelope::kms::fetch::FetchTransport;
use kms_envelope::kms::{
    Auth, CancelToken, Endpoint, KmsClient, KmsErrorKind, ProxyAuth, RetryPolicy,
};
use kms_envelope::stream::{EncryptParams, Encryptor};
use kms_envelope::{AlgorithmSuite, Client, EncryptOptions, EncryptionContext};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SUITES: [AlgorithmSuite; 2] = [
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
];

fn url(name: &str, value: Option<&'static str>) -> &'static str {
    value.unwrap_or_else(|| {
        panic!("{name} is not set at compile time: run `bash scripts/pkg-tests.sh` (it starts the loopback servers)")
    })
}

fn kms_url() -> &'static str {
    url("KMS_MOCK_URL", option_env!("KMS_MOCK_URL"))
}

// ---------------------------------------------------------------------------------------------
// WebCrypto through plain JS calls (as the bindings do, but independent of them).

fn subtle() -> JsValue {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).unwrap();
    Reflect::get(&crypto, &"subtle".into()).unwrap()
}

async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = Reflect::get(target, &method.into())
        .unwrap()
        .dyn_into()
        .unwrap();
    let promise = f.apply(target, &args.iter().collect::<Array>()).unwrap();
    JsFuture::from(js_sys::Promise::from(promise)).await
}

async fn import_aes(key: &[u8], usage: &str) -> JsValue {
    call(
        &subtle(),
        "importKey",
        &[
            "raw".into(),
            Uint8Array::from(key).into(),
            "AES-GCM".into(),
            false.into(),
            Array::of1(&usage.into()).into(),
        ],
    )
    .await
    .unwrap()
}

fn gcm(iv: &[u8], aad: &[u8]) -> JsValue {
    let p = Object::new();
    Reflect::set(&p, &"name".into(), &"AES-GCM".into()).unwrap();
    Reflect::set(&p, &"iv".into(), &Uint8Array::from(iv)).unwrap();
    Reflect::set(&p, &"additionalData".into(), &Uint8Array::from(aad)).unwrap();
    p.into()
}

async fn webcrypto(
    op: &str,
    key: &JsValue,
    iv: &[u8],
    aad: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, JsValue> {
    let out = call(
        &subtle(),
        op,
        &[gcm(iv, aad), key.clone(), Uint8Array::from(data).into()],
    )
    .await?;
    Ok(Uint8Array::new(&out).to_vec())
}

fn params(suite: AlgorithmSuite, frame_length: u32) -> EncryptParams {
    common::fixed_params(suite, frame_length, "web.rs")
}

fn rust_sealed(suite: AlgorithmSuite, frame_length: u32, pt: &[u8]) -> Vec<u8> {
    let mut e = Encryptor::new(params(suite, frame_length)).unwrap();
    e.push(pt).unwrap();
    e.finish().unwrap();
    e.take_output()
}

/// The engine in external mode with `crypto.subtle.encrypt` sealing every frame.
async fn webcrypto_sealed(
    suite: AlgorithmSuite,
    frame_length: u32,
    pt: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let (mut e, key) = Encryptor::new(params(suite, frame_length))
        .unwrap()
        .into_external()
        .unwrap();
    let key = import_aes(&key, "encrypt").await;
    let mut out = e.take_output();
    let mut pending: Vec<u8> = Vec::new();
    let mut pieces = pt.chunks(chunk.max(1)).peekable();
    loop {
        let last = pieces.peek().is_none();
        if let Some(piece) = pieces.next() {
            pending.extend_from_slice(piece);
            e.push_len(piece.len()).unwrap();
        } else {
            e.finish().unwrap();
        }
        for job in e.take_jobs() {
            let frame: Vec<u8> = pending.drain(..job.len).collect();
            let sealed = webcrypto("encrypt", &key, &job.iv, &job.aad, &frame)
                .await
                .unwrap();
            assert_eq!(sealed.len(), job.len + 16);
            out.extend_from_slice(&e.complete_job(&sealed).unwrap());
            out.extend_from_slice(&sealed);
            out.extend_from_slice(&e.take_output());
        }
        if last {
            break;
        }
    }
    out.extend_from_slice(&e.take_output());
    assert!(e.external_done());
    out
}

#[wasm_bindgen_test]
fn the_test_page_has_webcrypto_and_random_values() {
    assert!(
        !subtle().is_undefined(),
        "crypto.subtle (a secure context on 127.0.0.1)"
    );
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    kms_envelope::crypto::random::fill(&mut a).unwrap();
    kms_envelope::crypto::random::fill(&mut b).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 32]);
}

#[wasm_bindgen_test]
async fn webcrypto_frame_sealing_is_byte_identical_to_the_rust_aes_gcm() {
    for suite in SUITES {
        for (len, frame, chunk) in [
            (0, 16, 1),
            (1, 16, 1),
            (64, 16, 7),
            (100, 16, 100),
            (1000, 33, 64),
            (70000, 4096, 65536),
        ] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let rust = rust_sealed(suite, frame, &pt);
            let web = webcrypto_sealed(suite, frame, &pt, chunk).await;
            assert_eq!(
                rust, web,
                "suite {suite:?}, {len} bytes, frame {frame}, chunk {chunk}"
            );
        }
    }
}

#[wasm_bindgen_test]
async fn webcrypto_frame_opening_matches_and_rejects_a_flipped_bit() {
    let client = Client::new(Arc::new(RawAesKeyring::new("ns", "k", &[7u8; 32]).unwrap()))
        .with_frame_length(100)
        .unwrap();
    let pt: Vec<u8> = (0..1234u32).map(|i| i as u8).collect();
    let ct = client
        .encrypt(&pt, &EncryptOptions::default())
        .await
        .unwrap();
    for flip in [None, Some(ct.len() - 200)] {
        let mut ct = ct.clone();
        if let Some(i) = flip {
            ct[i] ^= 1;
        }
        let mut dec = client.start_decrypt(&EncryptionContext::new());
        dec.set_external().unwrap();
        let (mut released, mut withheld, mut key, mut failure) =
            (Vec::new(), Vec::new(), None, None);
        'feed: for piece in ct.chunks(97) {
            dec.push(piece).unwrap();
            client.unlock(&mut dec).await.unwrap();
            if let Some(k) = dec.take_external_key() {
                key = Some(import_aes(&k, "decrypt").await);
            }
            for job in dec.take_jobs() {
                let opened = webcrypto(
                    "decrypt",
                    key.as_ref().unwrap(),
                    &job.iv,
                    &job.aad,
                    &job.sealed,
                )
                .await;
                if let Err(e) = dec.complete_job(opened.is_ok()) {
                    let name = Reflect::get(&opened.unwrap_err(), &"name".into()).unwrap();
                    assert_eq!(name.as_string().as_deref(), Some("OperationError"));
                    failure = Some(e);
                    break 'feed;
                }
                let frame = opened.unwrap();
                if job.withhold {
                    withheld.extend(frame)
                } else {
                    released.extend(frame)
                }
            }
        }
        match flip {
            None => {
                dec.finish().unwrap();
                released.extend(withheld);
                assert_eq!(released, pt);
            }
            Some(_) => assert_eq!(
                failure.expect("a flipped bit must fail").code(),
                "AUTHENTICATION_FAILED"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fetch transport against loopback servers.

fn kms_client(endpoint: &str) -> KmsClient {
    KmsClient::new(
        Endpoint::parse(endpoint).unwrap(),
        "us-east-1",
        Auth::Proxy(ProxyAuth::default()),
        Rc::new(FetchTransport),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(5))
    .with_retry_policy(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    })
}

#[wasm_bindgen_test]
async fn fetch_transport_generates_and_decrypts_a_data_key_on_the_loopback_kms() {
    let kms = kms_client(kms_url());
    let ctx: EncryptionContext = [("from", "web.rs")].into_iter().collect();
    let made = kms
        .generate_data_key("alias/web-rs", 32, &ctx)
        .await
        .unwrap();
    assert!(
        made.key_id.starts_with("arn:aws:kms:us-east-1:"),
        "{}",
        made.key_id
    );
    let back = kms
        .decrypt(Some(&made.key_id), &made.ciphertext_blob, &ctx)
        .await
        .unwrap();
    assert_eq!(
        back.plaintext.expose_secret(),
        made.plaintext.expose_secret()
    );
    // The context is bound by KMS: another one does not decrypt.
    let other: EncryptionContext = [("from", "elsewhere")].into_iter().collect();
    let e = kms
        .decrypt(Some(&made.key_id), &made.ciphertext_blob, &other)
        .await
        .unwrap_err();
    assert_eq!(e.kind, KmsErrorKind::InvalidCiphertext, "{e}");
    let m = kms.metrics().snapshot();
    assert_eq!(m.operations.values().map(|o| o.calls).sum::<u64>(), 3);
}

#[wasm_bindgen_test]
async fn kms_keyring_round_trip_in_the_browser_strict_and_discovery() {
    let arn = kms_client(kms_url())
        .generate_data_key("alias/web-rs", 32, &EncryptionContext::new())
        .await
        .unwrap()
        .key_id;
    let strict = KmsKeyring::strict(kms_client(kms_url()), Some(arn.clone()), vec![]).unwrap();
    let client = Client::new(Arc::new(strict));
    let pt = b"envelope through fetch".repeat(500);
    let opts = EncryptOptions {
        context: [("tenant", "web")].into_iter().collect(),
        ..EncryptOptions::default()
    };
    let ct = client.encrypt(&pt, &opts).await.unwrap();
    assert_eq!(
        client.decrypt(&ct, &opts.context).await.unwrap().plaintext,
        pt
    );
    let discovery = Client::new(Arc::new(
        KmsKeyring::discovery(kms_client(kms_url()), None).unwrap(),
    ));
    assert_eq!(
        discovery
            .decrypt(&ct, &EncryptionContext::new())
            .await
            .unwrap()
            .plaintext,
        pt
    );
}

#[wasm_bindgen_test]
async fn an_unknown_kms_key_is_kms_not_found() {
    let missing = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    let e = kms_client(kms_url())
        .generate_data_key(missing, 32, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind, KmsErrorKind::NotFound, "{e}");
    assert_eq!(e.status, Some(400));
    let client = Client::new(Arc::new(
        KmsKeyring::strict(kms_client(kms_url()), Some(missing.into()), vec![]).unwrap(),
    ));
    let e = client
        .encrypt(b"x", &EncryptOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "KMS_NOT_FOUND");
}

#[wasm_bindgen_test]
async fn a_refused_connection_is_kms_network() {
    let e = kms_client(url("KMS_CLOSED_URL", option_env!("KMS_CLOSED_URL")))
        .generate_data_key("alias/web-rs", 32, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind, KmsErrorKind::Network, "{e}");
}

#[wasm_bindgen_test]
async fn a_kms_that_never_answers_is_kms_timeout_after_the_timeout() {
    let kms = kms_client(url("KMS_HANG_URL", option_env!("KMS_HANG_URL")))
        .with_timeout(Duration::from_millis(300));
    let t0 = js_sys::Date::now();
    let e = kms
        .generate_data_key("alias/web-rs", 32, &EncryptionContext::new())
        .await
        .unwrap_err();
    let ms = js_sys::Date::now() - t0;
    assert_eq!(e.kind, KmsErrorKind::Timeout, "{e}");
    // Bounded, not timed: it must not wait for the default 5 s or hang.
    assert!(ms < 4000.0, "took {ms} ms");
}

#[wasm_bindgen_test]
async fn a_cancelled_token_stops_the_kms_client_before_it_sends() {
    let token = CancelToken::new();
    let kms = kms_client(kms_url()).with_cancel(token.clone());
    token.cancel();
    let e = kms
        .generate_data_key("alias/web-rs", 32, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind, KmsErrorKind::Aborted, "{e}");
    assert_eq!(e.into_error().code(), "ABORTED");
}
