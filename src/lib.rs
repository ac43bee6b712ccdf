#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod b64;
pub mod cache;
pub mod client;
pub mod crypto;
pub mod error;
pub mod format;
pub mod keyring;
pub mod kms;
mod sort;
pub mod stream;
pub mod suite;
#[cfg(all(target_arch = "wasm32", feature = "wasm"))]
mod wasm;

pub use client::{Client, Decrypted, EncryptOptions};
pub use error::{Error, Result};
pub use format::{EncryptedDataKey, EncryptionContext, Limits};
pub use suite::{AlgorithmSuite, CommitmentPolicy};
