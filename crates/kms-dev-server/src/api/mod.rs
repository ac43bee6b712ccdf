//! The KMS JSON 1.1 operations: request parsing and validation, dispatch, and response shapes.

mod aliases;
mod crypto_ops;
mod keys;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::blob::EncryptionContext;
use crate::error::{ErrorKind, KmsError, missing_member};
use crate::ids::{AliasPolicy, KeyRef, Scope, parse_key_ref};
use crate::store::{KeyRecord, Store};
use crate::time::ms_to_epoch_seconds;

/// Standard base64; padding optional on input (browsers and SDKs all pad on output).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Everything an operation needs.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub scope: &'a Scope,
    pub now_ms: i64,
}

/// What an operation touched, for the audit log (filled in even when it fails part-way).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditInfo {
    pub key_arn: Option<String>,
    pub encryption_context: Option<EncryptionContext>,
    pub source_key_arn: Option<String>,
    pub source_encryption_context: Option<EncryptionContext>,
}

/// The operations this server implements (the `X-Amz-Target` suffix after `TrentService.`).
pub const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyRotationStatus",
    "ListAliases",
    "ListKeyRotations",
    "ListKeys",
    "ReEncrypt",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "UpdateAlias",
    "UpdateKeyDescription",
];

/// Runs one operation on a raw JSON body; `Value::Null` means an empty `{}` response.
pub fn dispatch(
    ctx: &Ctx<'_>,
    op: &str,
    body: &[u8],
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    if !OPERATIONS.contains(&op) {
        return Err(KmsError::new(
            ErrorKind::UnknownOperation,
            format!("Operation '{op}' is not supported by kms-dev-server"),
        ));
    }
    let params = parse_object(body)?;
    match op {
        "CreateKey" => keys::create_key(ctx, from_value(params)?, info),
        "DescribeKey" => keys::describe_key(ctx, from_value(params)?, info),
        "ListKeys" => keys::list_keys(ctx, from_value(params)?),
        "EnableKey" => keys::enable_key(ctx, from_value(params)?, info),
        "DisableKey" => keys::disable_key(ctx, from_value(params)?, info),
        "UpdateKeyDescription" => keys::update_description(ctx, from_value(params)?, info),
        "ScheduleKeyDeletion" => keys::schedule_deletion(ctx, from_value(params)?, info),
        "CancelKeyDeletion" => keys::cancel_deletion(ctx, from_value(params)?, info),
        "EnableKeyRotation" => keys::enable_rotation(ctx, from_value(params)?, info),
        "DisableKeyRotation" => keys::disable_rotation(ctx, from_value(params)?, info),
        "GetKeyRotationStatus" => keys::rotation_status(ctx, from_value(params)?, info),
        "RotateKeyOnDemand" => keys::rotate_on_demand(ctx, from_value(params)?, info),
        "ListKeyRotations" => keys::list_rotations(ctx, from_value(params)?, info),
        "CreateAlias" => aliases::create_alias(ctx, from_value(params)?, info),
        "UpdateAlias" => aliases::update_alias(ctx, from_value(params)?, info),
        "DeleteAlias" => aliases::delete_alias(ctx, from_value(params)?, info),
        "ListAliases" => aliases::list_aliases(ctx, from_value(params)?),
        "GenerateDataKey" => crypto_ops::generate_data_key(ctx, from_value(params)?, info, true),
        "GenerateDataKeyWithoutPlaintext" => {
            crypto_ops::generate_data_key(ctx, from_value(params)?, info, false)
        }
        "GenerateRandom" => crypto_ops::generate_random(from_value(params)?),
        "Encrypt" => crypto_ops::encrypt(ctx, from_value(params)?, info),
        "Decrypt" => crypto_ops::decrypt(ctx, from_value(params)?, info),
        "ReEncrypt" => crypto_ops::re_encrypt(ctx, from_value(params)?, info),
        _ => Err(KmsError::new(
            ErrorKind::UnknownOperation,
            format!("Operation '{op}' is not supported"),
        )),
    }
}

/// The body must be a JSON object (an empty body counts as `{}`).
fn parse_object(body: &[u8]) -> Result<Value, KmsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| KmsError::serialization(format!("Malformed JSON body: {e}")))?;
    if !v.is_object() {
        return Err(KmsError::serialization(
            "The request body must be a JSON object",
        ));
    }
    Ok(v)
}

fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, KmsError> {
    // Type mismatches (a number where a string belongs) are SerializationException in KMS.
    serde_json::from_value(v).map_err(|e| KmsError::serialization(e.to_string()))
}

fn required<'a, T>(v: &'a Option<T>, member: &str) -> Result<&'a T, KmsError> {
    v.as_ref().ok_or_else(|| missing_member(member))
}

fn decode_b64(s: &str, member: &str) -> Result<Vec<u8>, KmsError> {
    B64.decode(s)
        .map_err(|_| KmsError::serialization(format!("Value of '{member}' is not valid base64")))
}

fn encode_b64(b: &[u8]) -> String {
    B64.encode(b)
}

fn key_ref(
    ctx: &Ctx<'_>,
    key_id: &Option<String>,
    aliases: AliasPolicy,
) -> Result<KeyRef, KmsError> {
    parse_key_ref(required(key_id, "keyId")?, ctx.scope, aliases)
}

/// The standard length constraint message.
fn length_error(member: &str, min: usize, max: usize) -> KmsError {
    KmsError::validation(format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}"
    ))
}

/// `Limit` for List* operations: 1–1000, default 100 (KMS's bounds).
fn page_limit(limit: Option<i64>) -> Result<usize, KmsError> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=1000) => usize::try_from(n).map_err(|_| KmsError::validation("bad limit")),
        Some(n) => Err(KmsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        ))),
    }
}

/// KMS's `KeyMetadata` for a symmetric key.
fn key_metadata(scope: &Scope, k: &KeyRecord) -> Value {
    let mut m = json!({
        "AWSAccountId": scope.account,
        "KeyId": k.id,
        "Arn": scope.key_arn(&k.id),
        "CreationDate": ms_to_epoch_seconds(k.created_ms),
        "Enabled": k.state == crate::state::KeyState::Enabled,
        "Description": k.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": k.state.as_str(),
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let (Some(d), Value::Object(obj)) = (k.deletion_ms, &mut m) {
        obj.insert("DeletionDate".into(), json!(ms_to_epoch_seconds(d)));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse_object(b"").unwrap().is_object());
        assert!(parse_object(b"  {} ").unwrap().is_object());
        for bad in [&b"["[..], b"[]", b"null", b"\"x\"", b"{\"a\":", b"\xff"] {
            assert_eq!(
                parse_object(bad).unwrap_err().kind,
                ErrorKind::Serialization,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn base64_is_standard_with_optional_padding() {
        assert_eq!(decode_b64("aGk=", "p").unwrap(), b"hi");
        assert_eq!(decode_b64("aGk", "p").unwrap(), b"hi");
        assert_eq!(
            decode_b64("a-_k", "p").unwrap_err().kind,
            ErrorKind::Serialization
        );
        assert_eq!(encode_b64(b"hi"), "aGk=");
    }

    #[test]
    fn page_limits_follow_kms_bounds() {
        assert_eq!(page_limit(None), Ok(100));
        assert_eq!(page_limit(Some(1000)), Ok(1000));
        assert!(page_limit(Some(0)).is_err() && page_limit(Some(1001)).is_err());
    }
}
