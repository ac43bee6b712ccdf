//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{AuditInfo, Ctx, key_ref, page_limit, required};
use crate::error::KmsError;
use crate::ids::{AliasPolicy, validate_alias_name};
use crate::time::ms_to_epoch_seconds;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRequest {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasRequest {
    alias_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

pub fn create_alias(
    ctx: &Ctx<'_>,
    req: AliasRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let name = required(&req.alias_name, "aliasName")?;
    validate_alias_name(name)?;
    let target = key_ref(ctx, &req.target_key_id, AliasPolicy::Forbidden)?;
    info.key_arn = Some(
        ctx.store
            .create_alias(name, &target, ctx.scope, ctx.now_ms)?,
    );
    Ok(Value::Null)
}

pub fn update_alias(
    ctx: &Ctx<'_>,
    req: AliasRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let name = required(&req.alias_name, "aliasName")?;
    validate_alias_name(name)?;
    let target = key_ref(ctx, &req.target_key_id, AliasPolicy::Forbidden)?;
    info.key_arn = Some(
        ctx.store
            .update_alias(name, &target, ctx.scope, ctx.now_ms)?,
    );
    Ok(Value::Null)
}

pub fn delete_alias(
    ctx: &Ctx<'_>,
    req: DeleteAliasRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let name = required(&req.alias_name, "aliasName")?;
    validate_alias_name(name)?;
    info.key_arn = Some(ctx.store.delete_alias(name, ctx.scope)?);
    Ok(Value::Null)
}

pub fn list_aliases(ctx: &Ctx<'_>, req: ListAliasesRequest) -> Result<Value, KmsError> {
    let limit = page_limit(req.limit)?;
    let inner = ctx.store.read();
    let only_key = match &req.key_id {
        None => None,
        Some(_) => {
            let r = key_ref(ctx, &req.key_id, AliasPolicy::Forbidden)?;
            Some(inner.resolve(&r, ctx.scope, ctx.now_ms)?.id.clone())
        }
    };
    let matching: Vec<_> = inner
        .aliases
        .values()
        .filter(|a| inner.live(&a.target_key_id, ctx.now_ms).is_some())
        .filter(|a| only_key.as_ref().is_none_or(|k| *k == a.target_key_id))
        // Markers are the last alias name returned; names are unique and sorted.
        .filter(|a| {
            req.marker
                .as_ref()
                .is_none_or(|m| a.name.as_str() > m.as_str())
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|a| {
            json!({
                "AliasName": a.name,
                "AliasArn": ctx.scope.alias_arn(&a.name),
                "TargetKeyId": a.target_key_id,
                "CreationDate": ms_to_epoch_seconds(a.created_ms),
                "LastUpdatedDate": ms_to_epoch_seconds(a.updated_ms),
            })
        })
        .collect();
    let truncated = matching.len() > limit;
    let mut out = json!({ "Aliases": page, "Truncated": truncated });
    if let (true, Some(last), Value::Object(obj)) =
        (truncated, matching.get(limit.saturating_sub(1)), &mut out)
    {
        obj.insert("NextMarker".into(), json!(last.name));
    }
    Ok(out)
}
