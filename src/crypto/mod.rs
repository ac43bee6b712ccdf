//! The only module that touches AES-GCM, HKDF and ECDSA ("hazmat").
//!
//! AES-GCM is not key-committing on its own; the v2 suites add a commit key derived next to the
//! frame key (digest §5.3), checked in constant time before any decryption. IVs inside a
//! message are deterministic (frame sequence numbers) and safe because every message derives a
//! fresh frame key from a random message id.

mod aead;
mod data_key;
mod ecdsa_der;
mod kdf;
pub mod random;
mod signature;

pub use aead::{AesGcmKey, open, seal};
pub use data_key::DataKey;
pub use kdf::{DerivedKeys, derive_keys};
pub use signature::{SignatureHasher, SigningKey, VerifyingKey};
