//! Raw AES keyring: wraps the data key under a local AES-GCM key
//! (SPEC `framework/raw-aes-keyring.md`, digest §8.2).
//!
//! EDK layout: provider id = key namespace; provider info = key name ‖ u32 tag bits (128) ‖
//! u32 IV length (12) ‖ IV; ciphertext = wrapped key ‖ tag. The wrapping AAD is the canonical
//! serialization of the full encryption context (UTF-8 byte order — which is why a JS ESDK
//! reader needs `utf8Sorting: true`).

use crate::crypto::{self, AesGcmKey, DataKey};
use crate::error::{Error, Result};
use crate::format::EncryptedDataKey;
use crate::format::header::{IV_LEN, TAG_LEN};

use super::{DecryptionMaterials, EncryptionMaterials, Keyring, KeyringFuture};

const TAG_BITS: u32 = (TAG_LEN * 8) as u32;

/// A keyring holding one AES wrapping key (128, 192 or 256 bits).
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    key: AesGcmKey,
}

impl std::fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RawAesKeyring {
    /// A keyring for `namespace`/`name` with a 16-, 24- or 32-byte wrapping key.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for another key length, an empty namespace or name, or a namespace
    /// reserved for KMS keyrings (`aws-kms…`, SPEC keyring-interface.md).
    pub fn new(namespace: &str, name: &str, wrapping_key: &[u8]) -> Result<Self> {
        if namespace.is_empty() || name.is_empty() {
            return Err(Error::invalid(
                "raw AES keyring needs a key namespace and a key name",
            ));
        }
        if namespace.starts_with("aws-kms") {
            return Err(Error::invalid(
                "key namespaces starting with \"aws-kms\" are reserved for KMS keyrings",
            ));
        }
        if u16::try_from(namespace.len()).is_err() || name.len() > usize::from(u16::MAX) - 20 {
            return Err(Error::invalid("key namespace or name too long"));
        }
        if ![16, 24, 32].contains(&wrapping_key.len()) {
            return Err(Error::invalid(format!(
                "raw AES wrapping key must be 16, 24 or 32 bytes, got {}",
                wrapping_key.len()
            )));
        }
        Ok(RawAesKeyring {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key: AesGcmKey::new(wrapping_key)?,
        })
    }

    fn wrap(&self, materials: &mut EncryptionMaterials) -> Result<()> {
        if materials.data_key.is_none() {
            materials.data_key = Some(DataKey::generate(materials.suite.key_len())?);
        }
        let Some(data_key) = materials.data_key.as_ref() else {
            return Err(Error::invalid("no data key to wrap"));
        };
        let aad = materials.context.serialize()?;
        let mut iv = [0u8; IV_LEN];
        crypto::random::fill(&mut iv)?;
        let mut ciphertext = data_key.expose_secret().to_vec();
        let tag = crypto::seal(&self.key, &iv, &aad, &mut ciphertext)?;
        ciphertext.extend_from_slice(&tag);
        let mut info = Vec::with_capacity(self.name.len() + 8 + IV_LEN);
        info.extend_from_slice(self.name.as_bytes());
        info.extend_from_slice(&TAG_BITS.to_be_bytes());
        info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
        info.extend_from_slice(&iv);
        materials.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: info,
            ciphertext,
        });
        Ok(())
    }

    /// Whether an EDK was made by a keyring with this namespace and name: the provider info must
    /// be exactly name ‖ u32 128 ‖ u32 12 ‖ 12-byte IV (as Python's `RawMasterKey` requires), so
    /// key `k-1` never claims the EDKs of key `k-10`.
    fn is_mine(&self, edk: &EncryptedDataKey) -> bool {
        let name = self.name.as_bytes();
        let info = &edk.provider_info;
        edk.provider_id == self.namespace
            && info.len() == name.len() + 8 + IV_LEN
            && info.starts_with(name)
            && info[name.len()..name.len() + 4] == TAG_BITS.to_be_bytes()
            && info[name.len() + 4..name.len() + 8] == (IV_LEN as u32).to_be_bytes()
    }

    fn unwrap_one(
        &self,
        edk: &EncryptedDataKey,
        materials: &DecryptionMaterials,
        aad: &[u8],
    ) -> Result<DataKey> {
        let rest = &edk.provider_info[self.name.len()..];
        let [t0, t1, t2, t3, l0, l1, l2, l3, iv @ ..] = rest else {
            return Err(Error::malformed("raw AES provider info too short"));
        };
        let tag_bits = u32::from_be_bytes([*t0, *t1, *t2, *t3]);
        let iv_len = u32::from_be_bytes([*l0, *l1, *l2, *l3]);
        if tag_bits != TAG_BITS || iv_len as usize != IV_LEN || iv.len() != IV_LEN {
            return Err(Error::malformed(
                "raw AES provider info has an unexpected layout",
            ));
        }
        let key_len = materials.suite.key_len();
        if edk.ciphertext.len() != key_len + TAG_LEN {
            return Err(Error::malformed("raw AES wrapped key has the wrong length"));
        }
        let mut iv_arr = [0u8; IV_LEN];
        iv_arr.copy_from_slice(iv);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&edk.ciphertext[key_len..]);
        let mut key = edk.ciphertext[..key_len].to_vec();
        crypto::open(&self.key, &iv_arr, aad, &mut key, &tag).map_err(|_| {
            Error::NoDecryptableKey {
                reason: format!(
                    "raw AES keyring {}/{} could not unwrap the data key (wrong wrapping key, \
                     wrong encryption context or a tampered key)",
                    self.namespace, self.name
                ),
                attempts: Vec::new(),
            }
        })?;
        Ok(DataKey::from_bytes(key))
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            self.wrap(&mut materials)?;
            Ok(materials)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        Box::pin(async move {
            let aad = match materials.context.serialize() {
                Ok(a) => a,
                Err(e) => return Some(Err(e)),
            };
            let mut attempts = Vec::new();
            for edk in edks.iter().filter(|e| self.is_mine(e)) {
                match self.unwrap_one(edk, materials, &aad) {
                    Ok(k) => return Some(Ok(k)),
                    Err(e) => attempts.push(e),
                }
            }
            match attempts.len() {
                0 => None,
                1 => attempts.pop().map(Err),
                _ => Some(Err(Error::from_attempts(attempts))),
            }
        })
    }
}
