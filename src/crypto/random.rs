//! The platform CSPRNG (`getrandom`; `crypto.getRandomValues` on wasm32).

use crate::error::{Error, Result};

/// Fill `buf` with random bytes.
///
/// # Errors
/// `INVALID_ARGUMENT` if the platform offers no randomness (never on supported targets).
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::invalid(format!("no randomness source: {e}")))
}
