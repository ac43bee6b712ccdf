//! Multi-keyring: a generator plus children (SPEC `framework/multi-keyring.md`, digest §8.4).

use std::sync::Arc;

use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::format::EncryptedDataKey;

use super::{DecryptionMaterials, EncryptionMaterials, Keyring, KeyringFuture};

/// Encrypt: the generator makes the data key, then every child wraps it too (any failure fails
/// the whole). Decrypt: try the generator, then each child, until one succeeds.
pub struct MultiKeyring {
    generator: Option<Arc<dyn Keyring>>,
    children: Vec<Arc<dyn Keyring>>,
}

impl std::fmt::Debug for MultiKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiKeyring")
            .field("has_generator", &self.generator.is_some())
            .field("children", &self.children.len())
            .finish()
    }
}

impl MultiKeyring {
    /// A multi-keyring.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when there is neither a generator nor a child.
    pub fn new(
        generator: Option<Arc<dyn Keyring>>,
        children: Vec<Arc<dyn Keyring>>,
    ) -> Result<Self> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::invalid(
                "a multi-keyring needs a generator or children",
            ));
        }
        Ok(MultiKeyring {
            generator,
            children,
        })
    }

    fn all(&self) -> impl Iterator<Item = &Arc<dyn Keyring>> {
        self.generator.iter().chain(self.children.iter())
    }
}

impl Keyring for MultiKeyring {
    fn on_encrypt<'a>(
        &'a self,
        mut materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            if let Some(generator) = &self.generator {
                if materials.data_key.is_some() {
                    return Err(Error::invalid(
                        "multi-keyring generator called with a data key already present",
                    ));
                }
                materials = generator.on_encrypt(materials).await?;
            }
            if materials.data_key.is_none() {
                return Err(Error::invalid(
                    "multi-keyring without a generator needs an existing data key",
                ));
            }
            for child in &self.children {
                materials = child.on_encrypt(materials).await?;
            }
            Ok(materials)
        })
    }

    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        Box::pin(async move {
            let mut attempts = Vec::new();
            for keyring in self.all() {
                match keyring.on_decrypt(materials, edks).await {
                    Some(Ok(key)) => return Some(Ok(key)),
                    // Cancellation is the caller's decision, not a keyring failure.
                    Some(Err(Error::Aborted)) => return Some(Err(Error::Aborted)),
                    Some(Err(e)) => attempts.push(e),
                    None => {}
                }
            }
            if attempts.is_empty() {
                None
            } else {
                Some(Err(Error::from_attempts(attempts)))
            }
        })
    }
}
