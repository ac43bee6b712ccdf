//! Algorithm suites and the commitment policy (ESDK `framework/algorithm-suites.md`,
//! `framework/commitment-policy.md`).

use crate::error::{Error, Result, quoted};

/// The KDF a suite uses to turn the data key into the frame key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// The data key is the frame key (legacy suites 0x00xx).
    Identity,
    /// HKDF-SHA256, info = suite id ‖ message id.
    HkdfSha256,
    /// HKDF-SHA384, info = suite id ‖ message id.
    HkdfSha384,
    /// HKDF-SHA512 with the message id as salt and key commitment (v2 suites).
    HkdfSha512Commit,
}

/// The signature a suite appends in the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlg {
    /// ECDSA over P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA over P-384 with SHA-384.
    EcdsaP384,
}

impl SignatureAlg {
    /// Bytes of the digest that is signed (SHA-256 / SHA-384).
    pub fn digest_len(self) -> usize {
        match self {
            SignatureAlg::EcdsaP256 => 32,
            SignatureAlg::EcdsaP384 => 48,
        }
    }

    /// The DER signature length the Python and Java ESDKs always write (digest §2.1), and we
    /// write for P-384 all but ~1/128 of the time. Decryptors never assume it; drivers use it to
    /// size results up front.
    pub fn static_signature_len(self) -> usize {
        match self {
            SignatureAlg::EcdsaP256 => 71,
            SignatureAlg::EcdsaP384 => 103,
        }
    }
}

/// One of the 11 ESDK algorithm suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmSuite {
    /// 0x0014
    Aes128GcmNoKdf,
    /// 0x0046
    Aes192GcmNoKdf,
    /// 0x0078
    Aes256GcmNoKdf,
    /// 0x0114
    Aes128GcmHkdfSha256,
    /// 0x0146
    Aes192GcmHkdfSha256,
    /// 0x0178
    Aes256GcmHkdfSha256,
    /// 0x0214
    Aes128GcmHkdfSha256EcdsaP256,
    /// 0x0346
    Aes192GcmHkdfSha384EcdsaP384,
    /// 0x0378
    Aes256GcmHkdfSha384EcdsaP384,
    /// 0x0478 `AES_256_GCM_HKDF_SHA512_COMMIT_KEY`
    Aes256GcmHkdfSha512CommitKey,
    /// 0x0578 `AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384`, the default.
    Aes256GcmHkdfSha512CommitKeyEcdsaP384,
}

use AlgorithmSuite as S;

impl AlgorithmSuite {
    /// Every suite, in id order.
    pub const ALL: [AlgorithmSuite; 11] = [
        S::Aes128GcmNoKdf,
        S::Aes192GcmNoKdf,
        S::Aes256GcmNoKdf,
        S::Aes128GcmHkdfSha256,
        S::Aes192GcmHkdfSha256,
        S::Aes256GcmHkdfSha256,
        S::Aes128GcmHkdfSha256EcdsaP256,
        S::Aes192GcmHkdfSha384EcdsaP384,
        S::Aes256GcmHkdfSha384EcdsaP384,
        S::Aes256GcmHkdfSha512CommitKey,
        S::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ];

    /// The default: 0x0578.
    pub const DEFAULT: AlgorithmSuite = S::Aes256GcmHkdfSha512CommitKeyEcdsaP384;

    /// The two-byte id.
    pub fn id(self) -> u16 {
        match self {
            S::Aes128GcmNoKdf => 0x0014,
            S::Aes192GcmNoKdf => 0x0046,
            S::Aes256GcmNoKdf => 0x0078,
            S::Aes128GcmHkdfSha256 => 0x0114,
            S::Aes192GcmHkdfSha256 => 0x0146,
            S::Aes256GcmHkdfSha256 => 0x0178,
            S::Aes128GcmHkdfSha256EcdsaP256 => 0x0214,
            S::Aes192GcmHkdfSha384EcdsaP384 => 0x0346,
            S::Aes256GcmHkdfSha384EcdsaP384 => 0x0378,
            S::Aes256GcmHkdfSha512CommitKey => 0x0478,
            S::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => 0x0578,
        }
    }

    /// Look a suite up by id. Ids of other products sharing the registry (S3EC, DBE) are
    /// refused.
    ///
    /// # Errors
    /// `UNSUPPORTED_SUITE` for any id that is not one of the 11 ESDK suites.
    pub fn from_id(id: u16) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or(Error::UnsupportedSuite(id))
    }

    /// The spec's name, e.g. `AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384`.
    pub fn name(self) -> &'static str {
        match self {
            S::Aes128GcmNoKdf => "AES_128_GCM_IV12_TAG16_NO_KDF",
            S::Aes192GcmNoKdf => "AES_192_GCM_IV12_TAG16_NO_KDF",
            S::Aes256GcmNoKdf => "AES_256_GCM_IV12_TAG16_NO_KDF",
            S::Aes128GcmHkdfSha256 => "AES_128_GCM_IV12_TAG16_HKDF_SHA256",
            S::Aes192GcmHkdfSha256 => "AES_192_GCM_IV12_TAG16_HKDF_SHA256",
            S::Aes256GcmHkdfSha256 => "AES_256_GCM_IV12_TAG16_HKDF_SHA256",
            S::Aes128GcmHkdfSha256EcdsaP256 => "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256",
            S::Aes192GcmHkdfSha384EcdsaP384 => "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
            S::Aes256GcmHkdfSha384EcdsaP384 => "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
            S::Aes256GcmHkdfSha512CommitKey => "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
            S::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => {
                "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
            }
        }
    }

    /// Parse a suite from its name, its hex id (`0578`, `0x0578`) or its decimal id.
    ///
    /// # Errors
    /// `UNSUPPORTED_SUITE` or `INVALID_ARGUMENT`.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if let Some(found) = Self::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(t))
        {
            return Ok(found);
        }
        let hex = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        if hex.len() == 4
            && let Ok(id) = u16::from_str_radix(hex, 16)
        {
            return Self::from_id(id);
        }
        match t.parse::<u16>() {
            Ok(id) => Self::from_id(id),
            Err(_) => Err(Error::invalid(format!(
                "unknown algorithm suite {}",
                quoted(s)
            ))),
        }
    }

    /// Message format version: 2 for committing suites, else 1.
    pub fn message_version(self) -> u8 {
        if self.is_committing() { 2 } else { 1 }
    }

    /// Whether the suite commits to its key (v2 format).
    pub fn is_committing(self) -> bool {
        matches!(self.kdf(), Kdf::HkdfSha512Commit)
    }

    /// AES key length in bytes, which is also the data key length.
    pub fn key_len(self) -> usize {
        match self {
            S::Aes128GcmNoKdf | S::Aes128GcmHkdfSha256 | S::Aes128GcmHkdfSha256EcdsaP256 => 16,
            S::Aes192GcmNoKdf | S::Aes192GcmHkdfSha256 | S::Aes192GcmHkdfSha384EcdsaP384 => 24,
            _ => 32,
        }
    }

    /// The suite's KDF.
    pub fn kdf(self) -> Kdf {
        match self {
            S::Aes128GcmNoKdf | S::Aes192GcmNoKdf | S::Aes256GcmNoKdf => Kdf::Identity,
            S::Aes128GcmHkdfSha256
            | S::Aes192GcmHkdfSha256
            | S::Aes256GcmHkdfSha256
            | S::Aes128GcmHkdfSha256EcdsaP256 => Kdf::HkdfSha256,
            S::Aes192GcmHkdfSha384EcdsaP384 | S::Aes256GcmHkdfSha384EcdsaP384 => Kdf::HkdfSha384,
            S::Aes256GcmHkdfSha512CommitKey | S::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => {
                Kdf::HkdfSha512Commit
            }
        }
    }

    /// The footer signature, if the suite signs.
    pub fn signature(self) -> Option<SignatureAlg> {
        match self {
            S::Aes128GcmHkdfSha256EcdsaP256 => Some(SignatureAlg::EcdsaP256),
            S::Aes192GcmHkdfSha384EcdsaP384
            | S::Aes256GcmHkdfSha384EcdsaP384
            | S::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => Some(SignatureAlg::EcdsaP384),
            _ => None,
        }
    }

    /// Message id length: 16 bytes for v1, 32 for v2.
    pub fn message_id_len(self) -> usize {
        if self.is_committing() { 32 } else { 16 }
    }

    /// Length of the header's suite data (the commit key): 32 for v2, 0 for v1.
    pub fn suite_data_len(self) -> usize {
        if self.is_committing() { 32 } else { 0 }
    }
}

impl std::fmt::Display for AlgorithmSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:04x})", self.name(), self.id())
    }
}

/// Which suites may be written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitmentPolicy {
    /// Encrypt and decrypt only committing suites. The default.
    #[default]
    RequireEncryptRequireDecrypt,
    /// Encrypt committing suites; decrypt anything (for migrations from ESDK 1.x).
    RequireEncryptAllowDecrypt,
    /// Encrypt non-committing suites; decrypt anything (legacy writers only).
    ForbidEncryptAllowDecrypt,
}

impl CommitmentPolicy {
    /// Parse the CLI spellings `require-require`, `require-allow`, `forbid-allow` or the spec
    /// names (`REQUIRE_ENCRYPT_REQUIRE_DECRYPT`, …).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "require-require" | "require-encrypt-require-decrypt" => {
                Ok(Self::RequireEncryptRequireDecrypt)
            }
            "require-allow" | "require-encrypt-allow-decrypt" => {
                Ok(Self::RequireEncryptAllowDecrypt)
            }
            "forbid-allow" | "forbid-encrypt-allow-decrypt" => Ok(Self::ForbidEncryptAllowDecrypt),
            _ => Err(Error::invalid(format!(
                "unknown commitment policy {}",
                quoted(s)
            ))),
        }
    }

    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            Self::RequireEncryptRequireDecrypt => "REQUIRE_ENCRYPT_REQUIRE_DECRYPT",
            Self::RequireEncryptAllowDecrypt => "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
            Self::ForbidEncryptAllowDecrypt => "FORBID_ENCRYPT_ALLOW_DECRYPT",
        }
    }

    /// Check a suite chosen for encryption (SPEC client-apis/encrypt.md).
    ///
    /// # Errors
    /// `COMMITMENT_POLICY` when the policy forbids the suite.
    pub fn check_encrypt(self, suite: AlgorithmSuite) -> Result<()> {
        let ok = match self {
            Self::RequireEncryptRequireDecrypt | Self::RequireEncryptAllowDecrypt => {
                suite.is_committing()
            }
            Self::ForbidEncryptAllowDecrypt => !suite.is_committing(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::CommitmentPolicy(format!(
                "{} may not encrypt with {suite}",
                self.name()
            )))
        }
    }

    /// Check a suite read from a header (SPEC client-apis/decrypt.md).
    ///
    /// # Errors
    /// `COMMITMENT_POLICY` when the policy forbids the suite.
    pub fn check_decrypt(self, suite: AlgorithmSuite) -> Result<()> {
        if self == Self::RequireEncryptRequireDecrypt && !suite.is_committing() {
            return Err(Error::CommitmentPolicy(format!(
                "{} refuses to decrypt the non-committing suite {suite}",
                self.name()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_foreign_ids_are_refused() {
        for s in AlgorithmSuite::ALL {
            assert_eq!(AlgorithmSuite::from_id(s.id()).ok(), Some(s));
            assert_eq!(AlgorithmSuite::parse(s.name()).ok(), Some(s));
            assert_eq!(
                AlgorithmSuite::parse(&format!("{:04x}", s.id())).ok(),
                Some(s)
            );
        }
        for foreign in [0x0000, 0x0070, 0x0074, 0x6700, 0x6701, 0x0578 + 1] {
            assert_eq!(
                AlgorithmSuite::from_id(foreign).map_err(|e| e.code()),
                Err("UNSUPPORTED_SUITE")
            );
        }
    }

    #[test]
    fn committing_is_exactly_the_v2_suites() {
        for s in AlgorithmSuite::ALL {
            assert_eq!(s.is_committing(), matches!(s.id() >> 8, 0x04 | 0x05));
            assert_eq!(s.message_version(), if s.is_committing() { 2 } else { 1 });
        }
    }

    #[test]
    fn policy_refuses_what_it_forbids() {
        use CommitmentPolicy as P;
        let legacy = AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384;
        assert!(
            P::RequireEncryptRequireDecrypt
                .check_decrypt(legacy)
                .is_err()
        );
        assert!(P::RequireEncryptAllowDecrypt.check_decrypt(legacy).is_ok());
        assert!(P::RequireEncryptAllowDecrypt.check_encrypt(legacy).is_err());
        assert!(
            P::ForbidEncryptAllowDecrypt
                .check_encrypt(AlgorithmSuite::DEFAULT)
                .is_err()
        );
        assert!(P::ForbidEncryptAllowDecrypt.check_encrypt(legacy).is_ok());
        assert_eq!(
            P::parse("forbid-allow").ok(),
            Some(P::ForbidEncryptAllowDecrypt)
        );
    }
}
