//! GenerateDataKey(WithoutPlaintext), GenerateRandom, Encrypt, Decrypt, ReEncrypt.

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{AuditInfo, Ctx, decode_b64, encode_b64, key_ref, length_error, required};
use crate::blob::{self, BlobHeader, EncryptionContext};
use crate::error::{ErrorKind, KmsError};
use crate::ids::{AliasPolicy, KeyRef, format_uuid};
use crate::state;
use crate::store::{Inner, KeyRecord};

pub const MAX_PLAINTEXT: usize = 4096;
pub const MAX_CIPHERTEXT: usize = 6144;
pub const MAX_DATA_KEY: i64 = 1024;
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyRequest {
    key_id: Option<String>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    encryption_context: Option<EncryptionContext>,
    dry_run: Option<bool>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomRequest {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptRequest {
    key_id: Option<String>,
    plaintext: Option<String>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptRequest {
    ciphertext_blob: Option<String>,
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
    recipient: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptRequest {
    ciphertext_blob: Option<String>,
    source_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

fn check_algorithm(alg: &Option<String>, member: &str) -> Result<(), KmsError> {
    match alg.as_deref() {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(KmsError::new(
            ErrorKind::InvalidKeyUsage,
            format!("{a} is not a valid encryption algorithm for a SYMMETRIC_DEFAULT key."),
        )),
        Some(a) => Err(KmsError::validation(format!(
            "1 validation error detected: Value '{a}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
        ))),
    }
}

fn no_recipient(recipient: &Option<Value>) -> Result<(), KmsError> {
    match recipient {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "Recipient (Nitro Enclaves attestation) is not supported by kms-dev-server",
        )),
    }
}

fn dry_run(flag: Option<bool>) -> Result<(), KmsError> {
    if flag == Some(true) {
        return Err(KmsError::new(
            ErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

/// Seals under the key's current version.
fn seal(k: &KeyRecord, ec: &EncryptionContext, plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
    let v = k
        .current()
        .ok_or_else(|| KmsError::internal("key has no material"))?;
    let header = BlobHeader {
        key_id: k.uuid,
        key_version: v.number,
    };
    blob::seal(&v.material, header, ec, plaintext).map_err(|e| KmsError::internal(e.to_string()))
}

/// Resolves a key for new ciphertext: it must exist and be enabled.
fn encrypting_key<'a>(
    ctx: &Ctx<'_>,
    inner: &'a Inner,
    r: &KeyRef,
    info_arn: &mut Option<String>,
) -> Result<&'a KeyRecord, KmsError> {
    let k = inner.resolve(r, ctx.scope, ctx.now_ms)?;
    let arn = ctx.scope.key_arn(&k.id);
    *info_arn = Some(arn.clone());
    state::require_enabled(k.state, &arn)?;
    Ok(k)
}

fn data_key_len(number_of_bytes: Option<i64>, key_spec: Option<&str>) -> Result<usize, KmsError> {
    match (number_of_bytes, key_spec) {
        (None, None) => Err(KmsError::validation("Please specify either number of bytes or key spec.")),
        (Some(_), Some(_)) => Err(KmsError::validation("Please specify either number of bytes or key spec, not both.")),
        (None, Some("AES_256")) => Ok(32),
        (None, Some("AES_128")) => Ok(16),
        (None, Some(s)) => Err(KmsError::validation(format!(
            "1 validation error detected: Value '{s}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        ))),
        (Some(n), None) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_DATA_KEY as usize).contains(n))
            .ok_or_else(|| {
                KmsError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and {MAX_DATA_KEY}"
                ))
            }),
    }
}

pub fn generate_data_key(
    ctx: &Ctx<'_>,
    req: GenerateDataKeyRequest,
    info: &mut AuditInfo,
    with_plaintext: bool,
) -> Result<Value, KmsError> {
    no_recipient(&req.recipient)?;
    let r = key_ref(ctx, &req.key_id, AliasPolicy::Allowed)?;
    let len = data_key_len(req.number_of_bytes, req.key_spec.as_deref())?;
    let ec = req.encryption_context.unwrap_or_default();
    info.encryption_context = Some(ec.clone());
    let inner = ctx.store.read();
    let k = encrypting_key(ctx, &inner, &r, &mut info.key_arn)?;
    dry_run(req.dry_run)?;
    let mut data_key = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut data_key)
        .map_err(|_| KmsError::internal("random number generator failed"))?;
    let blob = seal(k, &ec, &data_key)?;
    let mut out = json!({ "CiphertextBlob": encode_b64(&blob), "KeyId": ctx.scope.key_arn(&k.id) });
    if let (true, Value::Object(obj)) = (with_plaintext, &mut out) {
        obj.insert("Plaintext".into(), json!(encode_b64(&data_key)));
    }
    Ok(out)
}

pub fn generate_random(req: GenerateRandomRequest) -> Result<Value, KmsError> {
    no_recipient(&req.recipient)?;
    if req.custom_key_store_id.is_some() {
        return Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "Custom key stores are not supported by kms-dev-server",
        ));
    }
    let n = *required(&req.number_of_bytes, "numberOfBytes")?;
    let len = data_key_len(Some(n), None)?;
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut bytes)
        .map_err(|_| KmsError::internal("random number generator failed"))?;
    Ok(json!({ "Plaintext": encode_b64(&bytes) }))
}

pub fn encrypt(
    ctx: &Ctx<'_>,
    req: EncryptRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let r = key_ref(ctx, &req.key_id, AliasPolicy::Allowed)?;
    let plaintext = Zeroizing::new(decode_b64(
        required(&req.plaintext, "plaintext")?,
        "Plaintext",
    )?);
    if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
        return Err(length_error("plaintext", 1, MAX_PLAINTEXT));
    }
    check_algorithm(&req.encryption_algorithm, "encryptionAlgorithm")?;
    let ec = req.encryption_context.unwrap_or_default();
    info.encryption_context = Some(ec.clone());
    let inner = ctx.store.read();
    let k = encrypting_key(ctx, &inner, &r, &mut info.key_arn)?;
    dry_run(req.dry_run)?;
    let blob = seal(k, &ec, &plaintext)?;
    Ok(json!({
        "CiphertextBlob": encode_b64(&blob),
        "KeyId": ctx.scope.key_arn(&k.id),
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

/// Finds the key a blob names and decrypts it. With `expected`, the blob must be under that key
/// (`IncorrectKeyException` otherwise); without it, the key is taken from the blob.
fn open_blob<'a>(
    ctx: &Ctx<'_>,
    inner: &'a Inner,
    blob: &[u8],
    ec: &EncryptionContext,
    expected: Option<&KeyRef>,
    info_arn: &mut Option<String>,
) -> Result<(&'a KeyRecord, Zeroizing<Vec<u8>>), KmsError> {
    if blob.is_empty() || blob.len() > MAX_CIPHERTEXT {
        return Err(length_error("ciphertextBlob", 1, MAX_CIPHERTEXT));
    }
    let header = BlobHeader::parse(blob)?;
    let blob_key_id = format_uuid(&header.key_id);
    if let Some(r) = expected {
        let named = inner.resolve(r, ctx.scope, ctx.now_ms)?;
        if named.id != blob_key_id {
            *info_arn = Some(ctx.scope.key_arn(&named.id));
            return Err(KmsError::new(
                ErrorKind::IncorrectKey,
                "The key ID in the request does not identify a KMS key that can perform this operation.",
            ));
        }
    }
    let k = inner
        .live(&blob_key_id, ctx.now_ms)
        .ok_or_else(KmsError::invalid_ciphertext)?;
    let arn = ctx.scope.key_arn(&k.id);
    *info_arn = Some(arn.clone());
    state::require_enabled(k.state, &arn)?;
    let v = k
        .version(header.key_version)
        .ok_or_else(KmsError::invalid_ciphertext)?;
    let plaintext = blob::open(&v.material, blob, ec)?;
    Ok((k, plaintext))
}

pub fn decrypt(
    ctx: &Ctx<'_>,
    req: DecryptRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    no_recipient(&req.recipient)?;
    let blob = decode_b64(
        required(&req.ciphertext_blob, "ciphertextBlob")?,
        "CiphertextBlob",
    )?;
    let expected = req
        .key_id
        .as_ref()
        .map(|_| key_ref(ctx, &req.key_id, AliasPolicy::Allowed))
        .transpose()?;
    check_algorithm(&req.encryption_algorithm, "encryptionAlgorithm")?;
    let ec = req.encryption_context.unwrap_or_default();
    info.encryption_context = Some(ec.clone());
    let inner = ctx.store.read();
    let (k, plaintext) = open_blob(
        ctx,
        &inner,
        &blob,
        &ec,
        expected.as_ref(),
        &mut info.key_arn,
    )?;
    dry_run(req.dry_run)?;
    Ok(json!({
        "KeyId": ctx.scope.key_arn(&k.id),
        "Plaintext": encode_b64(&plaintext),
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

pub fn re_encrypt(
    ctx: &Ctx<'_>,
    req: ReEncryptRequest,
    info: &mut AuditInfo,
) -> Result<Value, KmsError> {
    let blob = decode_b64(
        required(&req.ciphertext_blob, "ciphertextBlob")?,
        "CiphertextBlob",
    )?;
    let dest = key_ref(ctx, &req.destination_key_id, AliasPolicy::Allowed).map_err(|e| {
        if req.destination_key_id.is_none() {
            crate::error::missing_member("destinationKeyId")
        } else {
            e
        }
    })?;
    let source = req
        .source_key_id
        .as_ref()
        .map(|_| key_ref(ctx, &req.source_key_id, AliasPolicy::Allowed))
        .transpose()?;
    check_algorithm(
        &req.source_encryption_algorithm,
        "sourceEncryptionAlgorithm",
    )?;
    check_algorithm(
        &req.destination_encryption_algorithm,
        "destinationEncryptionAlgorithm",
    )?;
    let source_ec = req.source_encryption_context.unwrap_or_default();
    let dest_ec = req.destination_encryption_context.unwrap_or_default();
    info.source_encryption_context = Some(source_ec.clone());
    info.encryption_context = Some(dest_ec.clone());
    let inner = ctx.store.read();
    let (src, plaintext) = open_blob(
        ctx,
        &inner,
        &blob,
        &source_ec,
        source.as_ref(),
        &mut info.source_key_arn,
    )?;
    let dst = encrypting_key(ctx, &inner, &dest, &mut info.key_arn)?;
    dry_run(req.dry_run)?;
    let new_blob = seal(dst, &dest_ec, &plaintext)?;
    Ok(json!({
        "CiphertextBlob": encode_b64(&new_blob),
        "SourceKeyId": ctx.scope.key_arn(&src.id),
        "KeyId": ctx.scope.key_arn(&dst.id),
        "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
        "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_length_rules() {
        assert_eq!(data_key_len(None, Some("AES_256")), Ok(32));
        assert_eq!(data_key_len(None, Some("AES_128")), Ok(16));
        assert_eq!(data_key_len(Some(1), None), Ok(1));
        assert_eq!(data_key_len(Some(1024), None), Ok(1024));
        for (n, s) in [
            (None, None),
            (Some(32), Some("AES_256")),
            (Some(0), None),
            (Some(1025), None),
            (Some(-1), None),
            (None, Some("AES_512")),
        ] {
            assert_eq!(
                data_key_len(n, s).unwrap_err().kind,
                ErrorKind::Validation,
                "{n:?} {s:?}"
            );
        }
    }

    #[test]
    fn only_symmetric_default_is_accepted() {
        assert!(check_algorithm(&None, "a").is_ok());
        assert!(check_algorithm(&Some("SYMMETRIC_DEFAULT".into()), "a").is_ok());
        assert_eq!(
            check_algorithm(&Some("RSAES_OAEP_SHA_256".into()), "a")
                .unwrap_err()
                .kind,
            ErrorKind::InvalidKeyUsage
        );
        assert_eq!(
            check_algorithm(&Some("ROT13".into()), "a")
                .unwrap_err()
                .kind,
            ErrorKind::Validation
        );
    }

    #[test]
    fn crypto_module_is_the_one_sealing() {
        // Guards against seal() silently bypassing the AEAD (e.g. a refactor returning plaintext).
        let k = KeyRecord::generate(String::new(), vec![], 0).unwrap();
        let blob = seal(&k, &EncryptionContext::new(), b"secret-bytes").unwrap();
        assert!(!blob.windows(12).any(|w| w == b"secret-bytes"));
        assert_eq!(blob.len(), blob::OVERHEAD + 12);
    }
}
