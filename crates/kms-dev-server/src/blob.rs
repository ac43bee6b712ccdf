//! The ciphertext blob format and the encryption-context serialization it binds.
//!
//! Layout (all integers big-endian):
//! ```text
//! "KD" | format 0x01 | key UUID (16) | key version u32 | nonce (12) | ciphertext | GCM tag (16)
//! ```
//! The 23-byte header is authenticated: the GCM AAD is `header ‖ canonical(encryption context)`.
//! Clients must treat blobs as opaque (as with real KMS); only this server parses them.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::crypto::{self, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::error::KmsError;
use crate::ids::KeyUuid;

pub const MAGIC: [u8; 2] = *b"KD";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 2 + 1 + 16 + 4;
/// Bytes a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

pub type EncryptionContext = BTreeMap<String, String>;

/// Which key (and which of its versions) sealed a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: KeyUuid,
    pub key_version: u32,
}

impl BlobHeader {
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let fields = MAGIC
            .iter()
            .copied()
            .chain(std::iter::once(FORMAT_VERSION))
            .chain(self.key_id)
            .chain(self.key_version.to_be_bytes());
        for (dst, src) in h.iter_mut().zip(fields) {
            *dst = src;
        }
        h
    }

    /// Reads the header of a blob; anything that is not one of ours is `InvalidCiphertextException`.
    pub fn parse(blob: &[u8]) -> Result<Self, KmsError> {
        let bad = KmsError::invalid_ciphertext;
        if blob.len() < OVERHEAD {
            return Err(bad());
        }
        let (magic, rest) = blob.split_at_checked(2).ok_or_else(bad)?;
        let (version, rest) = rest.split_first().ok_or_else(bad)?;
        if magic != MAGIC || *version != FORMAT_VERSION {
            return Err(bad());
        }
        let (id, rest) = rest.split_at_checked(16).ok_or_else(bad)?;
        let (ver, _) = rest.split_at_checked(4).ok_or_else(bad)?;
        Ok(Self {
            key_id: id.try_into().map_err(|_| bad())?,
            key_version: u32::from_be_bytes(ver.try_into().map_err(|_| bad())?),
        })
    }
}

/// Serializes an encryption context so that distinct contexts never serialize alike: entries sorted
/// by key bytes, then `u32 count ‖ (u32 len ‖ key ‖ u32 len ‖ value)*`. Plain concatenation
/// (as moto does) would make `{"ab":"c"}` and `{"a":"bc"}` interchangeable.
/// An empty context and an omitted one are the same, as in KMS.
pub fn canonical_context(ec: &EncryptionContext) -> Vec<u8> {
    let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
    let mut out =
        Vec::with_capacity(4 + ec.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>());
    out.extend_from_slice(&len32(ec.len()));
    // BTreeMap<String, _> iterates in byte order of the keys, which is the canonical order.
    for (k, v) in ec {
        out.extend_from_slice(&len32(k.len()));
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&len32(v.len()));
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn aad(header: &[u8; HEADER_LEN], ec: &EncryptionContext) -> Vec<u8> {
    let mut a = header.to_vec();
    a.extend_from_slice(&canonical_context(ec));
    a
}

/// Encrypts `plaintext` under one key version, bound to `ec`.
pub fn seal(
    material: &[u8; KEY_LEN],
    header: BlobHeader,
    ec: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, crypto::CryptoError> {
    let h = header.to_bytes();
    let sealed = crypto::seal(material, &aad(&h, ec), plaintext)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + sealed.len());
    blob.extend_from_slice(&h);
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Decrypts a blob whose header was already parsed and whose key version was looked up.
pub fn open(
    material: &[u8; KEY_LEN],
    blob: &[u8],
    ec: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let header = BlobHeader::parse(blob)?;
    let sealed = blob
        .get(HEADER_LEN..)
        .ok_or_else(KmsError::invalid_ciphertext)?;
    crypto::open(material, &aad(&header.to_bytes(), ec), sealed)
        .map_err(|_| KmsError::invalid_ciphertext())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const HDR: BlobHeader = BlobHeader {
        key_id: [0xab; 16],
        key_version: 3,
    };

    #[test]
    fn blob_round_trips_and_carries_key_id_and_version() {
        let key = [9u8; 32];
        let c = ec(&[("purpose", "test"), ("file", "a.txt")]);
        let blob = seal(&key, HDR, &c, b"data key bytes").unwrap();
        assert_eq!(blob.len(), OVERHEAD + 14);
        assert_eq!(&blob[..3], b"KD\x01");
        assert_eq!(BlobHeader::parse(&blob).unwrap(), HDR);
        assert_eq!(&open(&key, &blob, &c).unwrap()[..], b"data key bytes");
    }

    #[test]
    fn any_flipped_bit_is_invalid_ciphertext() {
        let key = [9u8; 32];
        let blob = seal(&key, HDR, &EncryptionContext::new(), b"x").unwrap();
        for i in 0..blob.len() {
            for bit in [0x01, 0x80] {
                let mut t = blob.clone();
                t[i] ^= bit;
                let e = open(&key, &t, &EncryptionContext::new()).unwrap_err();
                assert_eq!(
                    e.kind,
                    ErrorKind::InvalidCiphertext,
                    "byte {i} bit {bit:#x}"
                );
            }
        }
        for n in [0, 1, HEADER_LEN, blob.len() - 1] {
            assert!(
                open(&key, &blob[..n], &EncryptionContext::new()).is_err(),
                "truncated to {n}"
            );
        }
    }

    #[test]
    fn header_change_is_detected_even_with_a_valid_key_version_swap() {
        // Rewriting the version field to point at another version must not verify.
        let key = [9u8; 32];
        let blob = seal(&key, HDR, &EncryptionContext::new(), b"x").unwrap();
        let mut t = blob.clone();
        t[HEADER_LEN - 1] = 4;
        assert_eq!(BlobHeader::parse(&t).unwrap().key_version, 4);
        assert!(open(&key, &t, &EncryptionContext::new()).is_err());
    }

    #[test]
    fn wrong_missing_or_extra_context_fails() {
        let key = [9u8; 32];
        let c = ec(&[("a", "1"), ("b", "2")]);
        let blob = seal(&key, HDR, &c, b"x").unwrap();
        for wrong in [
            ec(&[]),
            ec(&[("a", "1")]),
            ec(&[("a", "1"), ("b", "3")]),
            ec(&[("a", "1"), ("b", "2"), ("c", "")]),
        ] {
            assert!(open(&key, &blob, &wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn empty_and_omitted_context_are_the_same() {
        let key = [9u8; 32];
        let blob = seal(&key, HDR, &EncryptionContext::new(), b"x").unwrap();
        assert!(open(&key, &blob, &ec(&[])).is_ok());
    }

    #[test]
    fn context_serialization_is_unambiguous_where_concatenation_is_not() {
        let cases = [
            ec(&[("ab", "c")]),
            ec(&[("a", "bc")]),
            ec(&[("abc", "")]),
            ec(&[("", "abc")]),
            ec(&[("a", ""), ("b", "c")]),
            ec(&[("a", "b"), ("c", "")]),
            ec(&[]),
        ];
        for (i, x) in cases.iter().enumerate() {
            for (j, y) in cases.iter().enumerate() {
                assert_eq!(
                    i == j,
                    canonical_context(x) == canonical_context(y),
                    "{x:?} vs {y:?}"
                );
            }
        }
        let key = [9u8; 32];
        let blob = seal(&key, HDR, &ec(&[("ab", "c")]), b"x").unwrap();
        assert!(open(&key, &blob, &ec(&[("a", "bc")])).is_err());
    }

    #[test]
    fn context_serialization_ignores_insertion_order_and_sorts_by_bytes() {
        let mut a = EncryptionContext::new();
        a.insert("zeta".into(), "1".into());
        a.insert("Alpha".into(), "2".into());
        a.insert("é".into(), "3".into());
        let bytes = canonical_context(&a);
        assert_eq!(&bytes[..4], &[0, 0, 0, 3]);
        // "Alpha" (0x41) < "zeta" (0x7a) < "é" (0xc3 0xa9)
        assert_eq!(&bytes[4..13], b"\0\0\0\x05Alpha");
        assert!(bytes.ends_with(b"\0\0\0\x02\xc3\xa9\0\0\0\x013"));
    }

    #[test]
    fn foreign_blobs_are_invalid_ciphertext() {
        let moto_like = [0x01u8; 80];
        assert_eq!(
            BlobHeader::parse(&moto_like).unwrap_err().kind,
            ErrorKind::InvalidCiphertext
        );
        let mut other_format = seal(&[1; 32], HDR, &EncryptionContext::new(), b"x").unwrap();
        other_format[2] = 2;
        assert!(BlobHeader::parse(&other_format).is_err());
    }
}
