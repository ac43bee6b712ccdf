//! Streaming property tests: the output of the sans-IO engine does not depend on how its input
//! is split.
//!
//! * Encryption (deterministic: fixed message id, data key, EDKs and P-384 signing key, and
//!   RFC 6979 signatures): random plaintext sizes (0, exact multiples of the frame length and
//!   anything else), random frame lengths 1..=300 and random chunkings (including empty pushes)
//!   give byte-identical ciphertext, with the frame layout the format prescribes.
//! * Decryption: random chunkings, including one byte at a time, give the plaintext back, and
//!   at every point the decryptor has released exactly the frames that are complete in what it
//!   was given (never the final frame of a signed message before its signature).
//!
//! Suites 0x0478 and 0x0578. 64 cases per property.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kms_envelope::crypto::{DataKey, SigningKey};
use kms_envelope::format::context::PUBLIC_KEY_FIELD;
use kms_envelope::stream::{DecryptParams, DecryptState, Decryptor, EncryptParams, Encryptor};
use kms_envelope::{AlgorithmSuite, EncryptedDataKey, EncryptionContext};
use proptest::prelude::*;

const SIGNING_KEY: [u8; 48] = [0x5A; 48];
const DATA_KEY: [u8; 32] = [0x42; 32];

fn suites() -> impl Strategy<Value = AlgorithmSuite> {
    prop_oneof![
        Just(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey),
        Just(AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384),
    ]
}

fn context(suite: AlgorithmSuite) -> EncryptionContext {
    let mut ctx: EncryptionContext = [("stream", "props"), ("ü", "✓")].into_iter().collect();
    if suite.signature().is_some() {
        let sk = SigningKey::from_bytes(&SIGNING_KEY).unwrap();
        ctx.insert(PUBLIC_KEY_FIELD, sk.public_key_base64());
    }
    ctx
}

fn params(suite: AlgorithmSuite, frame_length: u32) -> EncryptParams {
    EncryptParams {
        suite,
        context: context(suite),
        required_keys: Default::default(),
        data_key: DataKey::from_bytes(DATA_KEY.to_vec()),
        encrypted_data_keys: vec![EncryptedDataKey {
            provider_id: "stream-props".into(),
            provider_info: b"static".to_vec(),
            ciphertext: vec![1; 48],
        }],
        signing_key: suite
            .signature()
            .map(|_| SigningKey::from_bytes(&SIGNING_KEY).unwrap()),
        frame_length,
        message_id: Some((0..suite.message_id_len() as u8).collect()),
    }
}

/// Encrypt `pt` pushing pieces of the sizes in `plan` (cycled; 0 = an empty push), taking the
/// output only after pushes whose index is in `take_after` (cycled) and at the end. Returns the
/// ciphertext and the header length.
fn encrypt(
    suite: AlgorithmSuite,
    frame_length: u32,
    pt: &[u8],
    plan: &[usize],
    take_every: usize,
) -> (Vec<u8>, usize) {
    let mut enc = Encryptor::new(params(suite, frame_length)).unwrap();
    let header_len = enc.pending_output();
    let mut out = Vec::new();
    let mut rest = pt;
    let mut i = 0;
    // Cap the number of empty pushes so a plan of zeros still terminates.
    let mut empty = 0;
    while !rest.is_empty() {
        let mut n = plan[i % plan.len()].min(rest.len());
        if n == 0 {
            empty += 1;
            if empty > 8 {
                n = 1;
            }
        }
        enc.push(&rest[..n]).unwrap();
        rest = &rest[n..];
        i += 1;
        if i % take_every.max(1) == 0 {
            out.extend_from_slice(&enc.take_output());
        }
    }
    enc.push(&[]).unwrap();
    enc.finish().unwrap();
    assert!(enc.push(b"x").is_err(), "push after finish must fail");
    assert!(enc.finish().is_err(), "finish twice must fail");
    out.extend_from_slice(&enc.take_output());
    assert_eq!(enc.plaintext_len(), pt.len() as u64);
    (out, header_len)
}

fn decryptor() -> Decryptor {
    Decryptor::new(DecryptParams::default())
}

/// Frame boundaries (end offsets in the ciphertext) and the plaintext released once each
/// frame is complete, for a message encrypted by `encrypt`.
fn frame_ends(header_len: usize, frame_length: usize, pt_len: usize) -> Vec<(usize, usize)> {
    let mut ends = Vec::new();
    let mut at = header_len;
    let full = pt_len / frame_length;
    for k in 0..full {
        at += 4 + 12 + frame_length + 16;
        ends.push((at, (k + 1) * frame_length));
    }
    at += 4 + 4 + 12 + 4 + (pt_len - full * frame_length) + 16;
    ends.push((at, pt_len));
    ends
}

/// Decrypt pushing pieces of the sizes in `plan` (cycled, each at least 1 byte), providing the
/// data key when asked. After every push, checks that exactly the complete frames were
/// released.
fn decrypt(
    ct: &[u8],
    plan: &[usize],
    pt: &[u8],
    header_len: usize,
    frame_length: usize,
    signed: bool,
) -> Vec<u8> {
    let ends = frame_ends(header_len, frame_length, pt.len());
    let body_end = ends.last().unwrap().0;
    let mut dec = decryptor();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut i = 0;
    while fed < ct.len() {
        let n = plan[i % plan.len()].max(1).min(ct.len() - fed);
        i += 1;
        dec.push(&ct[fed..fed + n]).unwrap();
        fed += n;
        if dec.state() == DecryptState::NeedDataKey {
            assert!(fed >= header_len);
            dec.provide_data_key(&DataKey::from_bytes(DATA_KEY.to_vec()))
                .unwrap();
        }
        out.extend_from_slice(&dec.take_output());
        // Exactly the frames complete in `fed` bytes, the final one of a signed message only
        // once the whole footer is in.
        let mut expected = 0;
        for (k, &(end, released)) in ends.iter().enumerate() {
            let is_final = k + 1 == ends.len();
            if end <= fed && !(is_final && signed) {
                expected = released;
            }
        }
        if signed && fed == ct.len() {
            expected = pt.len();
        }
        assert_eq!(
            out.len(),
            expected,
            "released after {fed} of {} bytes",
            ct.len()
        );
        assert_eq!(dec.state() == DecryptState::Header, fed < header_len);
        if fed >= body_end && !signed {
            assert!(dec.is_done());
        }
    }
    dec.finish().unwrap();
    out.extend_from_slice(&dec.take_output());
    let ctx = dec.context().unwrap();
    assert_eq!(
        ctx,
        &context(if signed {
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384
        } else {
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKey
        })
    );
    out
}

/// Plaintext length: 0, an exact multiple of the frame length, or anything up to 3 frames.
fn pt_len(frame_length: u32) -> impl Strategy<Value = usize> {
    let fl = frame_length as usize;
    prop_oneof![
        1 => Just(0usize),
        2 => (1usize..=4).prop_map(move |k| k * fl),
        4 => 0..=3 * fl + 17,
    ]
    .prop_map(|n| n.min(1200))
}

fn case() -> impl Strategy<Value = (AlgorithmSuite, u32, Vec<u8>)> {
    (suites(), 1u32..=300).prop_flat_map(|(suite, fl)| {
        (
            Just(suite),
            Just(fl),
            pt_len(fl).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n)),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn encryption_output_does_not_depend_on_chunking(
        (suite, fl, pt) in case(),
        plan in proptest::collection::vec(0usize..=320, 1..12),
        take_every in 1usize..4,
    ) {
        let (whole, header_len) = encrypt(suite, fl, &pt, &[usize::MAX], 1);
        let (chunked, header_len2) = encrypt(suite, fl, &pt, &plan, take_every);
        prop_assert_eq!(header_len, header_len2);
        prop_assert!(whole == chunked, "ciphertexts differ ({} vs {} bytes)", whole.len(), chunked.len());

        // The layout the format prescribes: ⌊n/fl⌋ regular frames, then a final frame holding
        // the rest (empty when n is a multiple of fl), then the footer for 0x0578.
        let body_end = frame_ends(header_len, fl as usize, pt.len()).last().unwrap().0;
        if suite.signature().is_some() {
            let footer = &whole[body_end..];
            let sig_len = u16::from_be_bytes([footer[0], footer[1]]) as usize;
            prop_assert_eq!(footer.len(), 2 + sig_len);
            prop_assert!((8..=104).contains(&sig_len), "DER P-384 signature of {} bytes", sig_len);
        } else {
            prop_assert_eq!(whole.len(), body_end);
        }
        let final_at = body_end - (4 + 4 + 12 + 4 + pt.len() % fl as usize + 16);
        prop_assert_eq!(&whole[final_at..final_at + 4], &[0xFF; 4]);
        let seq = (pt.len() / fl as usize + 1) as u32;
        prop_assert_eq!(&whole[final_at + 4..final_at + 8], &seq.to_be_bytes());
    }

    #[test]
    fn decryption_output_does_not_depend_on_chunking(
        (suite, fl, pt) in case(),
        plan in proptest::collection::vec(1usize..=200, 1..12),
    ) {
        let (ct, header_len) = encrypt(suite, fl, &pt, &[usize::MAX], 1);
        let signed = suite.signature().is_some();
        let whole = decrypt(&ct, &[usize::MAX], &pt, header_len, fl as usize, signed);
        prop_assert!(whole == pt);
        let chunked = decrypt(&ct, &plan, &pt, header_len, fl as usize, signed);
        prop_assert!(chunked == pt);
    }

    #[test]
    fn one_byte_pushes_decrypt(
        (suite, fl, pt) in case(),
    ) {
        let (ct, header_len) = encrypt(suite, fl, &pt, &[usize::MAX], 1);
        let signed = suite.signature().is_some();
        let out = decrypt(&ct, &[1], &pt, header_len, fl as usize, signed);
        prop_assert!(out == pt);
    }
}

#[test]
fn edge_sizes_round_trip_for_both_suites() {
    // The corners the random cases may miss: frame length 1 and 300, empty plaintext, exactly
    // one frame, one byte more and one byte less.
    for suite in [
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ] {
        for fl in [1usize, 300] {
            let mut sizes = vec![0, 1, fl - 1, fl, fl + 1, 2 * fl];
            sizes.sort_unstable();
            sizes.dedup();
            for n in sizes {
                let pt: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let (ct, header_len) = encrypt(suite, fl as u32, &pt, &[usize::MAX], 1);
                let (ct1, _) = encrypt(suite, fl as u32, &pt, &[1], 1);
                assert_eq!(ct, ct1, "{suite} fl {fl} n {n}");
                let signed = suite.signature().is_some();
                assert_eq!(decrypt(&ct, &[1], &pt, header_len, fl, signed), pt);
            }
        }
    }
}

#[test]
fn deterministic_encryption_is_really_deterministic_and_depends_on_its_inputs() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
    let (a, _) = encrypt(suite, 16, b"same input", &[3], 1);
    let (b, _) = encrypt(suite, 16, b"same input", &[usize::MAX], 1);
    assert_eq!(a, b);
    let (c, _) = encrypt(suite, 16, b"same inpuT", &[usize::MAX], 1);
    assert_ne!(a, c);
    let (d, _) = encrypt(suite, 17, b"same input", &[usize::MAX], 1);
    assert_ne!(a, d);
}
