//! The AWS Encryption SDK message format: pure parsing and serialization, no crypto, no I/O.
//!
//! Parsers take bytes and answer [`Progress::NeedMore`] or [`Progress::Done`], or fail with a
//! typed error as soon as the bytes cannot be valid.

pub mod body;
pub mod context;
pub mod header;
pub mod reader;

pub use context::EncryptionContext;
pub use header::{ContentType, EncryptedDataKey, HeaderBody, ParsedHeader, parse_header};

/// The answer of an incremental parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<T> {
    /// Parsed `value` from the first `consumed` bytes.
    Done {
        /// What was parsed.
        value: T,
        /// Bytes used.
        consumed: usize,
    },
    /// At least this many more bytes are needed.
    NeedMore(usize),
}

/// Default maximum number of encrypted data keys accepted or written.
pub const DEFAULT_MAX_ENCRYPTED_DATA_KEYS: usize = 16;
/// Default maximum header size (a header with a few KMS keys is ~1 KiB).
pub const DEFAULT_MAX_HEADER_SIZE: usize = 1 << 20;
/// Default maximum frame length accepted on decrypt: memory use is bounded by one frame.
pub const DEFAULT_MAX_FRAME_LENGTH: u32 = 1 << 26;
/// The largest frame length any ESDK decryptor accepts (Python, Java: 2^31 − 1).
pub const MAX_FRAME_LENGTH: u32 = i32::MAX as u32;
/// Default frame length written by kms-envelope.
pub const DEFAULT_FRAME_LENGTH: u32 = 64 * 1024;

/// Resource limits, enforced before any work they would drive is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most encrypted data keys a message may carry (checked while parsing, before keyrings).
    pub max_encrypted_data_keys: usize,
    /// Most header bytes.
    pub max_header_size: usize,
    /// Largest frame length (and largest non-framed body) accepted.
    pub max_frame_length: u32,
    /// Largest total plaintext accepted, if set.
    pub max_body_size: Option<u64>,
    /// Largest serialized encryption context accepted.
    pub max_context_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_encrypted_data_keys: DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
            max_body_size: None,
            max_context_size: context::MAX_SERIALIZED_LEN,
        }
    }
}
