//! The plaintext data key: zeroized on drop, never printed.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// A plaintext data key (16, 24 or 32 bytes). Zeroized when dropped; `Debug` shows only its
/// length.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DataKey(Vec<u8>);

impl DataKey {
    /// Wrap key bytes. The caller's buffer moves in, so no unzeroized copy is left behind.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        DataKey(bytes)
    }

    /// A fresh random key of `len` bytes from the platform CSPRNG.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if the platform has no randomness source.
    pub fn generate(len: usize) -> Result<Self> {
        let mut bytes = vec![0u8; len];
        super::random::fill(&mut bytes)?;
        Ok(DataKey(bytes))
    }

    /// The key bytes. Only for keyrings, which must wrap them.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Key length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty (never true for a usable key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn check_len(&self, expected: usize) -> Result<()> {
        if self.0.len() == expected {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "data key is {} bytes; the suite needs {expected}",
                self.0.len()
            )))
        }
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey([REDACTED; {} bytes])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_key_bytes() {
        let k = DataKey::from_bytes(vec![0xAB; 32]);
        let s = format!("{k:?}");
        assert!(!s.to_lowercase().contains("ab"), "{s}");
        assert!(s.contains("32 bytes"));
    }
}
