//! Talking to a KMS-compatible endpoint (AWS KMS JSON 1.1 API).

mod error;

pub use error::{KmsError, KmsErrorKind};
