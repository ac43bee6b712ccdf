//! KMS-shaped errors: every failure a client can see maps to one AWS error type name.

use std::fmt;

/// The AWS KMS error types this server can return (the `__type` member of an error body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Disabled,
    InvalidState,
    InvalidCiphertext,
    IncorrectKey,
    Validation,
    AccessDenied,
    UnrecognizedClient,
    InvalidSignature,
    IncompleteSignature,
    MissingAuthenticationToken,
    UnknownOperation,
    Serialization,
    AlreadyExists,
    InvalidAliasName,
    InvalidMarker,
    InvalidKeyUsage,
    UnsupportedOperation,
    LimitExceeded,
    DryRunOperation,
    Internal,
}

impl ErrorKind {
    pub fn type_name(self) -> &'static str {
        match self {
            Self::NotFound => "NotFoundException",
            Self::Disabled => "DisabledException",
            Self::InvalidState => "KMSInvalidStateException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::IncorrectKey => "IncorrectKeyException",
            Self::Validation => "ValidationException",
            Self::AccessDenied => "AccessDeniedException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Serialization => "SerializationException",
            Self::AlreadyExists => "AlreadyExistsException",
            Self::InvalidAliasName => "InvalidAliasNameException",
            Self::InvalidMarker => "InvalidMarkerException",
            Self::InvalidKeyUsage => "InvalidKeyUsageException",
            Self::UnsupportedOperation => "UnsupportedOperationException",
            Self::LimitExceeded => "LimitExceededException",
            Self::DryRunOperation => "DryRunOperationException",
            Self::Internal => "KMSInternalException",
        }
    }

    /// HTTP status as real KMS sends it: client faults are 400, a dry run 412, our own faults 500.
    pub fn status(self) -> u16 {
        match self {
            Self::DryRunOperation => 412,
            Self::Internal => 500,
            _ => 400,
        }
    }
}

/// An error answered to a client: the KMS type plus a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsError {
    pub kind: ErrorKind,
    pub message: String,
}

impl KmsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    pub fn validation(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, m)
    }
    pub fn serialization(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Serialization, m)
    }
    pub fn invalid_ciphertext() -> Self {
        // KMS deliberately says nothing more: details would help an attacker probe blobs.
        Self::new(ErrorKind::InvalidCiphertext, "")
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, m)
    }

    /// The JSON body KMS sends: `{"__type": "...", "message": "..."}` (message left out when empty).
    pub fn to_body(&self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        obj.insert("__type".into(), self.kind.type_name().into());
        if !self.message.is_empty() {
            obj.insert("message".into(), self.message.clone().into());
        }
        serde_json::Value::Object(obj).to_string().into_bytes()
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.type_name(), self.message)
    }
}

impl std::error::Error for KmsError {}

/// The standard "1 validation error detected" message AWS uses for a missing required member.
pub fn missing_member(member: &str) -> KmsError {
    KmsError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}
