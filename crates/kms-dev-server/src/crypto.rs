//! AES-256-GCM with random 96-bit nonces, laid out as `nonce ‖ ciphertext ‖ tag`.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use zeroize::Zeroizing;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// Why a seal or open failed. Deliberately without detail: a failed open says nothing about which
/// byte was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    Random,
    Seal,
    Open,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Random => "the OS random number generator failed",
            Self::Seal => "AES-GCM encryption failed",
            Self::Open => "AES-GCM authentication failed",
        })
    }
}

impl std::error::Error for CryptoError {}

/// N bytes from the OS CSPRNG.
pub fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| CryptoError::Random)?;
    Ok(b)
}

/// A fresh 256-bit key.
pub fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(k.as_mut_slice()).map_err(|_| CryptoError::Random)?;
    Ok(k)
}

/// Encrypts `plaintext` bound to `aad`; returns `nonce ‖ ciphertext ‖ tag`.
pub fn seal(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Seal)?;
    let nonce_bytes: [u8; NONCE_LEN] = random()?;
    let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Inverse of [`seal`]; fails on any change to the sealed bytes or the `aad`.
pub fn open(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (nonce_bytes, ct) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or(CryptoError::Open)?;
    if ct.len() < TAG_LEN {
        return Err(CryptoError::Open);
    }
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce_bytes).map_err(|_| CryptoError::Open)?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Open)?;
    cipher
        .decrypt(&nonce, Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
}

/// Constant-time equality for secrets (bearer tokens, session tokens).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_every_byte_is_authenticated() {
        let key = [7u8; KEY_LEN];
        let sealed = seal(&key, b"aad", b"secret").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 6 + TAG_LEN);
        assert_eq!(&open(&key, b"aad", &sealed).unwrap()[..], b"secret");
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert_eq!(open(&key, b"aad", &t), Err(CryptoError::Open), "byte {i}");
        }
        assert_eq!(open(&key, b"aaD", &sealed), Err(CryptoError::Open));
        assert_eq!(
            open(&[8u8; KEY_LEN], b"aad", &sealed),
            Err(CryptoError::Open)
        );
        assert_eq!(
            open(&key, b"aad", &sealed[..NONCE_LEN + TAG_LEN - 1]),
            Err(CryptoError::Open)
        );
        assert_eq!(open(&key, b"aad", &[]), Err(CryptoError::Open));
    }

    #[test]
    fn nonces_differ_between_seals() {
        let key = [1u8; KEY_LEN];
        assert_ne!(
            seal(&key, b"", b"x").unwrap(),
            seal(&key, b"", b"x").unwrap()
        );
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
