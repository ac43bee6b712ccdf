//! External hashing of the signed suites (the wasm driver hashes in a Web Worker): output must
//! be byte-identical to in-engine hashing, and verification must fail exactly as it does there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use kms_envelope::crypto::{AesGcmKey, SignatureHasher, seal};
use kms_envelope::stream::{DecryptState, Decryptor, EncryptParams, Encryptor};
use kms_envelope::suite::SignatureAlg;
use kms_envelope::{AlgorithmSuite, Client, EncryptionContext, Error};

const SIGNED: AlgorithmSuite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
const UNSIGNED: AlgorithmSuite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;

fn params(suite: AlgorithmSuite, frame_length: u32) -> EncryptParams {
    common::fixed_params(suite, frame_length, "external-hash")
}

fn sha384() -> SignatureHasher {
    SignatureHasher::new(SignatureAlg::EcdsaP384)
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

fn internal(frame_length: u32, pt: &[u8]) -> Vec<u8> {
    let mut e = Encryptor::new(params(SIGNED, frame_length)).unwrap();
    e.push(pt).unwrap();
    e.finish().unwrap();
    e.take_output()
}

/// Frames sealed in the engine, hash outside: the driver hashes every byte it takes.
fn hash_outside(frame_length: u32, pt: &[u8], chunk: usize) -> Vec<u8> {
    let mut e = Encryptor::new(params(SIGNED, frame_length)).unwrap();
    e.set_external_hash().unwrap();
    let mut h = sha384();
    let mut out = Vec::new();
    let take = |e: &mut Encryptor, h: &mut SignatureHasher, out: &mut Vec<u8>| {
        let bytes = e.take_output();
        h.update(&bytes);
        out.extend_from_slice(&bytes);
    };
    take(&mut e, &mut h, &mut out);
    for piece in pt.chunks(chunk) {
        e.push(piece).unwrap();
        take(&mut e, &mut h, &mut out);
    }
    e.finish().unwrap();
    take(&mut e, &mut h, &mut out);
    assert!(e.needs_digest());
    assert_eq!(e.pending_output(), 0, "no footer before the digest");
    e.provide_digest(&h.finalize()).unwrap();
    assert!(!e.needs_digest());
    out.extend_from_slice(&e.take_output());
    out
}

/// Frames sealed outside (as WebCrypto does) and hash outside: the engine never sees a byte
/// of ciphertext, `complete_job_len` is enough.
fn all_outside(frame_length: u32, pt: &[u8], chunk: usize) -> Vec<u8> {
    let (mut e, key) = Encryptor::new(params(SIGNED, frame_length))
        .unwrap()
        .into_external()
        .unwrap();
    e.set_external_hash().unwrap();
    let key = AesGcmKey::new(&key).unwrap();
    let mut h = sha384();
    let mut out = e.take_output();
    h.update(&out);
    let mut pending: Vec<u8> = Vec::new();
    let run =
        |e: &mut Encryptor, pending: &mut Vec<u8>, out: &mut Vec<u8>, h: &mut SignatureHasher| {
            for job in e.take_jobs() {
                let mut buf: Vec<u8> = pending.drain(..job.len).collect();
                let tag = seal(&key, &job.iv, &job.aad, &mut buf).unwrap();
                buf.extend_from_slice(&tag);
                let prefix = e.complete_job_len(buf.len()).unwrap();
                h.update(&prefix);
                h.update(&buf);
                out.extend_from_slice(&prefix);
                out.extend_from_slice(&buf);
                assert_eq!(e.pending_output(), 0, "no footer before the digest");
            }
        };
    for piece in pt.chunks(chunk) {
        pending.extend_from_slice(piece);
        e.push_len(piece.len()).unwrap();
        run(&mut e, &mut pending, &mut out, &mut h);
    }
    e.finish().unwrap();
    run(&mut e, &mut pending, &mut out, &mut h);
    assert!(e.needs_digest());
    e.provide_digest(&h.finalize()).unwrap();
    out.extend_from_slice(&e.take_output());
    assert!(e.external_done());
    out
}

#[test]
fn external_hash_encrypt_is_byte_identical_to_hashing_in_the_engine() {
    for (len, frame, chunk) in [(0, 16, 1), (64, 16, 7), (100, 16, 100), (1000, 33, 64)] {
        let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let want = internal(frame, &pt);
        assert_eq!(
            want,
            hash_outside(frame, &pt, chunk),
            "len {len} frame {frame}"
        );
        assert_eq!(
            want,
            all_outside(frame, &pt, chunk),
            "len {len} frame {frame}"
        );
    }
}

#[test]
fn external_hash_on_an_unsigned_suite_is_invalid_argument() {
    let mut e = Encryptor::new(params(UNSIGNED, 16)).unwrap();
    assert_eq!(code(e.set_external_hash()), "INVALID_ARGUMENT");
    let mut d = Decryptor::new(Default::default());
    d.set_external_hash().unwrap();
}

#[test]
fn external_hash_after_output_was_taken_is_invalid_argument() {
    let mut e = Encryptor::new(params(SIGNED, 16)).unwrap();
    let _header = e.take_output();
    assert_eq!(code(e.set_external_hash()), "INVALID_ARGUMENT");
    // Still hashes itself: the message is whole and valid.
    e.push(b"abc").unwrap();
    e.finish().unwrap();
    assert!(!e.needs_digest());
}

#[test]
fn encrypt_digest_before_the_final_frame_or_twice_or_of_the_wrong_length_is_invalid_argument() {
    let mut e = Encryptor::new(params(SIGNED, 16)).unwrap();
    e.set_external_hash().unwrap();
    assert_eq!(code(e.provide_digest(&[0; 48])), "INVALID_ARGUMENT");
    e.push(&[1; 40]).unwrap();
    assert_eq!(code(e.provide_digest(&[0; 48])), "INVALID_ARGUMENT");
    e.finish().unwrap();
    assert_eq!(code(e.provide_digest(&[0; 32])), "INVALID_ARGUMENT");
    e.provide_digest(&[0; 48]).unwrap();
    assert_eq!(code(e.provide_digest(&[0; 48])), "INVALID_ARGUMENT");
}

#[test]
fn hashing_engine_refuses_complete_job_len_for_signed_suites() {
    let (mut e, _key) = Encryptor::new(params(SIGNED, 16))
        .unwrap()
        .into_external()
        .unwrap();
    e.push_len(16).unwrap();
    let _jobs = e.take_jobs();
    assert_eq!(code(e.complete_job_len(32)), "INVALID_ARGUMENT");
}

fn signed_message(pt: &[u8]) -> (Client, Vec<u8>) {
    let client = common::raw_client().with_frame_length(10).unwrap();
    let ct = pollster::block_on(client.encrypt(pt, &Default::default())).unwrap();
    assert_eq!(ct[1..3], [0x05, 0x78], "the default suite signs");
    (client, ct)
}

/// What an external-hash decrypt driver saw.
struct Run {
    released: Vec<u8>,
    /// Plaintext released before the digest was provided.
    before_digest: usize,
    result: Result<(), Error>,
}

/// Decrypt hashing outside the engine; `digest` may replace the right digest.
fn decrypt_hash_outside(
    client: &Client,
    ct: &[u8],
    chunk: usize,
    digest: impl Fn(Vec<u8>) -> Vec<u8>,
) -> Run {
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.set_external_hash().unwrap();
    let mut h = sha384();
    let (mut fed, mut hashed) = (0usize, 0u64);
    let mut released = Vec::new();
    let mut before_digest = None;
    let mut step = |dec: &mut Decryptor, released: &mut Vec<u8>| -> Result<(), Error> {
        pollster::block_on(client.unlock(dec))?;
        let signed = dec.signed_len();
        assert!(signed >= hashed, "signed_len never decreases");
        h.update(&ct[hashed as usize..signed as usize]);
        hashed = signed;
        released.extend(dec.take_output());
        if dec.needs_digest() {
            assert_eq!(dec.state(), DecryptState::NeedDigest);
            before_digest = Some(released.len());
            let d = digest(std::mem::replace(&mut h, sha384()).finalize());
            dec.provide_digest(&d)?;
            released.extend(dec.take_output());
        }
        Ok(())
    };
    let mut result = Ok(());
    for piece in ct.chunks(chunk) {
        fed += piece.len();
        result = dec.push(piece).and_then(|()| step(&mut dec, &mut released));
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        assert_eq!(fed, ct.len());
        result = dec.finish();
        released.extend(dec.take_output());
    }
    Run {
        released,
        before_digest: before_digest.unwrap_or(usize::MAX),
        result,
    }
}

#[test]
fn external_hash_decrypt_releases_the_same_plaintext_in_any_chunking() {
    let pt: Vec<u8> = (0..95u8).collect();
    let (client, ct) = signed_message(&pt);
    for chunk in [1, 7, 13, 64, ct.len()] {
        let r = decrypt_hash_outside(&client, &ct, chunk, |d| d);
        r.result.unwrap();
        assert_eq!(r.released, pt, "chunk {chunk}");
        // 95 bytes in 10-byte frames: the final frame holds 5 bytes, withheld until the digest.
        assert_eq!(r.before_digest, 90, "chunk {chunk}");
    }
}

#[test]
fn external_hash_decrypt_of_an_unsigned_message_needs_no_digest() {
    let client = common::raw_client()
        .with_suite(UNSIGNED)
        .unwrap()
        .with_frame_length(10)
        .unwrap();
    let pt: Vec<u8> = (0..95u8).collect();
    let ct = pollster::block_on(client.encrypt(&pt, &Default::default())).unwrap();
    let r = decrypt_hash_outside(&client, &ct, 9, |_| panic!("no digest for 0x0478"));
    r.result.unwrap();
    assert_eq!(r.released, pt);
}

#[test]
fn flipped_signature_byte_is_authentication_failed_and_the_final_frame_never_released() {
    let pt: Vec<u8> = (0..95u8).collect();
    let (client, ct) = signed_message(&pt);
    let mut bad = ct.clone();
    let last = bad.len() - 1;
    bad[last - 3] ^= 1;
    let normal = common::try_stream_decrypt(&client, &bad, &EncryptionContext::new(), 7);
    let r = decrypt_hash_outside(&client, &bad, 7, |d| d);
    assert_eq!(code(normal), "AUTHENTICATION_FAILED");
    assert_eq!(code(r.result), "AUTHENTICATION_FAILED");
    assert_eq!(r.released.len(), 90, "only the frames before the final one");
}

#[test]
fn flipped_body_byte_is_authentication_failed_as_in_the_engine() {
    let pt: Vec<u8> = (0..95u8).collect();
    let (client, ct) = signed_message(&pt);
    // Footer ≤ 106 bytes, final frame 45, earlier frames 42 each: a byte of frame 5 or 6.
    let body_byte = ct.len() - 300;
    let mut bad = ct.clone();
    bad[body_byte] ^= 1;
    let normal = common::try_stream_decrypt(&client, &bad, &EncryptionContext::new(), 7);
    let r = decrypt_hash_outside(&client, &bad, 7, |d| d);
    assert_eq!(code(normal), "AUTHENTICATION_FAILED");
    assert_eq!(code(r.result), "AUTHENTICATION_FAILED");
    assert!(r.released.len() < 90);
}

#[test]
fn wrong_digest_is_authentication_failed_and_the_final_frame_never_released() {
    let pt: Vec<u8> = (0..95u8).collect();
    let (client, ct) = signed_message(&pt);
    let r = decrypt_hash_outside(&client, &ct, 13, |mut d| {
        d[0] ^= 1;
        d
    });
    assert_eq!(code(r.result), "AUTHENTICATION_FAILED");
    assert_eq!(r.released.len(), 90);
}

#[test]
fn decrypt_external_hash_after_input_is_invalid_argument() {
    let (client, ct) = signed_message(b"hello");
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.push(&ct[..3]).unwrap();
    assert_eq!(code(dec.set_external_hash()), "INVALID_ARGUMENT");
}

#[test]
fn decrypt_digest_before_the_footer_twice_or_of_the_wrong_length_is_invalid_argument() {
    let pt: Vec<u8> = (0..95u8).collect();
    let (client, ct) = signed_message(&pt);
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.set_external_hash().unwrap();
    assert_eq!(code(dec.provide_digest(&[0; 48])), "INVALID_ARGUMENT");
    // Everything but the last byte: the footer is incomplete.
    dec.push(&ct[..ct.len() - 1]).unwrap();
    pollster::block_on(client.unlock(&mut dec)).unwrap();
    assert!(!dec.needs_digest());
    assert_eq!(code(dec.provide_digest(&[0; 48])), "INVALID_ARGUMENT");
    dec.push(&ct[ct.len() - 1..]).unwrap();
    assert!(dec.needs_digest());
    let signed = dec.signed_len() as usize;
    let mut h = sha384();
    h.update(&ct[..signed]);
    let digest = h.finalize();
    // A digest of the wrong length is refused without failing the message.
    assert_eq!(code(dec.provide_digest(&digest[..32])), "INVALID_ARGUMENT");
    assert_eq!(code(dec.finish()), "TRUNCATED");
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.set_external_hash().unwrap();
    dec.push(&ct).unwrap();
    pollster::block_on(client.unlock(&mut dec)).unwrap();
    assert!(dec.needs_digest());
    assert_eq!(dec.signed_len() as usize, signed);
    dec.provide_digest(&digest[..32]).unwrap_err();
    dec.provide_digest(&digest).unwrap();
    assert_eq!(code(dec.provide_digest(&digest)), "INVALID_ARGUMENT");
    dec.finish().unwrap();
    assert_eq!(dec.take_output(), pt);
}

#[test]
fn bytes_after_the_footer_are_malformed_while_waiting_for_the_digest() {
    let (client, mut ct) = signed_message(b"hello");
    ct.push(0);
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.set_external_hash().unwrap();
    dec.push(&ct[..5]).unwrap();
    let r = dec
        .push(&ct[5..])
        .and_then(|()| pollster::block_on(client.unlock(&mut dec)));
    let normal = common::try_stream_decrypt(&client, &ct, &EncryptionContext::new(), 5);
    let normal = code(normal);
    assert_eq!(code(r), normal);
    assert_eq!(normal, "MALFORMED_MESSAGE");
}

#[test]
fn external_hash_with_external_frames_marks_only_the_signed_final_frame_withheld() {
    let pt: Vec<u8> = (0..95u8).collect();
    let (client, ct) = signed_message(&pt);
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.set_external().unwrap();
    dec.set_external_hash().unwrap();
    dec.push(&ct).unwrap();
    pollster::block_on(client.unlock(&mut dec)).unwrap();
    assert!(dec.take_external_key().is_some());
    let jobs = dec.take_jobs();
    assert_eq!(jobs.len(), 10);
    let withheld: Vec<bool> = jobs.iter().map(|j| j.withhold).collect();
    assert_eq!(withheld.iter().filter(|w| **w).count(), 1);
    assert!(withheld[9]);
    for _ in &jobs {
        dec.complete_job(true).unwrap();
    }
    assert!(dec.needs_digest());
    assert_eq!(
        code(dec.finish()),
        "TRUNCATED",
        "not done before the digest"
    );
}
