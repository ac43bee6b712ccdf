//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use kms_envelope::crypto::{DataKey, SigningKey};
use kms_envelope::keyring::RawAesKeyring;
use kms_envelope::stream::EncryptParams;
use kms_envelope::{AlgorithmSuite, Client, EncryptedDataKey, EncryptionContext};

/// `../shared` next to the repository (override with `KMS_ENVELOPE_SHARED`).
pub fn shared_dir() -> PathBuf {
    if let Ok(p) = std::env::var("KMS_ENVELOPE_SHARED") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
}

/// Fully fixed engine parameters (data key, message id, signing key, one dummy EDK): the
/// engine's output is then a function of the plaintext and the frame length alone.
pub fn fixed_params(suite: AlgorithmSuite, frame_length: u32, purpose: &str) -> EncryptParams {
    let signing_key = suite
        .signature()
        .map(|_| SigningKey::from_bytes(&[3u8; 48]).unwrap());
    let mut context: EncryptionContext = [("purpose", purpose)].into_iter().collect();
    if let Some(sk) = &signing_key {
        context.insert("aws-crypto-public-key", sk.public_key_base64());
    }
    EncryptParams {
        suite,
        context,
        required_keys: BTreeSet::new(),
        data_key: DataKey::from_bytes(vec![9u8; 32]),
        encrypted_data_keys: vec![EncryptedDataKey {
            provider_id: "p".into(),
            provider_info: b"i".to_vec(),
            ciphertext: vec![1; 48],
        }],
        signing_key,
        frame_length,
        message_id: Some(vec![5u8; 32]),
    }
}

/// A raw AES client with a fixed 256-bit key.
pub fn raw_client() -> Client {
    Client::new(Arc::new(
        RawAesKeyring::new("kms-envelope-tests", "test-key", &[7u8; 32]).unwrap(),
    ))
}

/// Decrypt by pushing `chunk`-byte pieces; panics on error.
#[cfg(not(target_arch = "wasm32"))]
pub fn stream_decrypt(
    client: &Client,
    ct: &[u8],
    ctx: &EncryptionContext,
    chunk: usize,
) -> Vec<u8> {
    try_stream_decrypt(client, ct, ctx, chunk).unwrap_or_else(|e| panic!("{}: {e}", e.code()))
}

/// Decrypt by pushing `chunk`-byte pieces; returns everything released and the result.
/// (Native only: it blocks on the keyring with pollster; tests/web.rs runs in a browser.)
#[cfg(not(target_arch = "wasm32"))]
pub fn try_stream_decrypt(
    client: &Client,
    ct: &[u8],
    ctx: &EncryptionContext,
    chunk: usize,
) -> kms_envelope::Result<Vec<u8>> {
    let mut dec = client.start_decrypt(ctx);
    let mut out = Vec::new();
    for piece in ct.chunks(chunk.max(1)) {
        dec.push(piece)?;
        pollster::block_on(client.unlock(&mut dec))?;
        out.extend_from_slice(&dec.take_output());
    }
    dec.finish()?;
    out.extend_from_slice(&dec.take_output());
    Ok(out)
}
