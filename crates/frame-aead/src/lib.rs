//! AES-256-GCM with a 12-byte IV and a detached 16-byte tag: kms-envelope's frame cipher.
//!
//! Why a crate of its own: `aes-gcm` and `aes` are generic all the way down (`AesGcm<C, N>`, the
//! fixsliced rounds over `W: Word`), so their code is monomorphized, optimized and inlined in
//! the crate that names the concrete types. Named in kms-envelope, whose wasm package is built
//! at opt-level "z", the AES-GCM loops were built for size whatever
//! `[profile.release.package.aes]` says (pure-Rust backend at ~0.5–0.65× the raw crate in wasm).
//! Named here, behind the non-generic functions below, they are built with this crate's profile
//! (`[profile.release.package.frame-aead]`, opt-level 3) and for AES-256 alone, as the raw
//! crate is: the same speed.

#![no_std]

use aes_gcm::aead::array::Array;
use aes_gcm::aead::{AeadInOut, KeyInit};

/// An AES-256-GCM key schedule (zeroized on drop by `aes-gcm`).
#[derive(Clone)]
pub struct Aes256Gcm(aes_gcm::Aes256Gcm);

impl core::fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Aes256Gcm([REDACTED])")
    }
}

/// The plaintext is longer than GCM allows (2^36 − 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// The tag did not verify; the buffer holds no plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthentic;

// `inline(never)`: the boundary stays here, so these bodies keep this crate's optimization
// whatever the caller is built for.
impl Aes256Gcm {
    /// The key schedule of a 32-byte key.
    #[inline(never)]
    pub fn new(key: &[u8; 32]) -> Self {
        Self(aes_gcm::Aes256Gcm::new(&Array::from(*key)))
    }

    /// Encrypt `buf` in place; returns the tag.
    ///
    /// # Errors
    /// [`TooLong`] past GCM's plaintext limit (`buf` is then untouched).
    #[inline(never)]
    pub fn seal(&self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16], TooLong> {
        let tag = self
            .0
            .encrypt_inout_detached(&Array::from(*iv), aad, buf.into())
            .map_err(|_| TooLong)?;
        Ok(tag.into())
    }

    /// Check `tag`, then decrypt `buf` in place.
    ///
    /// # Errors
    /// [`Unauthentic`] when the tag does not verify (`buf` is then untouched).
    #[inline(never)]
    pub fn open(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Unauthentic> {
        self.0
            .decrypt_inout_detached(&Array::from(*iv), aad, buf.into(), &Array::from(*tag))
            .map_err(|_| Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::array::Array;

    // NIST GCM test case 14 (AES-256, zero key, zero IV, 16 zero bytes).
    #[test]
    fn nist_gcm_case_14() {
        let key = Aes256Gcm::new(&[0; 32]);
        let mut buf = [0u8; 16];
        let tag = key.seal(&[0; 12], &[], &mut buf);
        let ct = [
            0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3,
            0x9d, 0x18,
        ];
        let want = [
            0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a,
            0xb9, 0x19,
        ];
        assert_eq!((buf, tag), (ct, Ok(want)));
        assert_eq!(key.open(&[0; 12], &[], &mut buf, &want), Ok(()));
        assert_eq!(buf, [0; 16]);
    }

    // Byte for byte what the generic `aes-gcm` API gives, across lengths that hit every
    // block/batch boundary; a flipped tag, AAD or ciphertext bit fails and leaves `buf` as is.
    #[test]
    fn same_as_generic_api_and_tamper_fails() {
        let raw = [0x42u8; 32];
        let key = Aes256Gcm::new(&raw);
        let reference = aes_gcm::Aes256Gcm::new(&Array::from(raw));
        let mut data = [0u8; 300];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 300] {
            let iv = [len as u8; 12];
            let aad = &data[..len % 61];
            let mut ours = data;
            let tag = key.seal(&iv, aad, &mut ours[..len]);
            let mut theirs = data;
            let want = reference
                .encrypt_inout_detached(&Array::from(iv), aad, (&mut theirs[..len]).into())
                .map(<[u8; 16]>::from)
                .map_err(|_| TooLong);
            assert_eq!((ours, tag), (theirs, want), "len {len}");
            let Ok(tag) = tag else {
                panic!("seal failed at {len}")
            };

            let mut bad = tag;
            bad[15] ^= 1;
            let mut copy = ours;
            assert_eq!(key.open(&iv, aad, &mut copy[..len], &bad), Err(Unauthentic));
            assert_eq!(copy, ours);
            assert_eq!(
                key.open(&iv, b"other aad", &mut copy[..len], &tag),
                Err(Unauthentic)
            );
            if len > 0 {
                copy[len - 1] ^= 0x80;
                assert_eq!(key.open(&iv, aad, &mut copy[..len], &tag), Err(Unauthentic));
                copy[len - 1] ^= 0x80;
            }
            assert_eq!(key.open(&iv, aad, &mut copy[..len], &tag), Ok(()));
            assert_eq!(copy, data);
        }
    }
}
