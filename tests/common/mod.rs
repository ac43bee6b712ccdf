//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use kms_envelope::keyring::RawAesKeyring;
use kms_envelope::{Client, EncryptionContext, Result};

/// `../shared` next to the repository (override with `KMS_ENVELOPE_SHARED`).
pub fn shared_dir() -> PathBuf {
    if let Ok(p) = std::env::var("KMS_ENVELOPE_SHARED") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
}

/// A raw AES client with a fixed 256-bit key.
pub fn raw_client() -> Client {
    Client::new(Arc::new(
        RawAesKeyring::new("kms-envelope-tests", "test-key", &[7u8; 32]).unwrap(),
    ))
}

/// Decrypt by pushing `chunk`-byte pieces; panics on error.
pub fn stream_decrypt(
    client: &Client,
    ct: &[u8],
    ctx: &EncryptionContext,
    chunk: usize,
) -> Vec<u8> {
    try_stream_decrypt(client, ct, ctx, chunk).unwrap_or_else(|e| panic!("{}: {e}", e.code()))
}

/// Decrypt by pushing `chunk`-byte pieces; returns everything released and the result.
pub fn try_stream_decrypt(
    client: &Client,
    ct: &[u8],
    ctx: &EncryptionContext,
    chunk: usize,
) -> Result<Vec<u8>> {
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
