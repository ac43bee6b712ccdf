//! Key lifecycle operations: CreateKey, DescribeKey, ListKeys, Enable/Disable, deletion,
//! rotation.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{AuditInfo, Ctx, key_metadata, key_ref, length_error, page_limit};
use crate::error::{ErrorKind, KmsError};
use crate::ids::AliasPolicy;
use crate::state::{self, KeyState};
use crate::store::{DEFAULT_ROTATION_DAYS, KeyRecord, MAX_ON_DEMAND_ROTATIONS, Tag, VersionOrigin};
use crate::time::{MS_PER_DAY, ms_to_epoch_seconds};

const MAX_DESCRIPTION: usize = 8192;
const MAX_TAGS: usize = 50;
const MIN_ROTATION_DAYS: i64 = 90;
const MAX_ROTATION_DAYS: i64 = 2560;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyRequest {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    multi_region: Option<bool>,
    custom_key_store_id: Option<String>,
    tags: Option<Vec<Tag>>,
    // Accepted and ignored: this server has no IAM or key policies.
    #[allow(dead_code)]
    policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdRequest {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysRequest {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleDeletionRequest {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableRotationRequest {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDescriptionRequest {
    key_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRotationsRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

fn unsupported(what: &str) -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        format!(
            "{what} is not supported by kms-dev-server, which has only symmetric SYMMETRIC_DEFAULT keys"
        ),
    )
}

fn enum_error(member: &str, value: &str, allowed: &[&str]) -> KmsError {
    KmsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    ))
}

const KEY_SPECS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];
const KEY_USAGES: &[&str] = &[
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

fn validate_create(req: &CreateKeyRequest) -> Result<(), KmsError> {
    if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
        return Err(KmsError::validation(
            "You cannot specify both KeySpec and CustomerMasterKeySpec.",
        ));
    }
    if let Some(spec) = req
        .key_spec
        .as_deref()
        .or(req.customer_master_key_spec.as_deref())
    {
        if !KEY_SPECS.contains(&spec) {
            return Err(enum_error("keySpec", spec, KEY_SPECS));
        }
        if spec != "SYMMETRIC_DEFAULT" {
            return Err(unsupported(&format!("KeySpec {spec}")));
        }
    }
    if let Some(usage) = req.key_usage.as_deref() {
        if !KEY_USAGES.contains(&usage) {
            return Err(enum_error("keyUsage", usage, KEY_USAGES));
        }
        if usage != "ENCRYPT_DECRYPT" {
            return Err(unsupported(&format!("KeyUsage {usage}")));
        }
    }
    if let Some(origin) = req.origin.as_deref() {
        if !ORIGINS.contains(&origin) {
            return Err(enum_error("origin", origin, ORIGINS));
        }
        if origin != "AWS_KMS" {
            return Err(unsupported(&format!("Origin {origin}")));
        }
    }
    if req.multi_region == Some(true) {
        return Err(unsupported("A multi-Region key"));
    }
    if req.custom_key_store_id.is_some() {
        return Err(unsupported("A custom key store"));
    }
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(length_error("description", 0, MAX_DESCRIPTION));
    }
    let tags = req.tags.as_deref().unwrap_or_default();
    if tags.len() > MAX_TAGS {
        return Err(KmsError::new(
            ErrorKind::LimitExceeded,
            format!("A key can have at most {MAX_TAGS} tags"),
        ));
    }
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(KmsError::new(
                ErrorKind::Validation,
                "Tag keys must be 1-128 characters and values 0-256",
            ));
        }
    }
    Ok(())
}

pub fn create_key(
    ctx: &Ctx<'_>,
    req: CreateKeyRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    validate_create(&req)?;
    let rec = KeyRecord::generate(
        req.description.unwrap_or_default(),
        req.tags.unwrap_or_default(),
        ctx.now_ms,
    )
    .map_err(|e| KmsError::internal(e.to_string()))?;
    info.key_arn = Some(ctx.scope.key_arn(&rec.id));
    let metadata = key_metadata(ctx.scope, &rec);
    ctx.store.insert_new(rec)?;
    Ok(json!({ "KeyMetadata": metadata }))
}

pub fn describe_key(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let r = key_ref(ctx, &req.key_id, AliasPolicy::Allowed)?;
    let inner = ctx.store.read();
    let k = inner.resolve(&r, ctx.scope, ctx.now_ms)?;
    info.key_arn = Some(ctx.scope.key_arn(&k.id));
    Ok(json!({ "KeyMetadata": key_metadata(ctx.scope, k) }))
}

pub fn list_keys(ctx: &Ctx<'_>, req: ListKeysRequest) -> Result<Value, KmsError> {
    let limit = page_limit(req.limit)?;
    let inner = ctx.store.read();
    let keys = inner.sorted_keys(ctx.now_ms);
    let start = match &req.marker {
        None => 0,
        Some(m) => keys
            .iter()
            .position(|k| &k.id == m)
            .map(|i| i + 1)
            .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "The marker is not valid."))?,
    };
    let page: Vec<_> = keys.iter().skip(start).take(limit).collect();
    let truncated = start + page.len() < keys.len();
    let mut out = json!({
        "Keys": page.iter().map(|k| json!({"KeyId": k.id, "KeyArn": ctx.scope.key_arn(&k.id)})).collect::<Vec<_>>(),
        "Truncated": truncated,
    });
    if let (true, Some(last), Value::Object(obj)) = (truncated, page.last(), &mut out) {
        obj.insert("NextMarker".into(), json!(last.id));
    }
    Ok(out)
}

/// Applies a state transition to a key named by id or ARN (KMS refuses aliases here).
fn transition(
    ctx: &Ctx<'_>,
    key_id: &Option<String>,
    info: &mut AuditInfo,
    change: impl FnOnce(&mut KeyRecord, &str) -> Result<(), KmsError>,
) -> Result<KeyRecord, KmsError> {
    let r = key_ref(ctx, key_id, AliasPolicy::Forbidden)?;
    let scope = ctx.scope;
    let mut arn = None;
    let result = ctx.store.update_key(&r, scope, ctx.now_ms, |k| {
        let a = scope.key_arn(&k.id);
        arn = Some(a.clone());
        change(k, &a)
    });
    info.key_arn = arn;
    result
}

pub fn enable_key(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    transition(ctx, &req.key_id, info, |k, arn| {
        k.state = state::enable(k.state, arn)?;
        Ok(())
    })?;
    Ok(Value::Null)
}

pub fn disable_key(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    transition(ctx, &req.key_id, info, |k, arn| {
        k.state = state::disable(k.state, arn)?;
        Ok(())
    })?;
    Ok(Value::Null)
}

pub fn update_description(
    ctx: &Ctx<'_>,
    req: UpdateDescriptionRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let description = super::required(&req.description, "description")?.clone();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(length_error("description", 0, MAX_DESCRIPTION));
    }
    transition(ctx, &req.key_id, info, |k, arn| {
        state::require_not_pending(k.state, arn)?;
        k.description = description;
        Ok(())
    })?;
    Ok(Value::Null)
}

pub fn schedule_deletion(
    ctx: &Ctx<'_>,
    req: ScheduleDeletionRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let days = state::pending_window_days(req.pending_window_in_days)?;
    let deletion_ms = ctx.now_ms.saturating_add(days.saturating_mul(MS_PER_DAY));
    let k = transition(ctx, &req.key_id, info, |k, arn| {
        k.state = state::schedule_deletion(k.state, arn)?;
        k.deletion_ms = Some(deletion_ms);
        k.pending_window_days = Some(days);
        Ok(())
    })?;
    Ok(json!({
        "KeyId": ctx.scope.key_arn(&k.id),
        "DeletionDate": ms_to_epoch_seconds(deletion_ms),
        "KeyState": KeyState::PendingDeletion.as_str(),
        "PendingWindowInDays": days,
    }))
}

pub fn cancel_deletion(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let k = transition(ctx, &req.key_id, info, |k, arn| {
        k.state = state::cancel_deletion(k.state, arn)?;
        k.deletion_ms = None;
        k.pending_window_days = None;
        Ok(())
    })?;
    Ok(json!({ "KeyId": ctx.scope.key_arn(&k.id) }))
}

pub fn enable_rotation(
    ctx: &Ctx<'_>,
    req: EnableRotationRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let days = req.rotation_period_in_days.unwrap_or(DEFAULT_ROTATION_DAYS);
    if !(MIN_ROTATION_DAYS..=MAX_ROTATION_DAYS).contains(&days) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between {MIN_ROTATION_DAYS} and {MAX_ROTATION_DAYS}"
        )));
    }
    let now = ctx.now_ms;
    transition(ctx, &req.key_id, info, |k, arn| {
        state::require_enabled(k.state, arn)?;
        k.rotation_period_days = Some(days);
        k.next_rotation_ms = Some(now.saturating_add(days.saturating_mul(MS_PER_DAY)));
        Ok(())
    })?;
    Ok(Value::Null)
}

pub fn disable_rotation(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    transition(ctx, &req.key_id, info, |k, arn| {
        state::require_enabled(k.state, arn)?;
        k.rotation_period_days = None;
        k.next_rotation_ms = None;
        Ok(())
    })?;
    Ok(Value::Null)
}

pub fn rotation_status(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let r = key_ref(ctx, &req.key_id, AliasPolicy::Forbidden)?;
    let inner = ctx.store.read();
    let k = inner.resolve(&r, ctx.scope, ctx.now_ms)?;
    let arn = ctx.scope.key_arn(&k.id);
    info.key_arn = Some(arn.clone());
    let mut out = json!({ "KeyId": arn, "KeyRotationEnabled": k.rotation_period_days.is_some() });
    if let (Some(days), Value::Object(obj)) = (k.rotation_period_days, &mut out) {
        obj.insert("RotationPeriodInDays".into(), json!(days));
        if let Some(next) = k.next_rotation_ms {
            obj.insert("NextRotationDate".into(), json!(ms_to_epoch_seconds(next)));
        }
    }
    Ok(out)
}

pub fn rotate_on_demand(
    ctx: &Ctx<'_>,
    req: KeyIdRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let now = ctx.now_ms;
    let k = transition(ctx, &req.key_id, info, |k, arn| {
        state::require_enabled(k.state, arn)?;
        if k.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::new(
                ErrorKind::LimitExceeded,
                format!(
                    "{arn} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations."
                ),
            ));
        }
        k.rotate(VersionOrigin::OnDemand, now)
            .map_err(|e| KmsError::internal(e.to_string()))
    })?;
    Ok(json!({ "KeyId": ctx.scope.key_arn(&k.id) }))
}

pub fn list_rotations(
    ctx: &Ctx<'_>,
    req: ListRotationsRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let limit = page_limit(req.limit)?;
    let r = key_ref(ctx, &req.key_id, AliasPolicy::Forbidden)?;
    let inner = ctx.store.read();
    let k = inner.resolve(&r, ctx.scope, ctx.now_ms)?;
    let arn = ctx.scope.key_arn(&k.id);
    info.key_arn = Some(arn.clone());
    let start = match &req.marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| KmsError::new(ErrorKind::InvalidMarker, "The marker is not valid."))?,
    };
    let rotations: Vec<_> = k
        .versions
        .iter()
        .filter(|v| v.origin != VersionOrigin::Initial)
        .collect();
    let page: Vec<Value> = rotations
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| {
            json!({
                "KeyId": arn,
                "RotationDate": ms_to_epoch_seconds(v.created_ms),
                "RotationType": if v.origin == VersionOrigin::OnDemand { "ON_DEMAND" } else { "AUTOMATIC" },
            })
        })
        .collect();
    let next = start + page.len();
    let truncated = next < rotations.len();
    let mut out = json!({ "Rotations": page, "Truncated": truncated });
    if let (true, Value::Object(obj)) = (truncated, &mut out) {
        obj.insert("NextMarker".into(), json!(next.to_string()));
    }
    Ok(out)
}
