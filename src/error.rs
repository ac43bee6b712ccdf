//! One error type for the whole crate, with stable string codes.
//!
//! The codes are API: the CLI prints them and the JS bindings expose them as `error.code`.
//! Authentication failures are deliberately opaque (a bad tag, a bad commitment key and a bad
//! signature all read `AUTHENTICATION_FAILED`), so an attacker learns nothing from which check
//! failed.

use std::fmt;

/// Everything that can go wrong in kms-envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tag, the key commitment or the signature did not verify. Opaque on purpose.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The bytes are not a well-formed message.
    #[error("malformed message: {0}")]
    MalformedMessage(String),
    /// The input ended before the message did.
    #[error("message is truncated")]
    Truncated,
    /// The algorithm suite id is unknown or not allowed here.
    #[error("unsupported algorithm suite 0x{0:04x}")]
    UnsupportedSuite(u16),
    /// The suite is not allowed by the commitment policy.
    #[error("commitment policy violation: {0}")]
    CommitmentPolicy(String),
    /// The message's encryption context does not match what the caller required.
    #[error("encryption context mismatch: {0}")]
    ContextMismatch(String),
    /// No keyring could decrypt any of the message's encrypted data keys.
    #[error("no decryptable data key: {reason}{}", fmt_attempts(.attempts))]
    NoDecryptableKey {
        /// Why, in words.
        reason: String,
        /// The failures of the keyrings that tried (empty when none matched).
        attempts: Vec<Error>,
    },
    /// More encrypted data keys than the configured maximum.
    #[error("too many encrypted data keys: {count} > maximum {max}")]
    TooManyEncryptedDataKeys {
        /// Number found (or about to be written).
        count: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A configured limit (header size, frame length, body size, context size) was exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The caller passed something invalid (bad option, bad key length, reserved context key…).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A KMS call failed.
    #[error(transparent)]
    Kms(#[from] crate::kms::KmsError),
    /// The operation was cancelled by the caller.
    #[error("operation aborted")]
    Aborted,
    /// Reading or writing a file or stream failed (CLI and native tools only).
    #[error("i/o error: {0}")]
    Io(String),
}

fn fmt_attempts(attempts: &[Error]) -> String {
    if attempts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = attempts
        .iter()
        .map(|e| format!("{}: {}", e.code(), e))
        .collect();
    format!(" ({})", parts.join("; "))
}

impl Error {
    /// The stable code of this error (`AUTHENTICATION_FAILED`, `KMS_THROTTLED`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::AuthenticationFailed => "AUTHENTICATION_FAILED",
            Error::MalformedMessage(_) => "MALFORMED_MESSAGE",
            Error::Truncated => "TRUNCATED",
            Error::UnsupportedSuite(_) => "UNSUPPORTED_SUITE",
            Error::CommitmentPolicy(_) => "COMMITMENT_POLICY",
            Error::ContextMismatch(_) => "CONTEXT_MISMATCH",
            Error::NoDecryptableKey { .. } => "NO_DECRYPTABLE_KEY",
            Error::TooManyEncryptedDataKeys { .. } => "TOO_MANY_ENCRYPTED_DATA_KEYS",
            Error::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::Kms(e) => e.kind.code(),
            Error::Aborted => "ABORTED",
            Error::Io(_) => "IO_ERROR",
        }
    }

    /// Every code this crate can produce, for the JS type union and for tests.
    pub const ALL_CODES: &'static [&'static str] = &[
        "AUTHENTICATION_FAILED",
        "MALFORMED_MESSAGE",
        "TRUNCATED",
        "UNSUPPORTED_SUITE",
        "COMMITMENT_POLICY",
        "CONTEXT_MISMATCH",
        "NO_DECRYPTABLE_KEY",
        "TOO_MANY_ENCRYPTED_DATA_KEYS",
        "LIMIT_EXCEEDED",
        "INVALID_ARGUMENT",
        "ABORTED",
        "IO_ERROR",
        "KMS_ACCESS_DENIED",
        "KMS_INVALID_CIPHERTEXT",
        "KMS_INCORRECT_KEY",
        "KMS_KEY_UNAVAILABLE",
        "KMS_NOT_FOUND",
        "KMS_THROTTLED",
        "KMS_UNAVAILABLE",
        "KMS_VALIDATION",
        "KMS_MALFORMED_RESPONSE",
        "KMS_KEY_ID_MISMATCH",
        "KMS_NETWORK",
        "KMS_TIMEOUT",
        "KMS_ERROR",
    ];

    pub(crate) fn malformed(what: impl fmt::Display) -> Self {
        Error::MalformedMessage(what.to_string())
    }

    pub(crate) fn invalid(what: impl fmt::Display) -> Self {
        Error::InvalidArgument(what.to_string())
    }

    /// Combine the failures of several keyrings: when they all agree on one code the caller
    /// gets that error itself (e.g. `KMS_KEY_UNAVAILABLE` for a disabled key); otherwise
    /// `NO_DECRYPTABLE_KEY` listing each attempt.
    pub(crate) fn from_attempts(mut attempts: Vec<Error>) -> Self {
        if let Some(first) = attempts.first() {
            let code = first.code();
            if attempts.iter().all(|e| e.code() == code) && code != "NO_DECRYPTABLE_KEY" {
                return attempts.swap_remove(0);
            }
        }
        Error::NoDecryptableKey {
            reason: "every keyring failed".into(),
            attempts,
        }
    }
}

/// `s` in double quotes with `"`, `\\` and control characters escaped, as `{:?}` prints plain
/// text: messages quote input this way because `{:?}` of a `str` pulls Unicode printability
/// tables into the wasm (~2 KB gzip).
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                out.push_str("\\u{");
                let n = u32::from(c);
                let digits = (32 - n.leading_zeros()).div_ceil(4).max(1);
                for i in (0..digits).rev() {
                    out.push(char::from(
                        b"0123456789abcdef"[(n >> (4 * i) & 15) as usize],
                    ));
                }
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_is_debug_for_plain_text() {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "é€😀",
            "a\nb\r\t\0",
            "\u{1}\u{1f}\u{7f}\u{85}",
            "'",
        ] {
            assert_eq!(quoted(s), format!("{s:?}"), "{s:?}");
        }
    }

    #[test]
    fn every_code_is_listed_once() {
        let mut codes = Error::ALL_CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Error::ALL_CODES.len());
        assert!(codes.contains(&Error::AuthenticationFailed.code()));
        assert!(codes.contains(&Error::Io("x".into()).code()));
    }

    #[test]
    fn attempts_with_one_code_collapse_to_that_error() {
        let e = Error::from_attempts(vec![
            Error::AuthenticationFailed,
            Error::AuthenticationFailed,
        ]);
        assert_eq!(e.code(), "AUTHENTICATION_FAILED");
        let e = Error::from_attempts(vec![Error::AuthenticationFailed, Error::Truncated]);
        assert_eq!(e.code(), "NO_DECRYPTABLE_KEY");
        assert!(e.to_string().contains("TRUNCATED"));
    }
}
