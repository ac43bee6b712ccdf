#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod crypto;
pub mod error;
pub mod format;
pub mod keyring;
pub mod kms;
pub mod suite;

pub use error::{Error, Result};
pub use format::{EncryptedDataKey, EncryptionContext, Limits};
pub use suite::{AlgorithmSuite, CommitmentPolicy};
