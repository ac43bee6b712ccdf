//! Limits and hostile length fields (hardening issue, parts 2–3; complements tests/negative.rs,
//! which sweeps byte flips, truncations and frame surgery).
//!
//! - Every `Limits` field: its default, and a configured value one below / at what a message
//!   needs, on decrypt (and the EDK maximum on encrypt), with the exact error code.
//! - Limits are enforced *before* work: a counting keyring proves no keyring ran for
//!   `TOO_MANY_ENCRYPTED_DATA_KEYS` / `LIMIT_EXCEEDED` in the header.
//! - Header and body length fields inflated (EDK count 0xFFFF, context length 0xFFFF with few
//!   bytes, EDK field lengths 0xFFFF, frame length 0 / 2^31−1 / 2^32−1, final-frame and
//!   non-framed content lengths, footer length) → the right code, no plaintext, and **bounded
//!   memory**: this binary's global allocator is `cap::Cap`, and every allocation made while a
//!   hostile message is decrypted is summed (an upper bound of the peak) and must stay within a
//!   few times the input plus 64 KiB — never anything a length field asked for.
//!
//! Allocation is counted process-wide, so every test in this file holds one lock (`serial()`):
//! tests here never run concurrently with each other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use cap::Cap;
use kms_envelope::crypto::DataKey;
use kms_envelope::format::{
    DEFAULT_MAX_ENCRYPTED_DATA_KEYS, DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_HEADER_SIZE,
    MAX_FRAME_LENGTH, Progress, parse_header,
};
use kms_envelope::keyring::{
    DecryptionMaterials, EncryptionMaterials, Keyring, KeyringFuture, MultiKeyring, RawAesKeyring,
};
use kms_envelope::stream::{DecryptParams, DecryptState, Decryptor};
use kms_envelope::{
    AlgorithmSuite, Client, CommitmentPolicy, EncryptOptions, EncryptedDataKey, EncryptionContext,
    Error, Limits, Result,
};

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `f`; return its result and the bytes allocated meanwhile (all allocations summed, so an
/// upper bound of the peak, whatever was freed in between).
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOC.total_allocated();
    let out = f();
    (out, ALLOC.total_allocated() - before)
}

/// What a hostile message may make us allocate: a few copies of the input (the decryptor's
/// buffer, the header's raw bytes, its EDKs) plus a fixed allowance.
fn budget(input_len: usize) -> usize {
    4 * input_len + 64 * 1024
}

const AUTH: &str = "AUTHENTICATION_FAILED";
const MALFORMED: &str = "MALFORMED_MESSAGE";
const TRUNCATED: &str = "TRUNCATED";
const TOO_MANY: &str = "TOO_MANY_ENCRYPTED_DATA_KEYS";
const LIMIT: &str = "LIMIT_EXCEEDED";
const INVALID: &str = "INVALID_ARGUMENT";

const KEY: [u8; 32] = [0x5a; 32];
const PLAINTEXT: &[u8] = b"limits are enforced before the work they would drive";

// ---------------------------------------------------------------------------------------------
// A keyring that counts its calls.

struct Counting {
    inner: Arc<dyn Keyring>,
    encrypts: AtomicUsize,
    decrypts: AtomicUsize,
}

impl Counting {
    fn new(inner: Arc<dyn Keyring>) -> Arc<Self> {
        Arc::new(Counting {
            inner,
            encrypts: AtomicUsize::new(0),
            decrypts: AtomicUsize::new(0),
        })
    }

    fn decrypts(&self) -> usize {
        self.decrypts.load(Ordering::SeqCst)
    }
}

impl Keyring for Counting {
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        self.encrypts.fetch_add(1, Ordering::SeqCst);
        self.inner.on_encrypt(materials)
    }

    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        self.decrypts.fetch_add(1, Ordering::SeqCst);
        self.inner.on_decrypt(materials, edks)
    }
}

fn raw(name: &str) -> Arc<dyn Keyring> {
    Arc::new(RawAesKeyring::new("limits", name, &KEY).unwrap())
}

/// A decrypting client with `limits` and a counting keyring around the test key.
fn counted(limits: Limits) -> (Client, Arc<Counting>) {
    let ring = Counting::new(raw("key"));
    (Client::new(ring.clone()).with_limits(limits), ring)
}

fn encrypt_with(client: &Client, pt: &[u8], ctx: &[(&str, &str)]) -> Vec<u8> {
    let options = EncryptOptions {
        context: ctx.iter().copied().collect(),
        ..EncryptOptions::default()
    };
    pollster::block_on(client.encrypt(pt, &options)).unwrap()
}

/// One of our messages: `suite`, `frame_length`, the test key, a small context.
fn message(suite: AlgorithmSuite, frame_length: u32, pt: &[u8]) -> Vec<u8> {
    let client = Client::new(raw("key"))
        .with_suite(suite)
        .unwrap()
        .with_frame_length(frame_length)
        .unwrap();
    encrypt_with(&client, pt, &[("purpose", "limits")])
}

const UNSIGNED: AlgorithmSuite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
const SIGNED: AlgorithmSuite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;

// ---------------------------------------------------------------------------------------------
// Decrypt attempts.

/// One-shot decrypt under measurement: the plaintext or the error code, and bytes allocated.
fn one_shot(client: &Client, ct: &[u8]) -> (Result<Vec<u8>, &'static str>, usize) {
    measure(|| {
        pollster::block_on(client.decrypt(ct, &EncryptionContext::new()))
            .map(|d| d.plaintext)
            .map_err(|e| e.code())
    })
}

/// Streaming decrypt in `chunk`-byte pieces: everything released, and the outcome.
fn streamed(client: &Client, ct: &[u8], chunk: usize) -> (Vec<u8>, Result<(), &'static str>) {
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    let mut released = Vec::new();
    let mut run = || -> Result<()> {
        for piece in ct.chunks(chunk.max(1)) {
            dec.push(piece)?;
            pollster::block_on(client.unlock(&mut dec))?;
            released.extend_from_slice(&dec.take_output());
        }
        dec.finish()?;
        released.extend_from_slice(&dec.take_output());
        Ok(())
    };
    let outcome = run().map_err(|e| e.code());
    (released, outcome)
}

/// A hostile message: refused with `code` one-shot and in several chunkings, no plaintext
/// anywhere, `keyring_calls` keyring calls per attempt, and allocation within `budget`.
fn assert_hostile(
    what: &str,
    ct: &[u8],
    limits: &Limits,
    code: &str,
    keyring_calls: usize,
) -> usize {
    let (client, ring) = counted(limits.clone());
    let (result, allocated) = one_shot(&client, ct);
    assert_eq!(
        result.as_ref().err().copied(),
        Some(code),
        "{what}: one-shot"
    );
    assert_eq!(
        ring.decrypts(),
        keyring_calls,
        "{what}: keyring calls (one-shot)"
    );
    assert!(
        allocated <= budget(ct.len()),
        "{what}: allocated {allocated} bytes for a {}-byte input (budget {})",
        ct.len(),
        budget(ct.len())
    );
    for chunk in [1, 7, 64, ct.len()] {
        let (client, ring) = counted(limits.clone());
        let (released, outcome) = streamed(&client, ct, chunk);
        assert_eq!(
            outcome,
            Err(code),
            "{what}: streamed in {chunk}-byte chunks"
        );
        assert!(released.is_empty(), "{what}: plaintext released ({chunk})");
        assert_eq!(
            ring.decrypts(),
            keyring_calls,
            "{what}: keyring calls ({chunk})"
        );
    }
    allocated
}

// ---------------------------------------------------------------------------------------------
// An independent walk over a header: where each length field is.

#[derive(Debug, Clone)]
struct Offsets {
    /// The u16 AAD (context) length.
    ctx_len: usize,
    /// The u16 EDK count.
    edk_count: usize,
    /// Per EDK: the offsets of its three u16 lengths (provider id, provider info, ciphertext).
    edk_lens: Vec<[usize; 3]>,
    /// Where the EDKs end (the content type byte).
    content_type: usize,
    /// The u32 frame length.
    frame_length: usize,
    /// The whole header (body, [IV], tag).
    header_len: usize,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn offsets(ct: &[u8]) -> Offsets {
    let v1 = ct[0] == 1;
    let suite = AlgorithmSuite::from_id(u16::from_be_bytes([
        ct[1 + usize::from(v1)],
        ct[2 + usize::from(v1)],
    ]))
    .unwrap();
    let mut p = if v1 { 4 } else { 3 } + suite.message_id_len();
    let ctx_len = p;
    p += 2 + u16_at(ct, p);
    let edk_count = p;
    let n = u16_at(ct, p);
    p += 2;
    let mut edk_lens = Vec::new();
    for _ in 0..n {
        let mut lens = [0; 3];
        for l in &mut lens {
            *l = p;
            p += 2 + u16_at(ct, p);
        }
        edk_lens.push(lens);
    }
    let content_type = p;
    p += 1;
    if v1 {
        p += 5; // reserved, IV length
    }
    let frame_length = p;
    p += 4 + suite.suite_data_len() + if v1 { 12 } else { 0 } + 16;
    Offsets {
        ctx_len,
        edk_count,
        edk_lens,
        content_type,
        frame_length,
        header_len: p,
    }
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn the_offset_walk_agrees_with_the_parser() {
    let _g = serial();
    for suite in [UNSIGNED, SIGNED] {
        let ct = message(suite, 4096, PLAINTEXT);
        let o = offsets(&ct);
        let Ok(Progress::Done { value, consumed }) = parse_header(&ct, &Limits::default()) else {
            panic!("header")
        };
        assert_eq!(consumed, o.header_len);
        assert_eq!(value.body.encrypted_data_keys.len(), o.edk_lens.len());
        assert_eq!(u16_at(&ct, o.edk_count), 1);
        assert_eq!(ct[o.content_type], 2);
        assert_eq!(
            &ct[o.frame_length..o.frame_length + 4],
            &4096u32.to_be_bytes()
        );
    }
}

#[test]
fn the_allocation_counter_sees_allocations() {
    let _g = serial();
    // The memory assertions below are only as good as this counter.
    let (v, n) = measure(|| vec![1u8; 3 << 20]);
    assert!(n >= 3 << 20, "counted {n}");
    let (_, n) = measure(|| {
        let mut w: Vec<u8> = Vec::new();
        w.extend_from_slice(&v);
        w.len()
    });
    assert!(n >= v.len(), "a copy is counted too ({n})");
    assert!(budget(100) < 3 << 20);
}

// ---------------------------------------------------------------------------------------------
// Defaults.

#[test]
fn defaults_are_the_documented_safe_values() {
    let _g = serial();
    let d = Limits::default();
    assert_eq!(d.max_encrypted_data_keys, 16);
    assert_eq!(d.max_encrypted_data_keys, DEFAULT_MAX_ENCRYPTED_DATA_KEYS);
    assert_eq!(d.max_header_size, 1 << 20);
    assert_eq!(d.max_header_size, DEFAULT_MAX_HEADER_SIZE);
    assert_eq!(d.max_frame_length, 1 << 26);
    assert_eq!(d.max_frame_length, DEFAULT_MAX_FRAME_LENGTH);
    assert_eq!(d.max_body_size, None);
    assert_eq!(d.max_context_size, 65_535);
    let client = Client::new(raw("key"));
    assert_eq!(
        client.limits(),
        &d,
        "a client starts with the default limits"
    );
}

// ---------------------------------------------------------------------------------------------
// max_encrypted_data_keys.

/// A multi-keyring of `n` raw AES keyrings (names key, k1, k2, …): `n` EDKs per message.
fn wide_keyring(n: usize) -> Arc<dyn Keyring> {
    let children = (1..n).map(|i| raw(&format!("k{i}"))).collect();
    Arc::new(MultiKeyring::new(Some(raw("key")), children).unwrap())
}

fn wide_message(n: usize) -> Vec<u8> {
    let client = Client::new(wide_keyring(n))
        .with_max_encrypted_data_keys(n)
        .unwrap();
    encrypt_with(&client, PLAINTEXT, &[])
}

#[test]
fn default_edk_maximum_refuses_17_before_any_keyring() {
    let _g = serial();
    let ok = wide_message(16);
    let (client, ring) = counted(Limits::default());
    assert_eq!(one_shot(&client, &ok).0, Ok(PLAINTEXT.to_vec()));
    assert_eq!(ring.decrypts(), 1);

    let ct = wide_message(17);
    assert_eq!(u16_at(&ct, offsets(&ct).edk_count), 17);
    assert_hostile(
        "17 EDKs, default limit",
        &ct,
        &Limits::default(),
        TOO_MANY,
        0,
    );
    let (client, _) = counted(Limits::default());
    let err = pollster::block_on(client.decrypt(&ct, &EncryptionContext::new())).unwrap_err();
    assert!(
        matches!(err, Error::TooManyEncryptedDataKeys { count: 17, max: 16 }),
        "{err:?}"
    );
}

#[test]
fn configured_edk_maximum_is_enforced_on_decrypt() {
    let _g = serial();
    let ct = wide_message(3);
    let at = |max| Limits {
        max_encrypted_data_keys: max,
        ..Limits::default()
    };
    assert_hostile("3 EDKs, limit 2", &ct, &at(2), TOO_MANY, 0);
    assert_hostile("3 EDKs, limit 1", &ct, &at(1), TOO_MANY, 0);
    let (client, ring) = counted(at(3));
    assert_eq!(one_shot(&client, &ct).0, Ok(PLAINTEXT.to_vec()));
    assert_eq!(ring.decrypts(), 1);
    // The Client setter does the same, and refuses 0.
    let c = Client::new(raw("key"))
        .with_max_encrypted_data_keys(2)
        .unwrap();
    assert_eq!(one_shot(&c, &ct).0, Err(TOO_MANY));
    assert_eq!(
        Client::new(raw("key"))
            .with_max_encrypted_data_keys(0)
            .err()
            .map(|e| e.code()),
        Some(INVALID)
    );
}

#[test]
fn edk_maximum_is_enforced_on_encrypt() {
    let _g = serial();
    let options = EncryptOptions::default();
    // Default 16: a keyring producing 17 EDKs cannot encrypt.
    let err =
        pollster::block_on(Client::new(wide_keyring(17)).encrypt(PLAINTEXT, &options)).unwrap_err();
    assert!(
        matches!(err, Error::TooManyEncryptedDataKeys { count: 17, max: 16 }),
        "{err:?}"
    );
    // Configured 2: three keyrings are one too many, two are fine.
    let c = Client::new(wide_keyring(3))
        .with_max_encrypted_data_keys(2)
        .unwrap();
    let err = pollster::block_on(c.encrypt(PLAINTEXT, &options)).unwrap_err();
    assert_eq!(err.code(), TOO_MANY);
    let c = Client::new(wide_keyring(2))
        .with_max_encrypted_data_keys(2)
        .unwrap();
    assert!(pollster::block_on(c.encrypt(PLAINTEXT, &options)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// max_header_size.

#[test]
fn header_size_limit_is_exact_in_every_chunking() {
    let _g = serial();
    for suite in [UNSIGNED, SIGNED] {
        let ct = message(suite, 4096, PLAINTEXT);
        let header_len = offsets(&ct).header_len;
        let at = |max| Limits {
            max_header_size: max,
            ..Limits::default()
        };
        // A header exactly at the limit is accepted...
        let (client, _) = counted(at(header_len));
        assert_eq!(one_shot(&client, &ct).0, Ok(PLAINTEXT.to_vec()), "{suite}");
        for chunk in [1, 7, ct.len()] {
            let (released, outcome) = streamed(&client, &ct, chunk);
            assert_eq!(
                outcome,
                Ok(()),
                "{suite}: at the limit, {chunk}-byte chunks"
            );
            assert_eq!(released, PLAINTEXT);
        }
        // ...one byte over it is refused, however the bytes arrive, before any keyring.
        assert_hostile(
            &format!("{suite}: header one byte over max_header_size"),
            &ct,
            &at(header_len - 1),
            LIMIT,
            0,
        );
    }
}

#[test]
fn a_field_crossing_the_header_limit_is_a_limit_error_whatever_its_content() {
    let _g = serial();
    // Found by fuzz/stream_decrypt: a provider id that is not UTF-8 and runs past
    // max_header_size read MALFORMED_MESSAGE one-shot (all bytes present, content checked)
    // but LIMIT_EXCEEDED streamed (refused by size before its bytes arrived).
    let ct = message(UNSIGNED, 4096, PLAINTEXT);
    let o = offsets(&ct);
    let id_at = o.edk_lens[0][0] + 2;
    let id_len = u16_at(&ct, o.edk_lens[0][0]);
    let mut bad = ct.clone();
    bad[id_at..id_at + id_len].fill(0xFF);
    let limits = Limits {
        max_header_size: id_at + id_len / 2,
        ..Limits::default()
    };
    assert_hostile(
        "non-UTF-8 provider id across max_header_size",
        &bad,
        &limits,
        LIMIT,
        0,
    );
    // Inside the limit the content is what is wrong.
    assert_hostile(
        "non-UTF-8 provider id",
        &bad,
        &Limits::default(),
        MALFORMED,
        0,
    );
}

/// A header of `edks` EDKs whose provider info and ciphertext are 65535 bytes each: about
/// 128 KiB per EDK. Not authentic (nothing gets that far).
fn fat_header(edks: u16) -> Vec<u8> {
    let mut h = vec![2u8];
    h.extend_from_slice(&0x0478u16.to_be_bytes());
    h.extend_from_slice(&[0x11; 32]);
    h.extend_from_slice(&0u16.to_be_bytes()); // empty context
    h.extend_from_slice(&edks.to_be_bytes());
    for _ in 0..edks {
        h.extend_from_slice(&6u16.to_be_bytes());
        h.extend_from_slice(b"limits");
        for fill in [b'i', b'c'] {
            h.extend_from_slice(&u16::MAX.to_be_bytes());
            h.extend(std::iter::repeat_n(fill, 65_535));
        }
    }
    h.push(2);
    h.extend_from_slice(&4096u32.to_be_bytes());
    h.extend_from_slice(&[0x22; 32]);
    h.extend_from_slice(&[0x33; 16]);
    h
}

#[test]
fn default_header_size_limit_refuses_a_header_over_one_mib() {
    let _g = serial();
    // 9 fat EDKs: ~1.15 MiB of header, within the EDK count limit.
    let ct = fat_header(9);
    assert!(ct.len() > DEFAULT_MAX_HEADER_SIZE);
    let (client, ring) = counted(Limits::default());
    let (result, allocated) = one_shot(&client, &ct);
    assert_eq!(result, Err(LIMIT));
    assert_eq!(ring.decrypts(), 0);
    assert!(
        allocated <= budget(ct.len()),
        "allocated {allocated} for {}",
        ct.len()
    );
    // Streamed in 64 KiB pieces: refused as soon as the header cannot fit, long before the end.
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    let mut pushed = 0;
    let mut refused = None;
    for piece in ct.chunks(64 * 1024) {
        pushed += piece.len();
        if let Err(e) = dec.push(piece) {
            refused = Some(e.code());
            break;
        }
    }
    assert_eq!(refused, Some(LIMIT));
    assert!(
        pushed <= DEFAULT_MAX_HEADER_SIZE + 64 * 1024,
        "refused only after {pushed} bytes"
    );
    // Raised to 2 MiB it is no longer a size problem (and fails later: the header tag).
    let big = Limits {
        max_header_size: 2 << 20,
        ..Limits::default()
    };
    let (client, _) = counted(big);
    assert_ne!(one_shot(&client, &ct).0, Err(LIMIT));
}

// ---------------------------------------------------------------------------------------------
// max_frame_length.

#[test]
fn frame_length_limit_default_and_configured() {
    let _g = serial();
    // Default 2^26: a 2^26 frame length decrypts; 2^26 + 1 is refused before any keyring.
    let at_default = message(UNSIGNED, DEFAULT_MAX_FRAME_LENGTH, PLAINTEXT);
    let (client, _) = counted(Limits::default());
    assert_eq!(one_shot(&client, &at_default).0, Ok(PLAINTEXT.to_vec()));
    let over = message(UNSIGNED, DEFAULT_MAX_FRAME_LENGTH + 1, PLAINTEXT);
    assert_hostile("frame length 2^26 + 1", &over, &Limits::default(), LIMIT, 0);
    // Configured 4096: 4097 is refused, 4096 accepted.
    let small = Limits {
        max_frame_length: 4096,
        ..Limits::default()
    };
    assert_hostile(
        "frame length 4097, limit 4096",
        &message(SIGNED, 4097, PLAINTEXT),
        &small,
        LIMIT,
        0,
    );
    let (client, _) = counted(small);
    assert_eq!(
        one_shot(&client, &message(SIGNED, 4096, PLAINTEXT)).0,
        Ok(PLAINTEXT.to_vec())
    );
}

#[test]
fn the_largest_frame_length_decrypts_without_allocating_a_frame() {
    let _g = serial();
    // An authentic message whose header says 2^31 − 1 bytes per frame (what Python and Java
    // accept), holding a few bytes: memory follows the bytes, not the frame length.
    let ct = message(SIGNED, MAX_FRAME_LENGTH, PLAINTEXT);
    let permissive = Limits {
        max_frame_length: u32::MAX,
        ..Limits::default()
    };
    let (client, ring) = counted(permissive.clone());
    let (result, allocated) = one_shot(&client, &ct);
    assert_eq!(result, Ok(PLAINTEXT.to_vec()));
    assert_eq!(ring.decrypts(), 1);
    assert!(
        allocated <= budget(ct.len()),
        "allocated {allocated} for {}",
        ct.len()
    );

    // Its final frame relabelled as a regular one (seq 1 ‖ IV ‖ 2^31 − 1 bytes ‖ tag): the
    // parser must wait for 2 GiB of input without reserving it, and the input ends first.
    let o = offsets(&ct);
    let mut bad = ct[..o.header_len].to_vec();
    bad.extend_from_slice(&1u32.to_be_bytes());
    bad.extend_from_slice(&[0u8; 12]);
    bad.extend_from_slice(&[0xAB; 4096]);
    let allocated = assert_hostile(
        "regular frame of 2^31 − 1 bytes, 4 KiB present",
        &bad,
        &permissive,
        TRUNCATED,
        1,
    );
    println!(
        "2^31 − 1 frame length: {allocated} bytes allocated for {} input",
        bad.len()
    );
}

#[test]
fn header_frame_length_zero_and_all_ones() {
    let _g = serial();
    let ct = message(UNSIGNED, 4096, PLAINTEXT);
    let o = offsets(&ct);
    let with = |v: u32| {
        let mut b = ct.clone();
        put_u32(&mut b, o.frame_length, v);
        b
    };
    assert_hostile(
        "framed, frame length 0",
        &with(0),
        &Limits::default(),
        MALFORMED,
        0,
    );
    assert_hostile(
        "frame length 2^32 − 1",
        &with(u32::MAX),
        &Limits::default(),
        LIMIT,
        0,
    );
    // With no frame-length limit the header reaches the keyring and its tag fails; nothing of
    // the 4 GiB the field claims is ever reserved.
    let permissive = Limits {
        max_frame_length: u32::MAX,
        ..Limits::default()
    };
    assert_hostile(
        "frame length 2^32 − 1, unlimited",
        &with(u32::MAX),
        &permissive,
        AUTH,
        1,
    );
}

// ---------------------------------------------------------------------------------------------
// max_body_size.

#[test]
fn body_size_limit_is_unset_by_default_and_exact_when_set() {
    let _g = serial();
    let pt = vec![0x42u8; 1000];
    let ct = message(UNSIGNED, 100, &pt);
    let (client, _) = counted(Limits::default());
    assert_eq!(
        one_shot(&client, &ct).0,
        Ok(pt.clone()),
        "no body limit by default"
    );
    let at = |max| Limits {
        max_body_size: Some(max),
        ..Limits::default()
    };
    let (client, _) = counted(at(1000));
    assert_eq!(
        one_shot(&client, &ct).0,
        Ok(pt.clone()),
        "exactly at the limit"
    );
    for max in [999, 950, 100, 0] {
        let (client, ring) = counted(at(max));
        assert_eq!(one_shot(&client, &ct).0, Err(LIMIT), "max_body_size {max}");
        assert_eq!(ring.decrypts(), 1);
        for chunk in [1, 64, ct.len()] {
            let (client, _) = counted(at(max));
            let (released, outcome) = streamed(&client, &ct, chunk);
            assert_eq!(
                outcome,
                Err(LIMIT),
                "max_body_size {max}, {chunk}-byte chunks"
            );
            // Frames under the limit may have been released (documented for streams); never a
            // byte past it.
            assert!(
                released.len() as u64 <= max,
                "released {} > {max}",
                released.len()
            );
            assert_eq!(released, pt[..released.len()]);
        }
    }
}

#[test]
fn body_size_limit_applies_to_non_framed_messages() {
    let _g = serial();
    let (ct, pt, keyring) = nonframed_vector(
        "v2_nonframed_aes256_0478.bin",
        "v2_nonframed_plaintext_small.bin",
    );
    let client = |max| {
        Client::new(keyring.clone())
            .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .with_limits(Limits {
                max_body_size: max,
                ..Limits::default()
            })
    };
    assert_eq!(one_shot(&client(None), &ct).0, Ok(pt.clone()));
    assert_eq!(
        one_shot(&client(Some(pt.len() as u64)), &ct).0,
        Ok(pt.clone())
    );
    assert_eq!(
        one_shot(&client(Some(pt.len() as u64 - 1)), &ct).0,
        Err(LIMIT)
    );
}

// ---------------------------------------------------------------------------------------------
// max_context_size.

#[test]
fn context_size_limit_default_and_configured() {
    let _g = serial();
    for suite in [UNSIGNED, SIGNED] {
        let ct = message(suite, 4096, PLAINTEXT);
        let ctx_len = u16_at(&ct, offsets(&ct).ctx_len);
        let at = |max| Limits {
            max_context_size: max,
            ..Limits::default()
        };
        let (client, _) = counted(at(ctx_len));
        assert_eq!(
            one_shot(&client, &ct).0,
            Ok(PLAINTEXT.to_vec()),
            "{suite}: at the limit"
        );
        assert_hostile(
            &format!("{suite}: context one byte over max_context_size"),
            &ct,
            &at(ctx_len - 1),
            LIMIT,
            0,
        );
    }
    // The default admits the largest context the format can carry.
    let big = "v".repeat(65_535 - 2 - 4 - 1);
    let client = Client::new(raw("key")).with_suite(UNSIGNED).unwrap();
    let ct = encrypt_with(&client, PLAINTEXT, &[("k", &big)]);
    assert_eq!(u16_at(&ct, offsets(&ct).ctx_len), 65_535);
    let (client, _) = counted(Limits::default());
    assert_eq!(one_shot(&client, &ct).0, Ok(PLAINTEXT.to_vec()));
}

#[test]
fn context_length_over_the_limit_is_refused_before_its_bytes_arrive() {
    let _g = serial();
    let ct = message(UNSIGNED, 4096, PLAINTEXT);
    let o = offsets(&ct);
    // The header up to its context length, claiming 65535 bytes of context, and 10 bytes.
    let mut bad = ct[..o.ctx_len + 12].to_vec();
    put_u16(&mut bad, o.ctx_len, u16::MAX);
    // Within the default limit: the message is simply cut short.
    assert_hostile(
        "context length 0xFFFF, 10 bytes",
        &bad,
        &Limits::default(),
        TRUNCATED,
        0,
    );
    // Over a configured limit: refused from the length alone, without waiting for 64 KiB.
    let small = Limits {
        max_context_size: 1024,
        ..Limits::default()
    };
    assert_hostile(
        "context length 0xFFFF > 1024, 10 bytes",
        &bad,
        &small,
        LIMIT,
        0,
    );
    let mut dec = Decryptor::new(DecryptParams {
        limits: small,
        ..DecryptParams::default()
    });
    assert_eq!(
        dec.push(&bad).err().map(|e| e.code()),
        Some(LIMIT),
        "push must refuse at once, not wait for the context bytes"
    );
    assert_eq!(dec.state(), DecryptState::Failed);
}

// ---------------------------------------------------------------------------------------------
// Inflated header length fields: the right code, no keyring, bounded memory.

#[test]
fn edk_count_0xffff_is_refused_from_the_count_alone() {
    let _g = serial();
    for suite in [UNSIGNED, SIGNED] {
        let ct = message(suite, 4096, PLAINTEXT);
        let o = offsets(&ct);
        let mut bad = ct.clone();
        put_u16(&mut bad, o.edk_count, u16::MAX);
        assert_hostile(
            &format!("{suite}: EDK count 0xFFFF"),
            &bad,
            &Limits::default(),
            TOO_MANY,
            0,
        );
        // Just the bytes up to the count: the count alone decides.
        assert_hostile(
            &format!("{suite}: EDK count 0xFFFF, nothing after"),
            &bad[..o.edk_count + 2],
            &Limits::default(),
            TOO_MANY,
            0,
        );
        // With the limit lifted to 65535 the parser reads EDKs until the bytes run out,
        // allocating only what it read.
        let lifted = Limits {
            max_encrypted_data_keys: 65_535,
            ..Limits::default()
        };
        assert_hostile(
            &format!("{suite}: EDK count 0xFFFF, limit 65535, header cut after the EDKs"),
            &bad[..o.content_type],
            &lifted,
            TRUNCATED,
            0,
        );
    }
}

#[test]
fn edk_field_lengths_0xffff_wait_for_bytes_that_never_come() {
    let _g = serial();
    let ct = message(UNSIGNED, 4096, PLAINTEXT);
    let o = offsets(&ct);
    let small_header = Limits {
        max_header_size: 4096,
        ..Limits::default()
    };
    for (i, field) in ["provider id", "provider info", "ciphertext"]
        .iter()
        .enumerate()
    {
        let mut bad = ct.clone();
        put_u16(&mut bad, o.edk_lens[0][i], u16::MAX);
        assert!(bad.len() < 65_535);
        assert_hostile(
            &format!("EDK {field} length 0xFFFF"),
            &bad,
            &Limits::default(),
            TRUNCATED,
            0,
        );
        // A header limit smaller than what the field claims refuses it at once.
        assert_hostile(
            &format!("EDK {field} length 0xFFFF, max_header_size 4096"),
            &bad,
            &small_header,
            LIMIT,
            0,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inflated body length fields (the header is authentic: the keyring runs once).

#[test]
fn final_frame_length_inflated() {
    let _g = serial();
    for suite in [UNSIGNED, SIGNED] {
        let ct = message(suite, 4096, PLAINTEXT);
        // The message is header ‖ final frame (marker, seq, IV, u32 length, …) [‖ footer].
        let len_at = offsets(&ct).header_len + 4 + 4 + 12;
        assert_eq!(
            u32::from_be_bytes(ct[len_at..len_at + 4].try_into().unwrap()) as usize,
            PLAINTEXT.len()
        );
        let with = |v: u32| {
            let mut b = ct.clone();
            put_u32(&mut b, len_at, v);
            b
        };
        assert_hostile(
            &format!("{suite}: final length = frame length"),
            &with(4096),
            &Limits::default(),
            TRUNCATED,
            1,
        );
        assert_hostile(
            &format!("{suite}: final length 4097"),
            &with(4097),
            &Limits::default(),
            MALFORMED,
            1,
        );
        assert_hostile(
            &format!("{suite}: final length 2^32 − 1"),
            &with(u32::MAX),
            &Limits::default(),
            MALFORMED,
            1,
        );
    }
}

#[test]
fn footer_length_inflated() {
    let _g = serial();
    let ct = message(SIGNED, 4096, PLAINTEXT);
    let o = offsets(&ct);
    // Footer = u16 length ‖ DER signature; find it from the end of the final frame.
    let footer_at = o.header_len + 4 + 4 + 12 + 4 + PLAINTEXT.len() + 16;
    assert_eq!(u16_at(&ct, footer_at) + 2, ct.len() - footer_at);
    let mut bad = ct.clone();
    put_u16(&mut bad, footer_at, u16::MAX);
    assert_hostile(
        "footer length 0xFFFF",
        &bad,
        &Limits::default(),
        TRUNCATED,
        1,
    );
    put_u16(&mut bad, footer_at, 0);
    assert_hostile("footer length 0", &bad, &Limits::default(), MALFORMED, 1);
}

/// A non-framed official vector, its plaintext and the keyring for it (`keys.json` aes-256).
fn nonframed_vector(ct: &str, pt: &str) -> (Vec<u8>, Vec<u8>, Arc<dyn Keyring>) {
    let vectors = common::shared_dir().join("vectors");
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vectors.join("esdk-offline/keys.json")).unwrap())
            .unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(keys["keys"]["aes-256"]["material"].as_str().unwrap())
        .unwrap();
    let ring: Arc<dyn Keyring> =
        Arc::new(RawAesKeyring::new("aws-raw-vectors-persistant", "aes-256", &key).unwrap());
    let dir = vectors.join("nonframed");
    (
        std::fs::read(dir.join(ct)).unwrap(),
        std::fs::read(dir.join(pt)).unwrap(),
        ring,
    )
}

#[test]
fn non_framed_content_length_inflated() {
    let _g = serial();
    for (file, pt) in [
        (
            "v1_nonframed_aes256_0178.bin",
            "v1_nonframed_plaintext_small.bin",
        ),
        (
            "v2_nonframed_aes256_0478.bin",
            "v2_nonframed_plaintext_small.bin",
        ),
    ] {
        let (ct, pt, ring) = nonframed_vector(file, pt);
        let o = offsets(&ct);
        assert_eq!(
            &ct[o.frame_length..o.frame_length + 4],
            &[0; 4],
            "{file}: non-framed"
        );
        let len_at = o.header_len + 12;
        assert_eq!(
            u64::from_be_bytes(ct[len_at..len_at + 8].try_into().unwrap()),
            pt.len() as u64
        );
        let counted_ring = |limits: &Limits| {
            let c = Counting::new(ring.clone());
            let client = Client::new(c.clone())
                .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
                .with_limits(limits.clone());
            (client, c)
        };
        for (value, code) in [
            (u64::MAX, MALFORMED),
            ((1 << 36) - 31, MALFORMED), // one over GCM's limit
            (u64::from(DEFAULT_MAX_FRAME_LENGTH) + 1, LIMIT),
            (u64::from(DEFAULT_MAX_FRAME_LENGTH), TRUNCATED),
            (pt.len() as u64 + 1, TRUNCATED),
        ] {
            let mut bad = ct.clone();
            put_u64(&mut bad, len_at, value);
            let (client, c) = counted_ring(&Limits::default());
            let (result, allocated) = one_shot(&client, &bad);
            assert_eq!(result, Err(code), "{file}: content length {value}");
            assert_eq!(c.decrypts(), 1, "{file}: {value}");
            assert!(
                allocated <= budget(bad.len()),
                "{file}: content length {value}: allocated {allocated} for {}",
                bad.len()
            );
            for chunk in [1, 4096] {
                let (client, _) = counted_ring(&Limits::default());
                let (released, outcome) = streamed(&client, &bad, chunk);
                assert_eq!(outcome, Err(code), "{file}: {value}, {chunk}-byte chunks");
                assert!(released.is_empty());
            }
        }
        // A content length one short: the tag no longer matches.
        let mut bad = ct.clone();
        put_u64(&mut bad, len_at, pt.len() as u64 - 1);
        let (client, _) = counted_ring(&Limits::default());
        assert_ne!(one_shot(&client, &bad).0, Ok(pt.clone()));
    }
}
