//! Encryption context: non-secret key/value pairs bound to the message
//! (SPEC `framework/structures.md#serialization`, digest §3).

use std::collections::BTreeMap;

use crate::error::{Error, Result, quoted};
use crate::format::reader::Reader;

/// The key under which signing suites store their public verification key.
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";
/// Prefix reserved for the SDK; callers may not use it on encrypt (SPEC encrypt.md).
pub const RESERVED_PREFIX: &str = "aws-crypto-";
/// The serialized context must fit the header's u16 AAD length.
pub const MAX_SERIALIZED_LEN: usize = u16::MAX as usize;

/// A map of UTF-8 keys to UTF-8 values, always iterated in UTF-8 byte order (the order the
/// format serializes in: `String`'s `Ord` is bytewise).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl std::fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert a pair, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// Remove a pair.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Look a key up.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Pairs in serialization order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Refuse keys a caller may not set on encrypt: the reserved `aws-crypto-` prefix
    /// (SPEC client-apis/encrypt.md) and anything that would not serialize.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` naming the offending key.
    pub fn validate_caller(&self) -> Result<()> {
        if let Some(k) = self.0.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
            return Err(Error::invalid(format!(
                "encryption context key {} uses the reserved prefix \"{RESERVED_PREFIX}\"",
                quoted(k)
            )));
        }
        self.serialized_len().map(|_| ())
    }

    /// Length of [`serialize`](Self::serialize) without building it.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when a key or value exceeds 65535 bytes or the whole exceeds the u16
    /// AAD length.
    pub fn serialized_len(&self) -> Result<usize> {
        if self.0.is_empty() {
            return Ok(0);
        }
        if self.0.len() > usize::from(u16::MAX) {
            return Err(Error::invalid(
                "encryption context has more than 65535 pairs",
            ));
        }
        let mut total = 2usize;
        for (k, v) in &self.0 {
            if k.len() > MAX_SERIALIZED_LEN || v.len() > MAX_SERIALIZED_LEN {
                return Err(Error::invalid(format!(
                    "encryption context pair {} is longer than 65535 bytes",
                    quoted(k)
                )));
            }
            total += 4 + k.len() + v.len();
        }
        if total > MAX_SERIALIZED_LEN {
            return Err(Error::invalid(format!(
                "encryption context serializes to {total} bytes; the format allows 65535"
            )));
        }
        Ok(total)
    }

    /// Canonical serialization: empty → zero bytes; otherwise `u16 count` then
    /// `u16 klen ‖ key ‖ u16 vlen ‖ value` in UTF-8 byte order of the keys.
    ///
    /// # Errors
    /// As [`serialized_len`](Self::serialized_len).
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let len = self.serialized_len()?;
        let mut out = Vec::with_capacity(len);
        if self.0.is_empty() {
            return Ok(out);
        }
        // Lengths were bounded by serialized_len, so these casts cannot truncate.
        out.extend_from_slice(&(self.0.len() as u16).to_be_bytes());
        for (k, v) in &self.0 {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        Ok(out)
    }

    /// Parse the AAD section of a header (the bytes after the u16 AAD length). Accepts the empty
    /// form (no bytes) and the legacy empty form `00 00` (digest §3); otherwise the pair count
    /// must be > 0, keys unique, everything UTF-8, and the pairs must use every byte.
    ///
    /// # Errors
    /// `MALFORMED_MESSAGE` describing the defect.
    pub fn parse(aad: &[u8]) -> Result<Self> {
        let mut map = BTreeMap::new();
        if aad.is_empty() {
            return Ok(Self(map));
        }
        let mut r = Reader::new(aad);
        let count = r
            .u16()
            .map_err(|_| Error::malformed("encryption context too short"))?;
        if count == 0 {
            if r.remaining() == 0 {
                return Ok(Self(map)); // legacy empty encoding 00 02 00 00
            }
            return Err(Error::malformed(
                "encryption context has 0 pairs but more bytes",
            ));
        }
        for _ in 0..count {
            let key = read_str(&mut r)?;
            let value = read_str(&mut r)?;
            if map.insert(key, value).is_some() {
                return Err(Error::malformed("duplicate encryption context key"));
            }
        }
        if r.remaining() != 0 {
            return Err(Error::malformed(
                "encryption context length does not match its pairs",
            ));
        }
        Ok(Self(map))
    }
}

fn read_str(r: &mut Reader<'_>) -> Result<String> {
    let bytes = r
        .u16_prefixed()
        .map_err(|_| Error::malformed("encryption context pair overruns its length"))?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::malformed("encryption context is not valid UTF-8"))
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_utf8_byte_order_not_locale_order() {
        let ec: EncryptionContext = [("a", "1"), ("B", "2"), ("_x", "3"), ("Z", "4"), ("é", "5")]
            .into_iter()
            .collect();
        let keys: Vec<&str> = ec.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["B", "Z", "_x", "a", "é"]);
        let bytes = ec.serialize().unwrap_or_default();
        assert_eq!(&bytes[..5], &[0, 5, 0, 1, b'B']);
        assert_eq!(EncryptionContext::parse(&bytes).ok(), Some(ec));
    }

    #[test]
    fn empty_and_legacy_empty_parse_to_empty() {
        assert!(
            EncryptionContext::parse(&[])
                .map(|c| c.is_empty())
                .unwrap_or(false)
        );
        assert!(
            EncryptionContext::parse(&[0, 0])
                .map(|c| c.is_empty())
                .unwrap_or(false)
        );
        assert_eq!(EncryptionContext::new().serialize().ok(), Some(vec![]));
    }

    #[test]
    fn duplicate_key_is_malformed() {
        let bytes = [0, 2, 0, 1, b'a', 0, 1, b'x', 0, 1, b'a', 0, 1, b'y'];
        let err = EncryptionContext::parse(&bytes).err().map(|e| e.code());
        assert_eq!(err, Some("MALFORMED_MESSAGE"));
    }

    #[test]
    fn invalid_utf8_and_trailing_bytes_are_malformed() {
        let bad_utf8 = [0, 1, 0, 1, 0xff, 0, 0];
        assert!(EncryptionContext::parse(&bad_utf8).is_err());
        let trailing = [0, 1, 0, 1, b'a', 0, 0, 9];
        assert!(EncryptionContext::parse(&trailing).is_err());
        let overrun = [0, 1, 0, 9, b'a'];
        assert!(EncryptionContext::parse(&overrun).is_err());
    }

    #[test]
    fn reserved_prefix_is_refused_from_callers() {
        let ec: EncryptionContext = [("aws-crypto-anything", "v")].into_iter().collect();
        assert_eq!(
            ec.validate_caller().err().map(|e| e.code()),
            Some("INVALID_ARGUMENT")
        );
    }

    #[test]
    fn oversized_context_is_refused() {
        let ec: EncryptionContext = [("k", "v".repeat(65_535))].into_iter().collect();
        assert!(ec.serialize().is_err());
    }
}
