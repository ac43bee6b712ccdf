//! The key-state machine: which operations a key in each state allows, and the transitions.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, KmsError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Waiting period bounds for ScheduleKeyDeletion, in days (KMS: 7–30, default 30).
pub const MIN_PENDING_DAYS: i64 = 7;
pub const MAX_PENDING_DAYS: i64 = 30;
pub const DEFAULT_PENDING_DAYS: i64 = 30;

fn pending(arn: &str) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidState,
        format!("{arn} is pending deletion."),
    )
}

/// Cryptographic use (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt) and key-material changes
/// (rotation) need an enabled key.
pub fn require_enabled(state: KeyState, arn: &str) -> Result<(), KmsError> {
    match state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::new(
            ErrorKind::Disabled,
            format!("{arn} is disabled."),
        )),
        KeyState::PendingDeletion => Err(pending(arn)),
    }
}

/// Operations that work on enabled and disabled keys but not on one pending deletion
/// (EnableKey, DisableKey, CreateAlias/UpdateAlias targets).
pub fn require_not_pending(state: KeyState, arn: &str) -> Result<(), KmsError> {
    match state {
        KeyState::PendingDeletion => Err(pending(arn)),
        _ => Ok(()),
    }
}

pub fn enable(state: KeyState, arn: &str) -> Result<KeyState, KmsError> {
    require_not_pending(state, arn).map(|()| KeyState::Enabled)
}

pub fn disable(state: KeyState, arn: &str) -> Result<KeyState, KmsError> {
    require_not_pending(state, arn).map(|()| KeyState::Disabled)
}

pub fn schedule_deletion(state: KeyState, arn: &str) -> Result<KeyState, KmsError> {
    require_not_pending(state, arn).map(|()| KeyState::PendingDeletion)
}

/// As in AWS, a cancelled deletion leaves the key Disabled: it must be enabled explicitly.
pub fn cancel_deletion(state: KeyState, arn: &str) -> Result<KeyState, KmsError> {
    match state {
        KeyState::PendingDeletion => Ok(KeyState::Disabled),
        other => Err(KmsError::new(
            ErrorKind::InvalidState,
            format!("{arn} is {} and not pending deletion.", other.as_str()),
        )),
    }
}

/// Validates `PendingWindowInDays`.
pub fn pending_window_days(requested: Option<i64>) -> Result<i64, KmsError> {
    let days = requested.unwrap_or(DEFAULT_PENDING_DAYS);
    if (MIN_PENDING_DAYS..=MAX_PENDING_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between {MIN_PENDING_DAYS} and {MAX_PENDING_DAYS}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::KeyState::*;
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/k";

    #[test]
    fn crypto_needs_an_enabled_key() {
        assert!(require_enabled(Enabled, ARN).is_ok());
        assert_eq!(
            require_enabled(Disabled, ARN).unwrap_err().kind,
            ErrorKind::Disabled
        );
        assert_eq!(
            require_enabled(PendingDeletion, ARN).unwrap_err().kind,
            ErrorKind::InvalidState
        );
    }

    #[test]
    fn lifecycle_follows_kms() {
        // enable/disable are idempotent and work from either usable state
        for s in [Enabled, Disabled] {
            assert_eq!(enable(s, ARN), Ok(Enabled));
            assert_eq!(disable(s, ARN), Ok(Disabled));
            assert_eq!(schedule_deletion(s, ARN), Ok(PendingDeletion));
            assert_eq!(
                cancel_deletion(s, ARN).unwrap_err().kind,
                ErrorKind::InvalidState
            );
        }
        // a key pending deletion refuses everything but cancellation, which leaves it Disabled
        for op in [enable, disable, schedule_deletion] {
            assert_eq!(
                op(PendingDeletion, ARN).unwrap_err().kind,
                ErrorKind::InvalidState
            );
        }
        assert_eq!(cancel_deletion(PendingDeletion, ARN), Ok(Disabled));
        assert_eq!(
            require_not_pending(PendingDeletion, ARN).unwrap_err().kind,
            ErrorKind::InvalidState
        );
    }

    #[test]
    fn pending_window_is_7_to_30_days_defaulting_to_30() {
        assert_eq!(pending_window_days(None), Ok(30));
        assert_eq!(pending_window_days(Some(7)), Ok(7));
        assert_eq!(pending_window_days(Some(30)), Ok(30));
        for bad in [-1, 0, 6, 31, i64::MAX] {
            assert_eq!(
                pending_window_days(Some(bad)).unwrap_err().kind,
                ErrorKind::Validation
            );
        }
    }
}
