//! The copy-saving driver APIs of the sans-IO engine: `take_output_into` (buffers reused),
//! `Decryptor::push_with` (input written straight into the engine) and the framed length
//! arithmetic the wasm one-shot calls size their results with. Same bytes, same failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use kms_envelope::crypto::{DataKey, SigningKey};
use kms_envelope::error::Error;
use kms_envelope::format::context::PUBLIC_KEY_FIELD;
use kms_envelope::stream::{
    DecryptParams, Decryptor, EncryptParams, Encryptor, framed_body_len, framed_plaintext_len,
};
use kms_envelope::{AlgorithmSuite, EncryptedDataKey, EncryptionContext};

const SUITES: [AlgorithmSuite; 2] = [
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
];

fn params(suite: AlgorithmSuite, frame_length: u32) -> EncryptParams {
    let sk = suite
        .signature()
        .map(|_| SigningKey::from_bytes(&[0x5A; 48]).unwrap());
    let mut context: EncryptionContext = [("a", "b")].into_iter().collect();
    if let Some(sk) = &sk {
        context.insert(PUBLIC_KEY_FIELD, sk.public_key_base64());
    }
    EncryptParams {
        suite,
        context,
        required_keys: Default::default(),
        data_key: DataKey::from_bytes(vec![0x42; 32]),
        encrypted_data_keys: vec![EncryptedDataKey {
            provider_id: "p".into(),
            provider_info: b"i".to_vec(),
            ciphertext: vec![1; 48],
        }],
        signing_key: sk,
        frame_length,
        message_id: Some((0..suite.message_id_len() as u8).collect()),
    }
}

fn pt(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

/// Encrypt in pushes of `piece` bytes, taking output after each (`into`: reusing buffers).
fn encrypt(
    suite: AlgorithmSuite,
    f: u32,
    data: &[u8],
    piece: usize,
    into: bool,
) -> (Vec<u8>, usize) {
    let mut e = Encryptor::new(params(suite, f)).unwrap();
    let header_len = e.pending_output();
    let (mut out, mut buf) = (Vec::new(), Vec::new());
    let mut take = |e: &mut Encryptor| {
        if into {
            e.take_output_into(&mut buf);
            out.extend_from_slice(&buf);
        } else {
            out.extend(e.take_output());
        }
    };
    for c in data.chunks(piece.max(1)) {
        e.push(c).unwrap();
        take(&mut e);
    }
    e.finish().unwrap();
    take(&mut e);
    (out, header_len)
}

/// Decrypt in pushes of `piece` bytes (`with`: through push_with and take_output_into).
fn decrypt(ct: &[u8], piece: usize, with: bool) -> Result<Vec<u8>, Error> {
    let mut d = Decryptor::new(DecryptParams::default());
    let (mut out, mut buf) = (Vec::new(), Vec::new());
    for c in ct.chunks(piece.max(1)) {
        if with {
            d.push_with(c.len(), |b| b.copy_from_slice(c))?;
        } else {
            d.push(c)?;
        }
        if d.key_request().is_some() {
            d.provide_data_key(&DataKey::from_bytes(vec![0x42; 32]))?;
        }
        if with {
            d.take_output_into(&mut buf);
            out.extend_from_slice(&buf);
        } else {
            out.extend(d.take_output());
        }
    }
    d.finish()?;
    if with {
        d.take_output_into(&mut buf);
        out.extend_from_slice(&buf);
    } else {
        out.extend(d.take_output());
    }
    Ok(out)
}

#[test]
fn reused_buffers_give_the_same_bytes_and_the_lengths_add_up() {
    for suite in SUITES {
        for f in [1024u32, 4096, 65536] {
            let fl = f as usize;
            for n in [0, 1, fl, 3 * fl, 3 * fl + 1] {
                let data = pt(n);
                let what = format!("{suite:?} frame {f} len {n}");
                let (a, header_len) = encrypt(suite, f, &data, 1000, false);
                for piece in [1000, fl, 1 << 20] {
                    assert_eq!(encrypt(suite, f, &data, piece, true).0, a, "{what}");
                }
                let body = framed_body_len(f, n as u64).unwrap();
                let footer = a.len() as u64 - header_len as u64 - body;
                if suite.signature().is_some() {
                    assert!((8..=106).contains(&footer), "{what}: footer {footer}");
                } else {
                    assert_eq!(footer, 0, "{what}");
                }
                assert_eq!(framed_plaintext_len(f, body), Some(n as u64), "{what}");
                for piece in [999, 1 << 20] {
                    assert_eq!(decrypt(&a, piece, true).unwrap(), data, "{what}");
                    assert_eq!(decrypt(&a, piece, false).unwrap(), data, "{what}");
                }
                // Truncated and extended: the same error either way.
                for bad in [&a[..a.len() - 1], &[a.as_slice(), &[0]].concat()[..]] {
                    let x = decrypt(bad, 999, true).unwrap_err();
                    let y = decrypt(bad, 999, false).unwrap_err();
                    assert_eq!(x.code(), y.code(), "{what}");
                }
            }
        }
    }
}

#[test]
fn framed_plaintext_len_refuses_impossible_bodies() {
    assert_eq!(framed_plaintext_len(1024, 39), None);
    assert_eq!(framed_plaintext_len(1024, 40), Some(0));
    assert_eq!(framed_plaintext_len(1024, 40 + 1024), Some(1024));
    // Past a full final frame but short of another regular frame.
    assert_eq!(framed_plaintext_len(1024, 40 + 1025), None);
    assert_eq!(framed_plaintext_len(1024, 1056 + 40), Some(1024));
    assert_eq!(framed_plaintext_len(1, 33 * 5 + 40 + 1), Some(6));
}

#[test]
fn pushing_what_a_frame_needs_completes_it_and_leaves_nothing_buffered() {
    for suite in SUITES {
        let pt = pt(9_500);
        let (ct, _) = encrypt(suite, 1000, &pt, 4096, false);
        let mut d = Decryptor::new(DecryptParams::default());
        let (mut out, mut at, mut exact) = (Vec::new(), 0, 0);
        while at < ct.len() {
            // Chunks a bit shorter than a frame (1000 + 32 bytes), split where a frame ends.
            let mut take = 900.min(ct.len() - at);
            let need = d.frame_needs();
            if let Some(n) = need.filter(|&n| n < take) {
                take = n;
            }
            let before = out.len();
            d.push(&ct[at..at + take]).unwrap();
            at += take;
            if d.key_request().is_some() {
                d.provide_data_key(&DataKey::from_bytes(vec![0x42; 32]))
                    .unwrap();
            }
            out.extend(d.take_output());
            if need == Some(take) && d.buffered() == 0 {
                exact += 1;
                assert!(out.len() > before || suite.signature().is_some());
            }
        }
        d.finish().unwrap();
        out.extend(d.take_output());
        assert_eq!(out, pt);
        // Ten frames, the first ones only after the header was taken in.
        assert!(
            exact >= 8,
            "{exact} frames completed by exactly what they needed"
        );
    }
}
