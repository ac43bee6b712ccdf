//! AES-GCM with a 12-byte IV and a detached 16-byte tag, for 128/192/256-bit keys.
//!
//! AES-256 (every frame of the v2 suites) goes through the `frame-aead` crate, built at
//! opt-level 3 even in the size-optimized wasm package (its lib.rs says why); 128/192-bit keys
//! (legacy suites, raw AES wrapping keys) stay here.

use aes_gcm::aead::array::Array;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::{Aes128, Aes192};
use aes_gcm::{AesGcm, aead::consts::U12};

use crate::error::{Error, Result};

/// An AES-GCM key schedule (zeroized on drop by `aes-gcm`).
#[derive(Clone)]
pub enum AesGcmKey {
    /// AES-128-GCM.
    Aes128(Box<AesGcm<Aes128, U12>>),
    /// AES-192-GCM (not available in WebCrypto; the pure-Rust path handles it).
    Aes192(Box<AesGcm<Aes192, U12>>),
    /// AES-256-GCM.
    Aes256(Box<frame_aead::Aes256Gcm>),
}

impl std::fmt::Debug for AesGcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmKey([REDACTED])")
    }
}

impl AesGcmKey {
    /// Build a key schedule from 16, 24 or 32 key bytes.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for any other length.
    pub fn new(key: &[u8]) -> Result<Self> {
        fn bad<E>(_: E) -> Error {
            Error::invalid("AES key must be 16, 24 or 32 bytes")
        }
        Ok(match key.len() {
            16 => AesGcmKey::Aes128(Box::new(AesGcm::new_from_slice(key).map_err(bad)?)),
            24 => AesGcmKey::Aes192(Box::new(AesGcm::new_from_slice(key).map_err(bad)?)),
            32 => {
                let key: &[u8; 32] = key.try_into().map_err(bad)?;
                AesGcmKey::Aes256(Box::new(frame_aead::Aes256Gcm::new(key)))
            }
            _ => return Err(bad(key.len())),
        })
    }
}

/// Encrypt `buf` in place; returns the tag.
///
/// # Errors
/// `INVALID_ARGUMENT` if the plaintext exceeds GCM's limit.
pub fn seal(key: &AesGcmKey, iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16]> {
    let nonce = Array::from(*iv);
    let tag = match key {
        AesGcmKey::Aes128(k) => k.encrypt_inout_detached(&nonce, aad, buf.into()).ok(),
        AesGcmKey::Aes192(k) => k.encrypt_inout_detached(&nonce, aad, buf.into()).ok(),
        AesGcmKey::Aes256(k) => return k.seal(iv, aad, buf).map_err(|_| too_long()),
    };
    tag.map(Into::into).ok_or_else(too_long)
}

fn too_long() -> Error {
    Error::invalid("plaintext too long for AES-GCM")
}

/// Decrypt `buf` in place after checking `tag`. On failure `buf` holds no plaintext.
///
/// # Errors
/// `AUTHENTICATION_FAILED` (opaque) when the tag does not verify.
pub fn open(
    key: &AesGcmKey,
    iv: &[u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> Result<()> {
    let nonce = Array::from(*iv);
    let tag_array = Array::from(*tag);
    let ok = match key {
        AesGcmKey::Aes128(k) => k.decrypt_inout_detached(&nonce, aad, buf.into(), &tag_array),
        AesGcmKey::Aes192(k) => k.decrypt_inout_detached(&nonce, aad, buf.into(), &tag_array),
        AesGcmKey::Aes256(k) => {
            return k
                .open(iv, aad, buf, tag)
                .map_err(|_| Error::AuthenticationFailed);
        }
    };
    ok.map_err(|_| Error::AuthenticationFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIST GCM test case 14 (AES-256, zero key, zero IV, 16 zero bytes).
    #[test]
    fn nist_gcm_case_14() {
        let key = AesGcmKey::new(&[0; 32]).unwrap_or_else(|e| panic!("{e}"));
        let mut buf = [0u8; 16];
        let tag = seal(&key, &[0; 12], &[], &mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hex::encode(buf), "cea7403d4d606b6e074ec5d3baf39d18");
        assert_eq!(hex::encode(tag), "d0d1c8a799996bf0265b98b5d48ab919");
        assert!(open(&key, &[0; 12], &[], &mut buf, &tag).is_ok());
        assert_eq!(buf, [0; 16]);
    }

    #[test]
    fn flipped_tag_or_aad_fails_opaquely() {
        for len in [16, 24, 32] {
            let key = AesGcmKey::new(&vec![7; len]).unwrap_or_else(|e| panic!("{e}"));
            let mut buf = *b"attack at dawn!!";
            let tag = seal(&key, &[1; 12], b"aad", &mut buf).unwrap_or_else(|e| panic!("{e}"));
            let mut bad = tag;
            bad[0] ^= 1;
            let mut copy = buf;
            assert_eq!(
                open(&key, &[1; 12], b"aad", &mut copy, &bad)
                    .err()
                    .map(|e| e.code()),
                Some("AUTHENTICATION_FAILED")
            );
            let mut copy = buf;
            assert!(open(&key, &[1; 12], b"aaD", &mut copy, &tag).is_err());
        }
        assert!(AesGcmKey::new(&[0; 20]).is_err());
    }
}
