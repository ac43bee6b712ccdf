//! Frame-key derivation and key commitment (digest §5; SPEC transitive-requirements.md).

use hkdf::Hkdf;
use sha2::{Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aead::AesGcmKey;
use super::data_key::DataKey;
use crate::error::{Error, Result};
use crate::suite::{AlgorithmSuite, Kdf};

const DERIVE_KEY_LABEL: &[u8] = b"DERIVEKEY";
const COMMIT_KEY_LABEL: &[u8] = b"COMMITKEY";

/// The per-message keys derived from the data key.
pub struct DerivedKeys {
    /// Frame and header-tag key.
    pub key: AesGcmKey,
    /// The same key's bytes, for drivers that run frame AES-GCM in WebCrypto (which needs a
    /// raw key to import). Zeroized on drop.
    pub key_bytes: Zeroizing<Vec<u8>>,
    /// v2 only: the commit key written to (or checked against) the header.
    pub commit_key: Option<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKeys([REDACTED])")
    }
}

impl DerivedKeys {
    /// Compare the derived commit key with the header's suite data in constant time
    /// (SPEC client-apis/decrypt.md: before the header tag or any frame is checked).
    ///
    /// # Errors
    /// `AUTHENTICATION_FAILED` (opaque) on mismatch.
    pub fn verify_commitment(&self, suite_data: &[u8]) -> Result<()> {
        match &self.commit_key {
            None => Ok(()),
            Some(ck) if bool::from(ck.as_slice().ct_eq(suite_data)) => Ok(()),
            Some(_) => Err(Error::AuthenticationFailed),
        }
    }
}

/// Derive the frame key (and the commit key for v2 suites) from the data key.
///
/// # Errors
/// `INVALID_ARGUMENT` if the data key has the wrong length for the suite.
pub fn derive_keys(
    suite: AlgorithmSuite,
    data_key: &DataKey,
    message_id: &[u8],
) -> Result<DerivedKeys> {
    data_key.check_len(suite.key_len())?;
    let pdk = data_key.expose_secret();
    let id = suite.id().to_be_bytes();
    let mut okm = Zeroizing::new(vec![0u8; suite.key_len()]);
    let bad = |_| Error::invalid("HKDF output length");
    let mut commit_key = None;
    match suite.kdf() {
        Kdf::Identity => okm.copy_from_slice(pdk),
        // Non-committing: no salt, info = suite id ‖ message id (digest §5.2).
        Kdf::HkdfSha256 => Hkdf::<Sha256>::new(None, pdk)
            .expand_multi_info(&[&id, message_id], &mut okm)
            .map_err(bad)?,
        Kdf::HkdfSha384 => Hkdf::<Sha384>::new(None, pdk)
            .expand_multi_info(&[&id, message_id], &mut okm)
            .map_err(bad)?,
        // Committing: salt = message id; key info = suite id ‖ "DERIVEKEY", commit info =
        // "COMMITKEY" without the suite id (digest §5.3).
        Kdf::HkdfSha512Commit => {
            let hk = Hkdf::<Sha512>::new(Some(message_id), pdk);
            hk.expand_multi_info(&[&id, DERIVE_KEY_LABEL], &mut okm)
                .map_err(bad)?;
            let mut ck = Zeroizing::new([0u8; 32]);
            hk.expand(COMMIT_KEY_LABEL, ck.as_mut_slice())
                .map_err(bad)?;
            commit_key = Some(ck);
        }
    }
    Ok(DerivedKeys {
        key: AesGcmKey::new(&okm)?,
        key_bytes: okm,
        commit_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap_or_default()
    }

    // Known answers from the official vectors (digest §5.4).
    #[test]
    fn committing_derivation_matches_official_vectors() {
        let cases = [
            (
                AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
                "9fbbab4e80c684fe0384ae56441f766728f2b411769ac698a08044176ca5e74f",
                "d8cbd6f31f0dc25fceba7a2781eca819bad543647a40c9708cd5fd39dbefe94b",
                "071b77c17000d1cedc1e418015bcda14421b927b1ef4f73c1159eee802313ac5",
            ),
            (
                AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
                "8344959ee77070eb1f01aee365fb76e03a99eff7f85c72cf33965dd041e72fbb",
                "5add5eb6c5dd0a74877bd9e41c663dc5dfc606302ba6bbe03d2169e2d4ed6fb9",
                "03b945b170be7e60f1395756a5483d06d92a4900b0374988e160660be514a15c",
            ),
        ];
        for (suite, mid, pdk, commit) in cases {
            let keys = derive_keys(suite, &DataKey::from_bytes(h(pdk)), &h(mid))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(keys.verify_commitment(&h(commit)).is_ok());
            let mut wrong = h(commit);
            wrong[31] ^= 1;
            assert_eq!(
                keys.verify_commitment(&wrong).err().map(|e| e.code()),
                Some("AUTHENTICATION_FAILED")
            );
        }
    }

    #[test]
    fn wrong_data_key_length_is_refused() {
        let err = derive_keys(
            AlgorithmSuite::DEFAULT,
            &DataKey::from_bytes(vec![0; 16]),
            &[0; 32],
        );
        assert_eq!(err.err().map(|e| e.code()), Some("INVALID_ARGUMENT"));
    }
}
