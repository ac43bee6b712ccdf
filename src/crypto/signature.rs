//! ECDSA footer signatures over a streaming hash (digest §7). We sign with P-384 (suite 0x0578)
//! and verify P-384 and P-256 (legacy 0x0214; `p256` feature, not in the npm package).
//! Verification accepts high-S signatures: about half of the official signed vectors have them.

use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use sha2::{Digest, Sha256, Sha384};
use zeroize::Zeroizing;

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
        let point = self.0.verifying_key().to_sec1_point(true);
        b64::encode(point.as_bytes())
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
        let bad = |_| Error::malformed("signature public key is not a valid curve point");
        Ok(match alg {
            #[cfg(feature = "p256")]
            SignatureAlg::EcdsaP256 => {
                VerifyingKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).map_err(bad)?)
            }
            // Built without the `p256` feature (the npm package): 0x0214 is its only P-256 suite.
            #[cfg(not(feature = "p256"))]
            SignatureAlg::EcdsaP256 => return Err(Error::UnsupportedSuite(0x0214)),
            SignatureAlg::EcdsaP384 => {
                VerifyingKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).map_err(bad)?)
            }
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

    #[test]
    fn garbage_public_key_is_malformed() {
        let e = VerifyingKey::from_context_value(SignatureAlg::EcdsaP384, "AAAA").err();
        assert_eq!(e.map(|e| e.code()), Some("MALFORMED_MESSAGE"));
    }
}
