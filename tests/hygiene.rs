//! Key hygiene (hardening issue, part 5): secrets are zeroized and never printed.
//!
//! - Zeroization: the types that hold a plaintext data key, a derived frame key, a commit key or
//!   a KMS request/response body are zeroize-on-drop (checked at compile time through trait
//!   bounds and field types — observing freed memory would need `unsafe`, which this crate
//!   forbids in every target), and `Zeroize::zeroize` really clears a `DataKey`.
//! - No key bytes in `Debug` of anything that holds one (data key, derived keys, AES key
//!   schedule, signing key, encryptor, decryptor, materials, keyrings, clients, credentials,
//!   KMS requests/responses/outputs, the data-key cache).
//! - No key bytes in any error: a known wrapping key, data key and frame key (the commit key is
//!   public: it is the header's suite data), and
//!   every error we can provoke with them; `Display` and `Debug` (including nested attempts)
//!   are scanned for the bytes as hex, base64 (standard/URL, padded or not), and Rust's decimal
//!   `Debug` of byte slices, whole and in windows (a partial leak counts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use kms_envelope::cache::{CacheLimits, DataKeyCache, decryption_key};
use kms_envelope::crypto::{AesGcmKey, DataKey, SigningKey, derive_keys};
use kms_envelope::format::{Limits, Progress, parse_header};
use kms_envelope::keyring::{
    DecryptionMaterials, EncryptionMaterials, Keyring, KeyringFuture, MultiKeyring, RawAesKeyring,
};
use kms_envelope::kms::{
    Auth, CancelToken, Credentials, DecryptOutput, Endpoint, GenerateDataKeyOutput, HttpRequest,
    HttpResponse, KmsClient, KmsFuture, Transport,
};
use kms_envelope::stream::{DecryptParams, Decryptor, EncryptParams, Encryptor};
use kms_envelope::{
    AlgorithmSuite, Client, CommitmentPolicy, EncryptOptions, EncryptedDataKey, EncryptionContext,
    Error, Result,
};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Distinctive byte patterns (no byte repeats inside a key, no overlap between keys).
fn pattern(start: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| start.wrapping_add(i as u8)).collect()
}

fn wrapping_key() -> Vec<u8> {
    pattern(0x10, 32)
}

fn data_key_bytes() -> Vec<u8> {
    pattern(0xA1, 32)
}

// ---------------------------------------------------------------------------------------------
// The leak scanner.

/// Every printable form of `key` (and of its windows) that would betray it.
fn needles(key: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for w in [key.len(), 8, 6] {
        for window in key.windows(w.min(key.len())) {
            out.push(hex::encode(window));
            out.push(hex::encode_upper(window));
        }
    }
    for window in key.windows(4.min(key.len())) {
        // `{:?}` of a byte slice: "[161, 162, 163, 164"…; and with `0x` formatting.
        let dec: Vec<String> = window.iter().map(u8::to_string).collect();
        out.push(dec.join(", "));
        let hx: Vec<String> = window.iter().map(|b| format!("0x{b:02x}")).collect();
        out.push(hx.join(", "));
    }
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(key));
        // Base64 of 9-byte windows on 3-byte boundaries: 12 characters that appear in the
        // encoding of the whole key wherever it is.
        let mut i = 0;
        while i + 9 <= key.len() {
            out.push(engine.encode(&key[i..i + 9]));
            i += 3;
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Panic if `text` (from `what`) shows any of the `secrets`.
fn assert_no_leak(what: &str, text: &str, secrets: &[(&str, &[u8])]) {
    for (name, key) in secrets {
        for n in needles(key) {
            assert!(
                !text.contains(&n),
                "{what} shows the {name} ({n:?}): {text}"
            );
        }
    }
}

#[test]
fn the_scanner_finds_keys_in_every_form() {
    // A scanner that cannot fail proves nothing: it must catch each form.
    let k = data_key_bytes();
    for leaked in [
        format!("{k:?}"),
        format!("{:?}", &k[10..16]),
        hex::encode(&k[3..11]),
        hex::encode_upper(&k),
        STANDARD.encode(&k),
        URL_SAFE_NO_PAD.encode(&k[0..12]),
        format!("{:#04x?}", &k[..5])
            .replace('\n', " ")
            .replace("  ", ""),
    ] {
        let caught = std::panic::catch_unwind(|| {
            assert_no_leak("probe", &format!("prefix {leaked} suffix"), &[("key", &k)])
        });
        assert!(caught.is_err(), "not caught: {leaked}");
    }
    assert_no_leak("clean", "DataKey([REDACTED; 32 bytes])", &[("key", &k)]);
}

// ---------------------------------------------------------------------------------------------
// Zeroization.

fn zeroize_on_drop<T: ZeroizeOnDrop>() {}
fn zeroize<T: Zeroize>() {}
fn is_zeroizing<T: Zeroize + ?Sized>(_: &Zeroizing<T>) {}

#[test]
fn data_key_is_zeroize_on_drop_and_zeroize_clears_it() {
    zeroize_on_drop::<DataKey>();
    zeroize::<DataKey>();
    let mut k = DataKey::from_bytes(data_key_bytes());
    assert_eq!(k.expose_secret(), data_key_bytes());
    k.zeroize();
    // `Vec::zeroize` wipes the whole allocation, then empties the vector.
    assert!(k.expose_secret().iter().all(|&b| b == 0));
    assert!(k.is_empty(), "a zeroized data key holds nothing");
    // A clone is an independent key with the same guarantees (and is zeroized on its own).
    let a = DataKey::from_bytes(data_key_bytes());
    let mut b = a.clone();
    b.zeroize();
    assert_eq!(a.expose_secret(), data_key_bytes());
}

#[test]
fn derived_and_external_key_bytes_are_zeroizing() {
    let dk = DataKey::from_bytes(data_key_bytes());
    let keys = derive_keys(AlgorithmSuite::DEFAULT, &dk, &[9u8; 32]).unwrap();
    // Compile-time: these fields are `Zeroizing`, which wipes on drop.
    is_zeroizing(&keys.key_bytes);
    is_zeroizing(keys.commit_key.as_ref().unwrap());
    zeroize_on_drop::<Zeroizing<Vec<u8>>>();
    zeroize_on_drop::<Zeroizing<[u8; 32]>>();
    assert_eq!(keys.key_bytes.len(), 32);
    assert!(
        keys.key_bytes.iter().any(|&b| b != 0),
        "derived key is real"
    );

    // The frame key handed to external (WebCrypto) drivers, both directions.
    let enc = Encryptor::new(encrypt_params(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)).unwrap();
    let (_enc, key) = enc.into_external().unwrap();
    is_zeroizing(&key);
    assert_eq!(*key, *keys_for_fixed_message().key_bytes);

    // KMS request and response bodies (they carry plaintext keys as base64).
    let req = sample_request();
    is_zeroizing(&req.body);
    let resp = sample_response();
    is_zeroizing(&resp.body);
}

// ---------------------------------------------------------------------------------------------
// Debug never shows key bytes.

const MESSAGE_ID: [u8; 32] = [0x5E; 32];

fn encrypt_params(suite: AlgorithmSuite) -> EncryptParams {
    EncryptParams {
        suite,
        context: [("purpose", "hygiene")].into_iter().collect(),
        required_keys: BTreeSet::new(),
        data_key: DataKey::from_bytes(data_key_bytes()),
        encrypted_data_keys: vec![EncryptedDataKey {
            provider_id: "hygiene".into(),
            provider_info: b"info".to_vec(),
            ciphertext: vec![0; 48],
        }],
        signing_key: None,
        frame_length: 64,
        message_id: Some(MESSAGE_ID.to_vec()),
    }
}

fn keys_for_fixed_message() -> kms_envelope::crypto::DerivedKeys {
    derive_keys(
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        &DataKey::from_bytes(data_key_bytes()),
        &MESSAGE_ID,
    )
    .unwrap()
}

fn kms_body_with_key() -> Vec<u8> {
    format!(
        r#"{{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000000","Plaintext":"{}"}}"#,
        STANDARD.encode(data_key_bytes())
    )
    .into_bytes()
}

fn sample_request() -> HttpRequest {
    HttpRequest {
        method: "POST",
        url: "http://127.0.0.1:1/".into(),
        headers: vec![("X-Amz-Target".into(), "TrentService.Encrypt".into())],
        body: Zeroizing::new(kms_body_with_key()),
        fetch_credentials: Default::default(),
    }
}

fn sample_response() -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![],
        body: Zeroizing::new(kms_body_with_key()),
    }
}

/// All secrets of the fixed message: data key, frame key, wrapping key. (The commit key is
/// not one: it is the header's public suite data.)
fn all_secrets() -> Vec<(&'static str, Vec<u8>)> {
    let keys = keys_for_fixed_message();
    vec![
        ("data key", data_key_bytes()),
        ("frame key", keys.key_bytes.to_vec()),
        ("wrapping key", wrapping_key()),
    ]
}

fn check(what: &str, text: String) {
    let secrets = all_secrets();
    let refs: Vec<(&str, &[u8])> = secrets.iter().map(|(n, k)| (*n, k.as_slice())).collect();
    assert_no_leak(what, &text, &refs);
}

#[test]
fn debug_of_everything_that_holds_a_key_is_redacted() {
    let dk = DataKey::from_bytes(data_key_bytes());
    check("DataKey", format!("{dk:?} {dk:#?}"));
    check("DerivedKeys", format!("{:?}", keys_for_fixed_message()));
    check(
        "AesGcmKey",
        format!("{:?}", AesGcmKey::new(&wrapping_key()).unwrap()),
    );
    let sk = SigningKey::from_bytes(&pattern(0x40, 48)).unwrap();
    let sk_text = format!("{sk:?}");
    assert_no_leak(
        "SigningKey",
        &sk_text,
        &[("signing key", &pattern(0x40, 48))],
    );

    check(
        "EncryptParams",
        format!(
            "{:?}",
            encrypt_params(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)
        ),
    );
    let mut enc =
        Encryptor::new(encrypt_params(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)).unwrap();
    check("Encryptor", format!("{enc:?} {enc:#?}"));
    enc.push(b"some plaintext").unwrap();
    enc.finish().unwrap();
    let ct = enc.take_output();

    // A decryptor that holds the derived key (internal and external mode).
    for external in [false, true] {
        let mut dec = Decryptor::new(DecryptParams::default());
        if external {
            dec.set_external().unwrap();
        }
        dec.push(&ct).unwrap();
        dec.provide_data_key(&DataKey::from_bytes(data_key_bytes()))
            .unwrap();
        check("Decryptor", format!("{dec:?} {dec:#?}"));
    }

    let materials = EncryptionMaterials {
        suite: AlgorithmSuite::DEFAULT,
        context: EncryptionContext::new(),
        required_keys: BTreeSet::new(),
        data_key: Some(DataKey::from_bytes(data_key_bytes())),
        encrypted_data_keys: vec![],
    };
    check("EncryptionMaterials", format!("{materials:?}"));
    let raw = RawAesKeyring::new("hygiene", "key", &wrapping_key()).unwrap();
    check("RawAesKeyring", format!("{raw:?} {raw:#?}"));
    let client = Client::new(Arc::new(raw));
    check("Client", format!("{client:?}"));

    check("HttpRequest", format!("{:?}", sample_request()));
    check("HttpResponse", format!("{:?}", sample_response()));
    let gdk = GenerateDataKeyOutput {
        key_id: "arn".into(),
        plaintext: DataKey::from_bytes(data_key_bytes()),
        ciphertext_blob: vec![1, 2, 3],
    };
    check("GenerateDataKeyOutput", format!("{gdk:?}"));
    let out = DecryptOutput {
        key_id: "arn".into(),
        plaintext: DataKey::from_bytes(data_key_bytes()),
    };
    check("DecryptOutput", format!("{out:?}"));

    // KMS credentials: the secret key and session token never print.
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let token = "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue0123456789";
    let creds = Credentials::new("AKIDEXAMPLE", secret, Some(token.into()));
    let kms = KmsClient::new(
        Endpoint::parse("http://127.0.0.1:1").unwrap(),
        "us-east-1",
        Auth::static_credentials(creds.clone()),
        Rc::new(NoNetwork),
    )
    .unwrap();
    for text in [format!("{creds:?}"), format!("{kms:?} {kms:#?}")] {
        assert!(!text.contains(secret) && !text.contains(token), "{text}");
        assert!(
            !text.contains(&secret[..12]) && !text.contains(&token[..12]),
            "{text}"
        );
    }

    // The data-key cache holding a key.
    let cache: DataKeyCache<DataKey> =
        DataKeyCache::with_system_clock(CacheLimits::new(4, Duration::from_secs(60)).unwrap());
    let key = decryption_key(
        b"p",
        AlgorithmSuite::DEFAULT,
        CommitmentPolicy::default(),
        &[],
        &EncryptionContext::new(),
    )
    .unwrap();
    cache.put_decrypt(key, DataKey::from_bytes(data_key_bytes()));
    assert_eq!(cache.len(), 1);
    check("DataKeyCache", format!("{cache:?}"));
}

/// A transport that is never reached.
struct NoNetwork;

impl Transport for NoNetwork {
    fn send<'a>(
        &'a self,
        _request: &'a HttpRequest,
        _timeout: Duration,
        _cancel: &'a CancelToken,
    ) -> KmsFuture<'a, std::result::Result<HttpResponse, kms_envelope::kms::KmsError>> {
        Box::pin(async { panic!("no network in this test") })
    }
    fn sleep(&self, _duration: Duration) -> KmsFuture<'_, ()> {
        Box::pin(async {})
    }
    fn now(&self) -> Duration {
        Duration::from_secs(1_700_000_000)
    }
}

// ---------------------------------------------------------------------------------------------
// No key bytes in errors.

/// A generator that uses a known data key (so the test knows every secret of the message),
/// plus a raw AES keyring with a known wrapping key that wraps it.
struct KnownDataKey;

impl Keyring for KnownDataKey {
    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            materials.data_key = Some(DataKey::from_bytes(data_key_bytes()));
            Ok(materials)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        _materials: &'a DecryptionMaterials,
        _edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        Box::pin(async { None })
    }
}

fn wrapping_ring() -> Arc<dyn Keyring> {
    Arc::new(RawAesKeyring::new("hygiene", "key", &wrapping_key()).unwrap())
}

fn known_message(suite: AlgorithmSuite, ctx: &[(&str, &str)], required: &[&str]) -> Vec<u8> {
    let ring = MultiKeyring::new(Some(Arc::new(KnownDataKey)), vec![wrapping_ring()]).unwrap();
    let client = Client::new(Arc::new(ring))
        .with_suite(suite)
        .unwrap()
        .with_frame_length(16)
        .unwrap();
    let options = EncryptOptions {
        context: ctx.iter().copied().collect(),
        required_keys: required.iter().map(|k| k.to_string()).collect(),
    };
    pollster::block_on(client.encrypt(b"plaintext of several frames, 48 bytes long.....", &options))
        .unwrap()
}

/// The secrets of a message made with the known data key: its frame key too.
fn secrets_of(ct: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(Progress::Done { value, .. }) = parse_header(ct, &Limits::default()) else {
        panic!("header")
    };
    let keys = derive_keys(
        value.body.suite,
        &DataKey::from_bytes(data_key_bytes()),
        &value.body.message_id,
    )
    .unwrap();
    vec![
        ("data key".into(), data_key_bytes()),
        ("wrapping key".into(), wrapping_key()),
        ("frame key".into(), keys.key_bytes.to_vec()),
    ]
}

fn scan_error(what: &str, e: &Error, secrets: &[(String, Vec<u8>)]) {
    let text = format!("{e} | {e:?} | {e:#?} | {}", e.code());
    let refs: Vec<(&str, &[u8])> = secrets
        .iter()
        .filter(|(_, k)| !k.is_empty())
        .map(|(n, k)| (n.as_str(), k.as_slice()))
        .collect();
    assert_no_leak(what, &text, &refs);
}

#[track_caller]
fn decrypt_err(client: &Client, ct: &[u8], ctx: &EncryptionContext) -> Error {
    match pollster::block_on(client.decrypt(ct, ctx)) {
        Err(e) => e,
        Ok(d) => panic!(
            "decrypted although it should not have: {} bytes, header {:?}",
            ct.len(),
            d.header.body
        ),
    }
}

#[test]
fn no_error_shows_a_key() {
    let mut seen_codes = BTreeSet::new();
    for suite in [
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ] {
        let ct = known_message(suite, &[("purpose", "hygiene")], &[]);
        let secrets = secrets_of(&ct);
        let good = Client::new(wrapping_ring());
        assert!(pollster::block_on(good.decrypt(&ct, &EncryptionContext::new())).is_ok());
        let mut errors: Vec<(String, Error)> = Vec::new();
        let mut push = |what: &str, e: Error| errors.push((format!("{suite}: {what}"), e));

        // Wrong wrapping key (same name): NO_DECRYPTABLE_KEY with the keyring's reason.
        let wrong = Client::new(Arc::new(
            RawAesKeyring::new("hygiene", "key", &pattern(0x60, 32)).unwrap(),
        ));
        push(
            "wrong wrapping key",
            decrypt_err(&wrong, &ct, &EncryptionContext::new()),
        );
        // Two keyrings failing: nested attempts.
        let multi = MultiKeyring::new(
            Some(Arc::new(
                RawAesKeyring::new("hygiene", "key", &pattern(0x60, 32)).unwrap(),
            )),
            vec![Arc::new(
                RawAesKeyring::new("hygiene", "key", &pattern(0x70, 16)).unwrap(),
            )],
        )
        .unwrap();
        push(
            "two failing keyrings",
            decrypt_err(
                &Client::new(Arc::new(multi)),
                &ct,
                &EncryptionContext::new(),
            ),
        );
        // No matching keyring at all.
        let other = Client::new(Arc::new(
            RawAesKeyring::new("elsewhere", "key", &wrapping_key()).unwrap(),
        ));
        push(
            "no matching keyring",
            decrypt_err(&other, &ct, &EncryptionContext::new()),
        );
        // Every byte flipped, one at a time: header, EDK, commitment, tags, frames, footer.
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            push(
                &format!("flip {i}"),
                decrypt_err(&good, &bad, &EncryptionContext::new()),
            );
        }
        // Truncated, trailing bytes.
        push(
            "truncated",
            decrypt_err(&good, &ct[..ct.len() - 1], &EncryptionContext::new()),
        );
        let mut long = ct.clone();
        long.push(0);
        push(
            "trailing byte",
            decrypt_err(&good, &long, &EncryptionContext::new()),
        );
        // Context mismatch, commitment policy, limits.
        let req: EncryptionContext = [("purpose", "other")].into_iter().collect();
        push("context mismatch", decrypt_err(&good, &ct, &req));
        let extra: EncryptionContext = [("unbound", "x")].into_iter().collect();
        push("unbound required pair", decrypt_err(&good, &ct, &extra));
        let tight = good.clone().with_limits(Limits {
            max_body_size: Some(1),
            ..Limits::default()
        });
        push(
            "body limit",
            decrypt_err(&tight, &ct, &EncryptionContext::new()),
        );
        let few = good.clone().with_max_encrypted_data_keys(1).unwrap();
        let two_edks = {
            let ring = MultiKeyring::new(
                Some(Arc::new(KnownDataKey)),
                vec![wrapping_ring(), wrapping_ring()],
            )
            .unwrap();
            let c = Client::new(Arc::new(ring)).with_suite(suite).unwrap();
            pollster::block_on(c.encrypt(b"two EDKs", &EncryptOptions::default())).unwrap()
        };
        push(
            "too many EDKs",
            decrypt_err(&few, &two_edks, &EncryptionContext::new()),
        );

        // The sans-IO engine directly: the right key for another message, a key of the
        // wrong length, a key when none is needed.
        let other_ct = known_message(suite, &[], &[]);
        let mut dec = Decryptor::new(DecryptParams::default());
        dec.push(&other_ct).unwrap();
        let wrong_key = DataKey::from_bytes(pattern(0x80, 32));
        push(
            "wrong data key",
            dec.provide_data_key(&wrong_key).unwrap_err(),
        );
        let mut dec = Decryptor::new(DecryptParams::default());
        dec.push(&ct).unwrap();
        push(
            "short data key",
            dec.provide_data_key(&DataKey::from_bytes(data_key_bytes()[..16].to_vec()))
                .unwrap_err(),
        );
        let mut dec = Decryptor::new(DecryptParams::default());
        push(
            "key before header",
            dec.provide_data_key(&DataKey::from_bytes(data_key_bytes()))
                .unwrap_err(),
        );
        let mut dec = Decryptor::new(DecryptParams {
            forbid_signed: true,
            ..DecryptParams::default()
        });
        if let Err(e) = dec.push(&ct) {
            push("forbid signed", e);
        }
        push(
            "derive with a short key",
            derive_keys(
                suite,
                &DataKey::from_bytes(data_key_bytes()[..16].to_vec()),
                &[0; 32],
            )
            .unwrap_err(),
        );

        for (what, e) in &errors {
            seen_codes.insert(e.code());
            scan_error(what, e, &secrets);
        }
    }
    // Encrypt-side and constructor errors.
    let secrets = vec![
        ("data key".to_string(), data_key_bytes()),
        ("wrapping key".to_string(), wrapping_key()),
    ];
    let mut errors = vec![
        RawAesKeyring::new("hygiene", "key", &wrapping_key()[..31]).unwrap_err(),
        AesGcmKey::new(&wrapping_key()[..20]).unwrap_err(),
        Client::new(wrapping_ring())
            .with_frame_length(0)
            .unwrap_err(),
    ];
    let reserved = EncryptOptions {
        context: [("aws-crypto-x", "y")].into_iter().collect(),
        ..EncryptOptions::default()
    };
    errors.push(
        pollster::block_on(Client::new(wrapping_ring()).encrypt(b"x", &reserved)).unwrap_err(),
    );
    let too_many = Client::new(Arc::new(
        MultiKeyring::new(
            Some(Arc::new(KnownDataKey)),
            vec![wrapping_ring(), wrapping_ring()],
        )
        .unwrap(),
    ))
    .with_max_encrypted_data_keys(1)
    .unwrap();
    errors
        .push(pollster::block_on(too_many.encrypt(b"x", &EncryptOptions::default())).unwrap_err());
    for e in &errors {
        seen_codes.insert(e.code());
        scan_error("encrypt/constructor", e, &secrets);
    }
    // The sweep provoked every code a raw-AES message can produce.
    for code in [
        "AUTHENTICATION_FAILED",
        "MALFORMED_MESSAGE",
        "TRUNCATED",
        "UNSUPPORTED_SUITE",
        "CONTEXT_MISMATCH",
        "NO_DECRYPTABLE_KEY",
        "TOO_MANY_ENCRYPTED_DATA_KEYS",
        "LIMIT_EXCEEDED",
        "INVALID_ARGUMENT",
    ] {
        assert!(
            seen_codes.contains(code),
            "never provoked {code}: {seen_codes:?}"
        );
    }
}

#[test]
fn the_plaintext_data_key_never_reaches_the_output() {
    // The wrapped key is in the message, the plaintext key (and the frame key) never are.
    for suite in [
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ] {
        let ct = known_message(suite, &[("purpose", "hygiene")], &["purpose"]);
        for (name, key) in secrets_of(&ct) {
            if key.is_empty() {
                continue;
            }
            for w in ct.windows(8) {
                assert!(
                    !key.windows(8).any(|k| k == w),
                    "{suite}: {name} bytes in the message"
                );
            }
        }
    }
}
