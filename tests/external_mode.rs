//! External (WebCrypto-style) sealing and opening must be byte-identical to the built-in path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use kms_envelope::crypto::{AesGcmKey, open, seal};
use kms_envelope::stream::{EncryptParams, Encryptor, OpenFrame, OpenJob};
use kms_envelope::{AlgorithmSuite, EncryptionContext};

fn params(suite: AlgorithmSuite, frame_length: u32) -> EncryptParams {
    common::fixed_params(suite, frame_length, "external")
}

fn internal(suite: AlgorithmSuite, frame_length: u32, pt: &[u8]) -> Vec<u8> {
    let mut e = Encryptor::new(params(suite, frame_length)).unwrap();
    e.push(pt).unwrap();
    e.finish().unwrap();
    e.take_output()
}

/// A driver that seals outside the engine, as the wasm layer does with WebCrypto.
fn external(suite: AlgorithmSuite, frame_length: u32, pt: &[u8], chunk: usize) -> Vec<u8> {
    let (mut e, key) = Encryptor::new(params(suite, frame_length))
        .unwrap()
        .into_external()
        .unwrap();
    let key = AesGcmKey::new(&key).unwrap();
    let mut out = e.take_output();
    let mut pending: Vec<u8> = Vec::new();
    let run = |e: &mut Encryptor, pending: &mut Vec<u8>, out: &mut Vec<u8>| {
        for job in e.take_jobs() {
            let mut buf: Vec<u8> = pending.drain(..job.len).collect();
            let tag = seal(&key, &job.iv, &job.aad, &mut buf).unwrap();
            buf.extend_from_slice(&tag);
            out.extend_from_slice(&e.complete_job(&buf).unwrap());
            out.extend_from_slice(&buf);
            out.extend_from_slice(&e.take_output());
        }
    };
    for piece in pt.chunks(chunk) {
        pending.extend_from_slice(piece);
        e.push_len(piece.len()).unwrap();
        run(&mut e, &mut pending, &mut out);
    }
    e.finish().unwrap();
    run(&mut e, &mut pending, &mut out);
    assert!(e.external_done());
    out
}

#[test]
fn external_sealing_is_byte_identical() {
    for suite in [
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ] {
        for (len, frame, chunk) in [(0, 16, 1), (64, 16, 7), (100, 16, 100), (1000, 33, 64)] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(
                internal(suite, frame, &pt),
                external(suite, frame, &pt, chunk.max(1))
            );
        }
    }
}

#[test]
fn external_opening_releases_the_same_plaintext_and_withholds_the_signed_final_frame() {
    let client = common::raw_client().with_frame_length(10).unwrap();
    let pt: Vec<u8> = (0..95u8).collect();
    let ct = pollster::block_on(client.encrypt(&pt, &Default::default())).unwrap();
    for flip in [None, Some(ct.len() - 120)] {
        let mut ct = ct.clone();
        if let Some(i) = flip {
            ct[i] ^= 1;
        }
        let mut dec = client.start_decrypt(&EncryptionContext::new());
        dec.set_external().unwrap();
        let (mut released, mut held, mut key, mut failed) = (Vec::new(), Vec::new(), None, None);
        for piece in ct.chunks(13) {
            if let Err(e) = dec.push(piece) {
                failed = Some(e);
                break;
            }
            pollster::block_on(client.unlock(&mut dec)).unwrap();
            if let Some(k) = dec.take_external_key() {
                key = Some(AesGcmKey::new(&k).unwrap());
            }
            for job in dec.take_jobs() {
                let k = key.as_ref().unwrap();
                let mut buf = job.sealed[..job.sealed.len() - 16].to_vec();
                let tag: [u8; 16] = job.sealed[job.sealed.len() - 16..].try_into().unwrap();
                let ok = open(k, &job.iv, &job.aad, &mut buf, &tag).is_ok();
                if let Err(e) = dec.complete_job(ok) {
                    failed = Some(e);
                    break;
                }
                if job.withhold {
                    held.extend(buf)
                } else {
                    released.extend(buf)
                }
            }
            if failed.is_some() {
                break;
            }
        }
        match flip {
            None => {
                dec.finish().unwrap();
                released.extend(held);
                assert_eq!(released, pt);
            }
            Some(_) => {
                assert_eq!(failed.map(|e| e.code()), Some("AUTHENTICATION_FAILED"));
                assert!(
                    released.len() < pt.len(),
                    "no plaintext past the tampered frame"
                );
            }
        }
    }
}

/// Every frame, in order, as the driver would open it: queued (`take_jobs`) or lent
/// (`push_opening`, pausing after each lent frame when `pause`). Also returns the most frames
/// any one call lent.
fn opened_frames(ct: &[u8], lend: bool, pause: bool) -> (Vec<OpenJob>, usize) {
    let client = common::raw_client().with_frame_length(10).unwrap();
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    dec.set_external().unwrap();
    let (mut frames, mut most) = (Vec::new(), 0);
    for piece in ct.chunks(100) {
        let mut n = piece.len();
        loop {
            let mut lent = Vec::new();
            let mut open = |f: OpenFrame<'_>| {
                lent.push(OpenJob {
                    seq: f.seq,
                    iv: *f.iv,
                    aad: f.aad.to_vec(),
                    sealed: f.sealed.to_vec(),
                    withhold: f.withhold,
                });
                !pause
            };
            if lend {
                dec.push_opening(n, |b| b.copy_from_slice(&piece[..n]), &mut open)
                    .unwrap();
            } else {
                dec.push(&piece[..n]).unwrap();
            }
            n = 0;
            pollster::block_on(client.unlock(&mut dec)).unwrap();
            // Queued jobs come first: they were parsed before anything lent later.
            let queued = dec.take_jobs();
            assert!(
                queued.is_empty() || lent.is_empty(),
                "queued and lent in one call"
            );
            most = most.max(lent.len());
            let again = !lent.is_empty();
            frames.extend(queued.into_iter().chain(lent));
            if !(pause && again) {
                break;
            }
        }
    }
    for _ in &frames {
        dec.complete_job(true).unwrap();
    }
    dec.finish().unwrap();
    (frames, most)
}

#[test]
fn lent_frames_are_the_queued_jobs_and_a_paused_push_lends_one_frame_at_a_time() {
    let client = common::raw_client().with_frame_length(10).unwrap();
    let pt: Vec<u8> = (0..95u8).collect();
    let ct = pollster::block_on(client.encrypt(&pt, &Default::default())).unwrap();
    let (queued, _) = opened_frames(&ct, false, false);
    assert_eq!(queued.len(), 10, "nine full frames and the final one");
    let (lent, most) = opened_frames(&ct, true, false);
    assert_eq!(lent, queued);
    assert!(
        most >= 2,
        "a 100-byte push carries two or three 42-byte frames"
    );
    let (paused, most) = opened_frames(&ct, true, true);
    assert_eq!(paused, queued);
    assert_eq!(most, 1);
}
