//! Typed KMS failures. The kind decides the stable code and whether a retry may help.

/// What kind of KMS failure this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KmsErrorKind {
    /// `AccessDeniedException`, bad credentials or a signature KMS refused.
    AccessDenied,
    /// `InvalidCiphertextException`: the blob or its encryption context does not match.
    InvalidCiphertext,
    /// `IncorrectKeyException`: the blob was made under another key.
    IncorrectKey,
    /// `DisabledException` or `KMSInvalidStateException` (pending deletion).
    KeyUnavailable,
    /// `NotFoundException`.
    NotFound,
    /// `ThrottlingException` / `LimitExceededException` / HTTP 429.
    Throttled,
    /// `KMSInternalException`, `DependencyTimeoutException`, HTTP 5xx.
    Unavailable,
    /// `ValidationException` and other client errors that a retry cannot fix.
    Validation,
    /// The response was not the JSON KMS sends (wrong content, missing field, bad base64).
    MalformedResponse,
    /// KMS answered for a key other than the one asked for.
    KeyIdMismatch,
    /// The request never got an HTTP answer (connection refused, reset, DNS, CORS).
    Network,
    /// No answer within the per-request timeout.
    Timeout,
    /// Any other KMS error type.
    Other,
    /// The caller cancelled the call (abort signal). Maps to the crate's `ABORTED`.
    Aborted,
}

impl KmsErrorKind {
    /// The stable code (`KMS_…`).
    pub fn code(self) -> &'static str {
        match self {
            KmsErrorKind::AccessDenied => "KMS_ACCESS_DENIED",
            KmsErrorKind::InvalidCiphertext => "KMS_INVALID_CIPHERTEXT",
            KmsErrorKind::IncorrectKey => "KMS_INCORRECT_KEY",
            KmsErrorKind::KeyUnavailable => "KMS_KEY_UNAVAILABLE",
            KmsErrorKind::NotFound => "KMS_NOT_FOUND",
            KmsErrorKind::Throttled => "KMS_THROTTLED",
            KmsErrorKind::Unavailable => "KMS_UNAVAILABLE",
            KmsErrorKind::Validation => "KMS_VALIDATION",
            KmsErrorKind::MalformedResponse => "KMS_MALFORMED_RESPONSE",
            KmsErrorKind::KeyIdMismatch => "KMS_KEY_ID_MISMATCH",
            KmsErrorKind::Network => "KMS_NETWORK",
            KmsErrorKind::Timeout => "KMS_TIMEOUT",
            KmsErrorKind::Other => "KMS_ERROR",
            KmsErrorKind::Aborted => "ABORTED",
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            KmsErrorKind::Throttled
                | KmsErrorKind::Unavailable
                | KmsErrorKind::Network
                | KmsErrorKind::Timeout
        )
    }
}

/// A failed KMS call. Displays as its message only: the crate error prints the code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct KmsError {
    /// Classification.
    pub kind: KmsErrorKind,
    /// Human-readable detail (KMS's own message when there is one).
    pub message: String,
    /// The KMS `__type` (prefix stripped), when KMS sent one.
    pub kms_type: Option<String>,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
}

impl KmsError {
    /// A new error of `kind` with `message`.
    pub fn new(kind: KmsErrorKind, message: impl Into<String>) -> Self {
        KmsError {
            kind,
            message: message.into(),
            kms_type: None,
            status: None,
        }
    }

    /// The same error with the HTTP status it came with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same error with KMS's `__type` (prefix already stripped).
    pub fn with_kms_type(mut self, kms_type: impl Into<String>) -> Self {
        self.kms_type = Some(kms_type.into());
        self
    }

    /// The crate error for this failure: an aborted call is the crate's `ABORTED`, everything
    /// else is `Error::Kms`. Use this instead of `From` so cancellation keeps its own code.
    pub fn into_error(self) -> crate::Error {
        if self.kind == KmsErrorKind::Aborted {
            crate::Error::Aborted
        } else {
            crate::Error::Kms(self)
        }
    }
}
