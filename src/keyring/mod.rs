//! Keyrings wrap and unwrap the data key (SPEC `framework/keyring-interface.md`).
//!
//! Decrypt uses a tri-state answer, as in `age`: `None` means "none of these encrypted data
//! keys are mine", `Some(Err(_))` means "one was mine but unwrapping it failed", and
//! `Some(Ok(key))` is success. Keyrings are async because KMS keyrings call the network; the
//! futures are not `Send` so browser (JS) transports can be used.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use crate::crypto::DataKey;
use crate::error::Result;
use crate::format::{EncryptedDataKey, EncryptionContext};
use crate::suite::AlgorithmSuite;

mod kms;
mod multi;
mod raw_aes;

pub use kms::{DiscoveryFilter, KmsKeyring};
pub use multi::MultiKeyring;
pub use raw_aes::RawAesKeyring;

/// A boxed, non-`Send` future returned by keyrings.
pub type KeyringFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What encrypt hands each keyring (SPEC `framework/structures.md#encryption-materials`).
#[derive(Debug)]
pub struct EncryptionMaterials {
    /// The suite being written.
    pub suite: AlgorithmSuite,
    /// The full context: caller pairs, required pairs and `aws-crypto-public-key`.
    pub context: EncryptionContext,
    /// Keys of `context` that are authenticated but not stored in the header.
    pub required_keys: BTreeSet<String>,
    /// The plaintext data key, once the generator made it.
    pub data_key: Option<DataKey>,
    /// Wrapped copies of the data key, one per keyring.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
}

/// What decrypt hands each keyring.
#[derive(Debug, Clone)]
pub struct DecryptionMaterials {
    /// The message's suite.
    pub suite: AlgorithmSuite,
    /// Header context plus reproduced pairs the header did not store.
    pub context: EncryptionContext,
}

/// Wraps and unwraps data keys.
pub trait Keyring {
    /// Add an encrypted data key to `materials`; when `data_key` is `None`, this keyring is the
    /// generator and must create it first.
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>>;

    /// Try to unwrap one of `edks`. `None`: none is for this keyring.
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>>;
}
