//! ECDSA footer signatures over a streaming hash (digest §7). We sign with P-384 (suite 0x0578)
//! and verify P-384 and P-256 (legacy 0x0214; `p256` feature, not in the npm package).
//! Verification accepts high-S signatures: about half of the official signed vectors have them.

use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use sha2::{Digest, Sha256, Sha384};
use zeroize::Zeroizing;

use ecdsa::elliptic_curve::point::{AffineCoordinates, DecompactPoint, DecompressPoint};
use ecdsa::elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytes};
use subtle::Choice;

use super::{ecdsa_der, random};
use crate::b64;
use crate::error::{Error, Result};
use crate::suite::SignatureAlg;

/// A running hash over header ‖ body, fed as bytes stream past.
#[derive(Clone)]
pub enum SignatureHasher {
    /// For P-256.
    Sha256(Sha256),
    /// For P-384.
    Sha384(Sha384),
}

impl SignatureHasher {
    /// A fresh hasher for `alg`.
    pub fn new(alg: SignatureAlg) -> Self {
        match alg {
            SignatureAlg::EcdsaP256 => SignatureHasher::Sha256(Sha256::new()),
            SignatureAlg::EcdsaP384 => SignatureHasher::Sha384(Sha384::new()),
        }
    }

    /// Absorb bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            SignatureHasher::Sha256(h) => h.update(bytes),
            SignatureHasher::Sha384(h) => h.update(bytes),
        }
    }

    /// The digest so far.
    pub fn finalize(self) -> Vec<u8> {
        match self {
            SignatureHasher::Sha256(h) => h.finalize().to_vec(),
            SignatureHasher::Sha384(h) => h.finalize().to_vec(),
        }
    }
}

impl std::fmt::Debug for SignatureHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureHasher")
    }
}

/// An ephemeral P-384 signing key (one per message, or per cached data key when a data-key
/// cache reuses materials, as the ESDK caching CMM does). Zeroized on drop by `p384`.
#[derive(Clone)]
pub struct SigningKey(p384::ecdsa::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

impl SigningKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if the platform has no randomness.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 48]);
        // A random 384-bit string is a valid scalar with overwhelming probability; retry
        // the (≈2^-190) rest.
        for _ in 0..8 {
            random::fill(bytes.as_mut_slice())?;
            if let Ok(k) = p384::ecdsa::SigningKey::from_slice(bytes.as_slice()) {
                return Ok(SigningKey(k));
            }
        }
        Err(Error::invalid("could not generate a signing key"))
    }

    /// Build from 48 secret-scalar bytes (tests and frozen vectors).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if the bytes are not a valid P-384 scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        p384::ecdsa::SigningKey::from_slice(bytes)
            .map(SigningKey)
            .map_err(|_| Error::invalid("invalid P-384 signing key"))
    }

    /// The context value for `aws-crypto-public-key`: Base64 of the compressed point.
    pub fn public_key_base64(&self) -> String {
        b64::encode(&sec1_compressed(self.0.verifying_key().as_affine()))
    }

    /// Sign a finished SHA-384 digest; DER-encoded output (RFC 6979 deterministic nonces).
    ///
    /// Like the Python and Java ESDKs, the signature is made
    /// [`SignatureAlg::static_signature_len`] bytes long by using `n − s` instead of `s` when that gives the length (both are valid
    /// signatures): a one-shot encrypt can then size its result exactly up front. The rare
    /// (~1/128) signature that neither form brings to that length is returned as it is.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if signing fails (never for a SHA-384 digest).
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>> {
        let sig: p384::ecdsa::Signature = self
            .0
            .sign_prehash(digest)
            .map_err(|_| Error::invalid("ECDSA signing failed"))?;
        let want = SignatureAlg::EcdsaP384.static_signature_len();
        let mut rs = sig.to_bytes();
        let der = ecdsa_der::encode::<48>(&rs);
        if der.len() == want {
            return Ok(der);
        }
        let (_, s) = sig.split_scalars();
        let negated: p384::FieldBytes = (-*s).to_bytes();
        rs[48..].copy_from_slice(&negated);
        let flipped = ecdsa_der::encode::<48>(&rs);
        Ok(if flipped.len() == want { flipped } else { der })
    }
}

/// A verification key read from the encryption context.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    /// P-256.
    #[cfg(feature = "p256")]
    P256(p256::ecdsa::VerifyingKey),
    /// P-384.
    P384(p384::ecdsa::VerifyingKey),
}

impl VerifyingKey {
    /// Decode the Base64 compressed point stored under `aws-crypto-public-key`.
    ///
    /// # Errors
    /// `MALFORMED_MESSAGE` when it is not a valid point on the suite's curve.
    pub fn from_context_value(alg: SignatureAlg, value: &str) -> Result<Self> {
        let bytes = b64::decode(value)
            .map_err(|_| Error::malformed("signature public key is not Base64"))?;
        let bad = || Error::malformed("signature public key is not a valid curve point");
        Ok(match alg {
            #[cfg(feature = "p256")]
            SignatureAlg::EcdsaP256 => VerifyingKey::P256(
                sec1_point::<p256::NistP256>(&bytes)
                    .and_then(|p| p256::ecdsa::VerifyingKey::from_affine(p).ok())
                    .ok_or_else(bad)?,
            ),
            // Built without the `p256` feature (the npm package): 0x0214 is its only P-256 suite.
            #[cfg(not(feature = "p256"))]
            SignatureAlg::EcdsaP256 => return Err(Error::UnsupportedSuite(0x0214)),
            SignatureAlg::EcdsaP384 => VerifyingKey::P384(
                sec1_point::<p384::NistP384>(&bytes)
                    .and_then(|p| p384::ecdsa::VerifyingKey::from_affine(p).ok())
                    .ok_or_else(bad)?,
            ),
        })
    }

    /// Verify a DER signature (any length, high or low S) over a finished digest.
    ///
    /// # Errors
    /// `AUTHENTICATION_FAILED` (opaque) if the signature is unparsable or wrong.
    pub fn verify_digest(&self, digest: &[u8], der: &[u8]) -> Result<()> {
        let ok = match self {
            #[cfg(feature = "p256")]
            VerifyingKey::P256(k) => ecdsa_der::decode::<32>(der)
                .and_then(|rs| p256::ecdsa::Signature::from_slice(&rs).ok())
                .map(|s| k.verify_prehash(digest, &s).is_ok()),
            VerifyingKey::P384(k) => ecdsa_der::decode::<48>(der)
                .and_then(|rs| p384::ecdsa::Signature::from_slice(&rs).ok())
                .map(|s| k.verify_prehash(digest, &s).is_ok()),
        };
        if ok == Some(true) {
            Ok(())
        } else {
            Err(Error::AuthenticationFailed)
        }
    }
}

// SEC1 point octet strings (SEC 1 v2 §2.3.3–2.3.4) read and written here rather than through
// sec1's `EncodedPoint`: its `tag()` has an `expect` whose `Debug` impls link the `der` and
// `const-oid` error formatting into the wasm (−1.7 KB gzip). The curve arithmetic (on-curve
// check, square root) stays with the curve crates.

/// The compressed point `02|03 ‖ x` of a public key (never the identity: it comes from a
/// non-zero scalar).
fn sec1_compressed<A: AffineCoordinates>(p: &A) -> Vec<u8>
where
    A::FieldRepr: AsRef<[u8]>,
{
    let mut out = vec![2 | p.y_is_odd().unwrap_u8()];
    out.extend_from_slice(p.x().as_ref());
    out
}

/// The point of what `VerifyingKey::from_sec1_bytes` accepts: a compressed (`02`/`03`),
/// uncompressed (`04`) or compact (`05`) point of the exact length, on the curve
/// (`VerifyingKey::from_affine` then rejects the identity).
fn sec1_point<C: CurveArithmetic>(bytes: &[u8]) -> Option<AffinePoint<C>>
where
    AffinePoint<C>:
        DecompressPoint<C> + DecompactPoint<C> + AffineCoordinates<FieldRepr = FieldBytes<C>>,
{
    let (&tag, rest) = bytes.split_first()?;
    let n = FieldBytes::<C>::default().len();
    let field = |b: &[u8]| FieldBytes::<C>::try_from(b).ok();
    match tag {
        2 | 3 if rest.len() == n => {
            AffinePoint::<C>::decompress(&field(rest)?, Choice::from(tag & 1)).into()
        }
        4 if rest.len() == 2 * n => {
            let (x, y) = rest.split_at_checked(n)?;
            AffinePoint::<C>::from_coordinates(&field(x)?, &field(y)?).into()
        }
        5 if rest.len() == n => AffinePoint::<C>::decompact(&field(rest)?).into(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "p256"))]
    #[test]
    fn without_p256_its_suite_is_unsupported() {
        let r = VerifyingKey::from_context_value(SignatureAlg::EcdsaP256, "Aw==");
        assert_eq!(r.map(drop).map_err(|e| e.code()), Err("UNSUPPORTED_SUITE"));
    }

    #[test]
    fn sign_then_verify_and_high_s_is_accepted() {
        let sk = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let pk = sk.public_key_base64();
        assert_eq!(pk.len(), 68);
        let vk = VerifyingKey::from_context_value(SignatureAlg::EcdsaP384, &pk)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut h = SignatureHasher::new(SignatureAlg::EcdsaP384);
        h.update(b"header");
        h.update(b"body");
        let digest = h.finalize();
        let der = sk.sign_digest(&digest).unwrap_or_else(|e| panic!("{e}"));
        assert!(vk.verify_digest(&digest, &der).is_ok());

        // The same signature with s replaced by n - s must still verify.
        let sig = p384::ecdsa::Signature::from_der(&der).unwrap_or_else(|e| panic!("{e}"));
        let (r, s) = sig.split_scalars();
        let flipped =
            p384::ecdsa::Signature::from_scalars(r, -*s).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            vk.verify_digest(&digest, flipped.to_der().as_bytes())
                .is_ok()
        );

        let mut other = digest.clone();
        other[0] ^= 1;
        assert!(vk.verify_digest(&other, &der).is_err());
        assert!(vk.verify_digest(&digest, b"\x30\x00").is_err());
    }

    #[test]
    fn signatures_take_the_static_length_almost_always_and_still_verify() {
        let sk = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let vk = VerifyingKey::from_context_value(SignatureAlg::EcdsaP384, &sk.public_key_base64())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut static_len = 0;
        for i in 0u32..200 {
            let mut h = SignatureHasher::new(SignatureAlg::EcdsaP384);
            h.update(&i.to_be_bytes());
            let digest = h.finalize();
            let der = sk.sign_digest(&digest).unwrap_or_else(|e| panic!("{e}"));
            assert!(vk.verify_digest(&digest, &der).is_ok(), "digest {i}");
            static_len += usize::from(der.len() == SignatureAlg::EcdsaP384.static_signature_len());
        }
        // Without the n - s choice only ~half would be 103 bytes; with it all but ~1/128.
        assert!(static_len >= 190, "{static_len} of 200");
    }

    /// Encodings around a point (compressed and uncompressed, each tag, truncated, extended,
    /// x out of range or off the curve).
    fn sec1_cases(compressed: &[u8], uncompressed: &[u8]) -> Vec<Vec<u8>> {
        let mut cases = vec![Vec::new(), vec![0], vec![0xff; compressed.len()]];
        for base in [compressed, uncompressed] {
            for tag in 0..=6u8 {
                let mut c = base.to_vec();
                c[0] = tag;
                cases.push(c.clone());
                cases.push(c[..c.len() - 1].to_vec());
                c.push(0);
                cases.push(c);
            }
            for i in 1..base.len() {
                let mut c = base.to_vec();
                c[i] ^= 0x41;
                cases.push(c);
            }
        }
        cases
    }

    #[test]
    fn sec1_points_read_and_written_as_the_curve_crates_do() {
        for _ in 0..16 {
            let sk = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
            let vk = sk.0.verifying_key();
            let compressed = sec1_compressed(vk.as_affine());
            assert_eq!(compressed, vk.to_sec1_point(true).as_bytes());
            let uncompressed = vk.to_sec1_point(false).as_bytes().to_vec();
            for c in sec1_cases(&compressed, &uncompressed) {
                let ours = sec1_point::<p384::NistP384>(&c)
                    .and_then(|p| p384::ecdsa::VerifyingKey::from_affine(p).ok());
                let theirs = p384::ecdsa::VerifyingKey::from_sec1_bytes(&c).ok();
                assert_eq!(ours, theirs, "{c:02x?}");
            }
        }
    }

    #[cfg(feature = "p256")]
    #[test]
    fn sec1_p256_points_read_as_the_curve_crate_does() {
        for i in 1u8..=16 {
            let sk =
                p256::ecdsa::SigningKey::from_slice(&[i; 32]).unwrap_or_else(|e| panic!("{e}"));
            let vk = sk.verifying_key();
            let compressed = vk.to_sec1_point(true).as_bytes().to_vec();
            let uncompressed = vk.to_sec1_point(false).as_bytes().to_vec();
            for c in sec1_cases(&compressed, &uncompressed) {
                let ours = sec1_point::<p256::NistP256>(&c)
                    .and_then(|p| p256::ecdsa::VerifyingKey::from_affine(p).ok());
                let theirs = p256::ecdsa::VerifyingKey::from_sec1_bytes(&c).ok();
                assert_eq!(ours, theirs, "{c:02x?}");
            }
        }
    }

    #[test]
    fn garbage_public_key_is_malformed() {
        let e = VerifyingKey::from_context_value(SignatureAlg::EcdsaP384, "AAAA").err();
        assert_eq!(e.map(|e| e.code()), Some("MALFORMED_MESSAGE"));
    }
}
