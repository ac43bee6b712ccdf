//! Pure response parsing: a successful answer must be a JSON object with the operation's
//! fields (the success `Content-Type` is not checked: moto sends `text/html`), and errors are
//! classified from the body's `__type` (kms-api.md §1 "Error shapes", pitfalls 2–4).

use std::borrow::Cow;

use zeroize::Zeroizing;

use super::error::{KmsError, KmsErrorKind};
use super::json::{self, Value};
use super::transport::HttpResponse;
use crate::b64;
use crate::crypto::DataKey;
use crate::error::quoted;

/// `GenerateDataKey`'s answer.
#[derive(Debug)]
pub struct GenerateDataKeyOutput {
    /// The key ARN KMS used.
    pub key_id: String,
    /// The plaintext data key.
    pub plaintext: DataKey,
    /// The data key wrapped by KMS (opaque).
    pub ciphertext_blob: Vec<u8>,
}

/// `Encrypt`'s answer.
#[derive(Debug, Clone)]
pub struct EncryptOutput {
    /// The key ARN KMS used.
    pub key_id: String,
    /// The wrapped data key (opaque).
    pub ciphertext_blob: Vec<u8>,
}

/// `Decrypt`'s answer.
#[derive(Debug)]
pub struct DecryptOutput {
    /// The key ARN that unwrapped the blob.
    pub key_id: String,
    /// The plaintext data key.
    pub plaintext: DataKey,
}

/// The fields we read from any success body. Strings are borrowed from the (zeroizing)
/// body when they have no escapes, so the base64 plaintext is not copied.
#[derive(Default)]
struct Fields<'a> {
    key_id: Option<Cow<'a, str>>,
    plaintext: Option<Cow<'a, str>>,
    ciphertext_blob: Option<Cow<'a, str>>,
}

/// The members of [`Fields`], in its order.
const FIELDS: [&str; 3] = ["KeyId", "Plaintext", "CiphertextBlob"];

fn malformed(msg: impl Into<String>) -> KmsError {
    KmsError::new(KmsErrorKind::MalformedResponse, msg)
}

/// A short, printable start of a non-JSON body (HTML/XML error pages only: never called on
/// bodies that may hold key material).
fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(120)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_success<'a>(resp: &'a HttpResponse, op: &str) -> Result<Fields<'a>, KmsError> {
    let body = &resp.body[..];
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        let ct = resp.header("content-type").unwrap_or("none");
        let hint = if first == Some(&b'<') {
            format!(
                " (XML/HTML: {}; moto answers mis-routed requests — no SigV4 \
                 Authorization naming service kms — as S3)",
                quoted(&snippet(body))
            )
        } else {
            String::new()
        };
        return Err(malformed(format!(
            "{op}: HTTP {} body is not a JSON object (content-type {ct}){hint}",
            resp.status
        ))
        .with_status(resp.status));
    }
    // As serde derive did: each field at most once, a string or null; unknown members skipped.
    let mut f = Fields::default();
    let mut seen = [false; 3];
    json::parse_members(body, &FIELDS, |k, v| {
        if std::mem::replace(&mut seen[k], true) {
            return Err(match k {
                0 => "duplicate field KeyId",
                1 => "duplicate field Plaintext",
                _ => "duplicate field CiphertextBlob",
            });
        }
        let slot = match k {
            0 => &mut f.key_id,
            1 => &mut f.plaintext,
            _ => &mut f.ciphertext_blob,
        };
        match v {
            Value::Str(s) => *slot = Some(s),
            Value::Null => {}
            Value::Other => return Err("a field is not a string"),
        }
        Ok(())
    })
    .map_err(|e| {
        // The message names the position and kind, never a value.
        malformed(format!("{op}: invalid JSON response: {e}")).with_status(resp.status)
    })?;
    Ok(f)
}

fn require<'a>(
    field: Option<Cow<'a, str>>,
    name: &str,
    op: &str,
    status: u16,
) -> Result<Cow<'a, str>, KmsError> {
    match field {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(malformed(format!("{op}: response has no {name}")).with_status(status)),
    }
}

fn decode_blob(b64: &str, op: &str, status: u16) -> Result<Vec<u8>, KmsError> {
    b64::decode(b64)
        .map_err(|_| malformed(format!("{op}: CiphertextBlob is not base64")).with_status(status))
}

/// Decode the base64 `Plaintext` straight into a zeroizing buffer, and wipe an owned copy of
/// the base64 text too.
fn decode_plaintext(b64: Cow<'_, str>, op: &str, status: u16) -> Result<DataKey, KmsError> {
    let mut buf = Zeroizing::new(vec![0u8; b64.len().div_ceil(4) * 3]);
    let res = b64::decode_slice(b64.as_bytes(), &mut buf[..]);
    if let Cow::Owned(s) = b64 {
        drop(Zeroizing::new(s));
    }
    let n =
        res.map_err(|_| malformed(format!("{op}: Plaintext is not base64")).with_status(status))?;
    buf.truncate(n);
    Ok(DataKey::from_bytes(std::mem::take(&mut *buf)))
}

/// Parse a `GenerateDataKey` response (any status).
///
/// # Errors
/// The classified KMS error for non-2xx; `KMS_MALFORMED_RESPONSE` for a 2xx that is not
/// `{"KeyId", "Plaintext", "CiphertextBlob"}` with valid base64.
pub fn parse_generate_data_key(resp: &HttpResponse) -> Result<GenerateDataKeyOutput, KmsError> {
    const OP: &str = "GenerateDataKey";
    check_status(resp)?;
    let f = parse_success(resp, OP)?;
    let key_id = require(f.key_id, "KeyId", OP, resp.status)?.into_owned();
    let blob = require(f.ciphertext_blob, "CiphertextBlob", OP, resp.status)?;
    let ciphertext_blob = decode_blob(&blob, OP, resp.status)?;
    let plaintext = decode_plaintext(
        require(f.plaintext, "Plaintext", OP, resp.status)?,
        OP,
        resp.status,
    )?;
    Ok(GenerateDataKeyOutput {
        key_id,
        plaintext,
        ciphertext_blob,
    })
}

/// Parse an `Encrypt` response (any status).
///
/// # Errors
/// As [`parse_generate_data_key`], for `{"KeyId", "CiphertextBlob"}`.
pub fn parse_encrypt(resp: &HttpResponse) -> Result<EncryptOutput, KmsError> {
    const OP: &str = "Encrypt";
    check_status(resp)?;
    let f = parse_success(resp, OP)?;
    let key_id = require(f.key_id, "KeyId", OP, resp.status)?.into_owned();
    let blob = require(f.ciphertext_blob, "CiphertextBlob", OP, resp.status)?;
    Ok(EncryptOutput {
        key_id,
        ciphertext_blob: decode_blob(&blob, OP, resp.status)?,
    })
}

/// Parse a `Decrypt` response (any status).
///
/// # Errors
/// As [`parse_generate_data_key`], for `{"KeyId", "Plaintext"}`.
pub fn parse_decrypt(resp: &HttpResponse) -> Result<DecryptOutput, KmsError> {
    const OP: &str = "Decrypt";
    check_status(resp)?;
    let f = parse_success(resp, OP)?;
    let key_id = require(f.key_id, "KeyId", OP, resp.status)?.into_owned();
    let plaintext = decode_plaintext(
        require(f.plaintext, "Plaintext", OP, resp.status)?,
        OP,
        resp.status,
    )?;
    Ok(DecryptOutput { key_id, plaintext })
}

fn check_status(resp: &HttpResponse) -> Result<(), KmsError> {
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        Err(parse_error(resp))
    }
}

/// Strip a Smithy/awsJson `namespace#` prefix and a `:uri` suffix from an error type
/// (`com.amazonaws.kms#NotFoundException` → `NotFoundException`).
pub fn sanitize_error_type(raw: &str) -> &str {
    let t = raw.rsplit_once('#').map_or(raw, |(_, t)| t);
    t.split_once(':').map_or(t, |(t, _)| t).trim()
}

/// The kind of a KMS (or AWS auth layer) error type.
pub fn classify(kms_type: &str, status: u16) -> KmsErrorKind {
    use KmsErrorKind as K;
    match kms_type {
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "IncompleteSignatureException"
        | "MissingAuthenticationToken"
        | "MissingAuthenticationTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "AuthFailure"
        | "NotAuthorized" => K::AccessDenied,
        "InvalidCiphertextException" => K::InvalidCiphertext,
        "IncorrectKeyException" => K::IncorrectKey,
        "DisabledException" | "KMSInvalidStateException" => K::KeyUnavailable,
        "NotFoundException" => K::NotFound,
        "ThrottlingException"
        | "Throttling"
        | "LimitExceededException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => K::Throttled,
        // KeyUnavailableException is KMS's "key temporarily unavailable, retry" (HTTP 500).
        "KMSInternalException"
        | "DependencyTimeoutException"
        | "KeyUnavailableException"
        | "InternalFailure"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => K::Unavailable,
        "ValidationException"
        | "SerializationException"
        | "UnknownOperationException"
        | "InvalidKeyUsageException"
        | "InvalidGrantTokenException"
        | "InvalidArnException"
        | "UnsupportedOperationException"
        | "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "MissingParameter" => K::Validation,
        _ => classify_status(status),
    }
}

fn classify_status(status: u16) -> KmsErrorKind {
    match status {
        429 => KmsErrorKind::Throttled,
        500..=599 => KmsErrorKind::Unavailable,
        401 | 403 => KmsErrorKind::AccessDenied,
        _ => KmsErrorKind::Other,
    }
}

/// The trimmed text between the first `open` and the next `close` (`str::find` with a string
/// pattern would add ~3 KB of substring search to the wasm; bodies are small).
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let find = |hay: &str, needle: &str| {
        hay.as_bytes()
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
    };
    let rest = text.get(find(text, open)? + open.len()..)?;
    Some(rest.get(..find(rest, close)?)?.trim())
}

/// `<Code>X</Code>` from an IAM-style XML error (strict moto's auth failures).
fn xml_code(body: &str) -> Option<&str> {
    between(body, "<Code>", "</Code>")
}

/// Classify a non-2xx response. Prefers the body's `__type` (the only source in a browser,
/// where `X-Amzn-ErrorType` is not CORS-exposed), then an XML `<Code>`, then that header,
/// then the status alone.
pub fn parse_error(resp: &HttpResponse) -> KmsError {
    let body = &resp.body[..];
    // `__type`, `code`, `message`, `Message` of a JSON object body (the last of duplicates, as
    // a JSON map keeps); nothing unless the whole body is valid JSON.
    let mut members: [Option<Value<'_>>; 4] = Default::default();
    let obj = json::parse_members(body, &["__type", "code", "message", "Message"], |k, v| {
        members[k] = Some(v);
        Ok(())
    });
    if obj != Ok(true) {
        members = Default::default();
    }
    let [ty, code, msg, msg_upper] = members;
    let as_str = |v: Option<Value<'_>>| match v {
        Some(Value::Str(s)) => Some(s.into_owned()),
        _ => None,
    };
    let text = String::from_utf8_lossy(body);
    let kms_type = as_str(ty.or(code))
        .or_else(|| xml_code(&text).map(str::to_string))
        .or_else(|| resp.header("x-amzn-errortype").map(str::to_string))
        .map(|t| sanitize_error_type(&t).to_string())
        .filter(|t| !t.is_empty());
    let message = as_str(msg.or(msg_upper))
        .or_else(|| between(&text, "<Message>", "</Message>").map(str::to_string));
    let kind = match &kms_type {
        Some(t) => classify(t, resp.status),
        None => classify_status(resp.status),
    };
    let detail = match (&kms_type, message) {
        (Some(t), Some(m)) => format!("{t}: {m}"),
        (Some(t), None) => t.clone(),
        (None, Some(m)) => m,
        (None, None) if body.is_empty() => "empty body".to_string(),
        // Quote only markup error pages: a JSON-ish body may be our own request echoed back
        // by a proxy, and an Encrypt request carries the plaintext data key.
        (None, None) if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') => {
            format!("unrecognised error body {}", quoted(&snippet(body)))
        }
        (None, None) => format!("unrecognised error body ({} bytes, not shown)", body.len()),
    };
    let mut e =
        KmsError::new(kind, format!("HTTP {}: {detail}", resp.status)).with_status(resp.status);
    e.kms_type = kms_type;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/ce0550fc-1111-2222-3333-444455556666";

    fn resp(status: u16, ct: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), ct.into())],
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }

    fn err_kind<T: std::fmt::Debug>(r: Result<T, KmsError>) -> KmsErrorKind {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.kind,
        }
    }

    #[test]
    fn moto_success_with_text_html_content_type_is_accepted() {
        let body = format!(
            r#"{{"CiphertextBlob":"Y2UwNTUw","Plaintext":"{}","KeyId":"{ARN}"}}"#,
            b64::encode(&[7u8; 32])
        );
        let out = parse_generate_data_key(&resp(200, "text/html; charset=utf-8", &body))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.key_id, ARN);
        assert_eq!(out.plaintext.expose_secret(), &[7u8; 32]);
        assert_eq!(out.ciphertext_blob, b"ce0550");
    }

    #[test]
    fn escaped_json_strings_still_decode() {
        // `\/` is a legal JSON escape some encoders emit; it forces an owned string.
        let pt = b64::encode(&[0xffu8; 32]).replace('/', "\\/");
        let body = format!(r#"{{"Plaintext":"{pt}","KeyId":"{ARN}"}}"#);
        let out = parse_decrypt(&resp(200, "application/x-amz-json-1.1", &body))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.plaintext.expose_secret(), &[0xffu8; 32]);
    }

    #[test]
    fn s3_xml_from_a_misrouted_request_is_malformed_not_success() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01"><Buckets></Buckets></ListAllMyBucketsResult>"#;
        let e = parse_generate_data_key(&resp(200, "application/xml", xml))
            .err()
            .unwrap_or_else(|| panic!("XML accepted"));
        assert_eq!(e.kind, KmsErrorKind::MalformedResponse);
        assert!(e.message.contains("S3"), "{}", e.message);
    }

    #[test]
    fn missing_or_null_fields_are_malformed() {
        let pt = b64::encode(&[1u8; 32]);
        for body in [
            format!(r#"{{"Plaintext":"{pt}"}}"#),
            format!(r#"{{"Plaintext":"{pt}","KeyId":null}}"#),
            format!(r#"{{"Plaintext":"{pt}","KeyId":""}}"#),
            format!(r#"{{"KeyId":"{ARN}"}}"#),
            "null".to_string(),
            "[]".to_string(),
            String::new(),
            format!(r#"{{"Plaintext":"{pt}","KeyId":"{ARN}""#),
        ] {
            assert_eq!(
                err_kind(parse_decrypt(&resp(200, "application/json", &body))),
                KmsErrorKind::MalformedResponse,
                "{body}"
            );
        }
        let no_blob = format!(r#"{{"Plaintext":"{pt}","KeyId":"{ARN}"}}"#);
        assert_eq!(
            err_kind(parse_generate_data_key(&resp(200, "", &no_blob))),
            KmsErrorKind::MalformedResponse
        );
        assert_eq!(
            err_kind(parse_encrypt(&resp(
                200,
                "",
                &format!(r#"{{"KeyId":"{ARN}"}}"#)
            ))),
            KmsErrorKind::MalformedResponse
        );
    }

    #[test]
    fn bad_base64_and_duplicate_fields_are_malformed() {
        for body in [
            format!(r#"{{"Plaintext":"not base64!","KeyId":"{ARN}"}}"#),
            format!(r#"{{"Plaintext":"AAAA","Plaintext":"AAAA","KeyId":"{ARN}"}}"#),
        ] {
            assert_eq!(
                err_kind(parse_decrypt(&resp(200, "", &body))),
                KmsErrorKind::MalformedResponse,
                "{body}"
            );
        }
        let body = format!(r#"{{"CiphertextBlob":"%%%","KeyId":"{ARN}"}}"#);
        assert_eq!(
            err_kind(parse_encrypt(&resp(200, "", &body))),
            KmsErrorKind::MalformedResponse
        );
    }

    #[test]
    fn error_types_map_to_kinds_with_prefix_and_suffix_stripped() {
        let cases = [
            ("AccessDeniedException", KmsErrorKind::AccessDenied),
            (
                "InvalidCiphertextException",
                KmsErrorKind::InvalidCiphertext,
            ),
            ("IncorrectKeyException", KmsErrorKind::IncorrectKey),
            ("DisabledException", KmsErrorKind::KeyUnavailable),
            ("KMSInvalidStateException", KmsErrorKind::KeyUnavailable),
            ("NotFoundException", KmsErrorKind::NotFound),
            ("ThrottlingException", KmsErrorKind::Throttled),
            ("KMSInternalException", KmsErrorKind::Unavailable),
            ("DependencyTimeoutException", KmsErrorKind::Unavailable),
            ("ValidationException", KmsErrorKind::Validation),
            ("SerializationException", KmsErrorKind::Validation),
            ("UnrecognizedClientException", KmsErrorKind::AccessDenied),
            (
                "com.amazonaws.kms#NotFoundException",
                KmsErrorKind::NotFound,
            ),
            (
                "DisabledException:http://internal.amazon.com/",
                KmsErrorKind::KeyUnavailable,
            ),
            ("SomethingNew", KmsErrorKind::Other),
        ];
        for (ty, kind) in cases {
            let body = format!(r#"{{"__type":"{ty}","message":"m"}}"#);
            let e = parse_decrypt(&resp(400, "application/json", &body))
                .err()
                .unwrap_or_else(|| panic!("{ty} accepted"));
            assert_eq!(e.kind, kind, "{ty}");
            assert_eq!(e.status, Some(400));
            assert!(
                !e.kms_type.as_deref().unwrap_or("").contains(['#', ':']),
                "{ty}"
            );
        }
    }

    #[test]
    fn error_message_is_read_from_either_case_or_absent() {
        let e = parse_error(&resp(
            400,
            "",
            r#"{"__type":"NotFoundException","Message":"gone"}"#,
        ));
        assert!(e.message.contains("gone"));
        let e = parse_error(&resp(400, "", r#"{"__type":"InvalidCiphertextException"}"#));
        assert_eq!(e.kind, KmsErrorKind::InvalidCiphertext);
        assert_eq!(e.kms_type.as_deref(), Some("InvalidCiphertextException"));
    }

    #[test]
    fn between_takes_the_first_open_and_the_next_close() {
        assert_eq!(between("a<C> x </C><C>y</C>", "<C>", "</C>"), Some("x"));
        assert_eq!(between("</C><C>z</C>", "<C>", "</C>"), Some("z"));
        assert_eq!(between("<C>é</C>", "<C>", "</C>"), Some("é"));
        assert_eq!(between("<C>unclosed", "<C>", "</C>"), None);
        assert_eq!(between("none", "<C>", "</C>"), None);
        assert_eq!(between("<C></C>", "<C>", "</C>"), Some(""));
    }

    #[test]
    fn non_json_errors_fall_back_to_xml_code_header_and_status() {
        let xml = "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error></Errors></ErrorResponse>";
        let e = parse_error(&resp(403, "text/xml", xml));
        assert_eq!(e.kind, KmsErrorKind::AccessDenied);
        assert!(e.message.contains("bad sig"));
        let html = parse_error(&resp(
            500,
            "text/html",
            "<html><title>500 Internal Server Error</title>",
        ));
        assert_eq!(html.kind, KmsErrorKind::Unavailable);
        assert_eq!(
            parse_error(&resp(429, "", "")).kind,
            KmsErrorKind::Throttled
        );
        assert_eq!(
            parse_error(&resp(503, "", "")).kind,
            KmsErrorKind::Unavailable
        );
        assert_eq!(parse_error(&resp(404, "", "")).kind, KmsErrorKind::Other);
        let mut r = resp(400, "", "");
        r.headers.push((
            "x-amzn-errortype".into(),
            "ThrottlingException:http://x".into(),
        ));
        assert_eq!(parse_error(&r).kind, KmsErrorKind::Throttled);
    }
}
