//! Pure request building for the KMS JSON 1.1 API: `POST /`, `X-Amz-Target:
//! TrentService.<Op>`, `Content-Type: application/x-amz-json-1.1`, standard padded base64
//! for binary fields (kms-api.md §1).

use zeroize::Zeroizing;

use super::error::{KmsError, KmsErrorKind};
use super::json::ObjectWriter;
use super::transport::{FetchCredentials, HttpRequest};
use crate::b64;
use crate::error::quoted;
use crate::format::EncryptionContext;

/// The JSON 1.1 content type KMS expects on requests.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The KMS operations this crate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `GenerateDataKey`: a fresh data key, plaintext and wrapped.
    GenerateDataKey,
    /// `Encrypt`: wrap an existing data key under another KMS key.
    Encrypt,
    /// `Decrypt`: unwrap.
    Decrypt,
}

impl Operation {
    /// The API name (`GenerateDataKey`, …).
    pub fn name(self) -> &'static str {
        match self {
            Operation::GenerateDataKey => "GenerateDataKey",
            Operation::Encrypt => "Encrypt",
            Operation::Decrypt => "Decrypt",
        }
    }

    /// The `X-Amz-Target` value.
    pub fn target(self) -> String {
        format!("TrentService.{}", self.name())
    }
}

/// Where requests go: scheme, `host[:port]` exactly as sent (default ports dropped, so the
/// signed `host` matches what the HTTP stack writes), and the path (`/` for KMS itself; a
/// proxy may use another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: &'static str,
    host: String,
    path: String,
}

impl Endpoint {
    /// The public AWS KMS endpoint of `region` (`https://kms.<region>.amazonaws.com/`;
    /// `.amazonaws.com.cn` for China regions).
    ///
    /// # Errors
    /// `KMS_VALIDATION` for an empty or odd region name.
    pub fn for_region(region: &str) -> Result<Self, KmsError> {
        check_region(region)?;
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Ok(Endpoint {
            scheme: "https",
            host: format!("kms.{region}.{suffix}"),
            path: "/".into(),
        })
    }

    /// Parse an endpoint URL such as `http://127.0.0.1:5000` or `https://kms.example/kms/`.
    ///
    /// # Errors
    /// `KMS_VALIDATION` when it is not `http(s)://host[:port][/path]` with a plain path (no
    /// query, fragment, user info or characters that SigV4 would have to re-encode).
    pub fn parse(url: &str) -> Result<Self, KmsError> {
        let bad = |why: &str| {
            Err(KmsError::new(
                KmsErrorKind::Validation,
                format!("invalid KMS endpoint {}: {why}", quoted(url)),
            ))
        };
        let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
            ("https", r)
        } else if let Some(r) = url.strip_prefix("http://") {
            ("http", r)
        } else {
            return bad("it must start with http:// or https://");
        };
        // split_at_checked, not `&rest[..i]`: str range indexing is the only thing that links
        // core's char-boundary panic (char Debug, Unicode tables) into the wasm.
        let (authority, path) = rest
            .find('/')
            .and_then(|i| rest.split_at_checked(i))
            .unwrap_or((rest, "/"));
        if authority.is_empty() {
            return bad("no host");
        }
        if authority.contains('@') {
            return bad("user info is not allowed");
        }
        if path.contains(['?', '#']) {
            return bad("query strings and fragments are not allowed");
        }
        if !path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
        {
            return bad("the path may only use letters, digits, - . _ ~ and /");
        }
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let host = authority
            .strip_suffix(default_port)
            .unwrap_or(authority)
            .to_ascii_lowercase();
        Ok(Endpoint {
            scheme,
            host,
            path: path.to_string(),
        })
    }

    /// The URL requests are sent to.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path)
    }

    /// `host[:port]`, as signed and sent.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The request path (SigV4's canonical URI).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether this is a loopback endpoint (emulators: moto, the dev KMS server).
    pub fn is_loopback(&self) -> bool {
        let h = self
            .host
            .rsplit_once(':')
            .map_or(self.host.as_str(), |(h, _)| h);
        h == "localhost" || h.starts_with("127.") || h == "[::1]"
    }
}

/// Region names are used in the signing scope and the default host: keep them boring.
pub(crate) fn check_region(region: &str) -> Result<(), KmsError> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(KmsError::new(
            KmsErrorKind::Validation,
            format!("invalid region {}", quoted(region)),
        ));
    }
    Ok(())
}

/// Room for everything but the variable fields; JSON escaping can grow a string up to 6×.
fn capacity(context: &EncryptionContext, grant_tokens: &[String], fixed: usize) -> usize {
    let ctx: usize = context
        .iter()
        .map(|(k, v)| 6 * (k.len() + v.len()) + 6)
        .sum();
    let grants: usize = grant_tokens.iter().map(|g| 6 * g.len() + 3).sum();
    160 + ctx + grants + fixed
}

/// A body with `fields` first, then `EncryptionContext` and `GrantTokens` when not empty (the
/// member order serde_json used). Sized up front so the buffer never reallocates and leaves
/// an unzeroized copy behind.
fn body(
    fixed: usize,
    context: &EncryptionContext,
    grant_tokens: &[String],
    fields: impl FnOnce(&mut ObjectWriter<'_>),
) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(capacity(context, grant_tokens, fixed)));
    let mut o = ObjectWriter::new(&mut body);
    fields(&mut o);
    if !context.is_empty() {
        o.string_map("EncryptionContext", context.iter());
    }
    if !grant_tokens.is_empty() {
        o.string_array("GrantTokens", grant_tokens);
    }
    o.end();
    body
}

/// `GenerateDataKey {KeyId, NumberOfBytes, EncryptionContext, GrantTokens}`.
///
/// # Errors
/// None: encoding cannot fail (the `Result` stays for API stability).
pub fn generate_data_key_body(
    key_id: &str,
    number_of_bytes: usize,
    context: &EncryptionContext,
    grant_tokens: &[String],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    Ok(body(6 * key_id.len(), context, grant_tokens, |o| {
        o.string("KeyId", key_id);
        o.number("NumberOfBytes", number_of_bytes as u64);
    }))
}

/// `Encrypt {KeyId, Plaintext, EncryptionContext, GrantTokens}`. The plaintext (a data key)
/// only ever lives in zeroizing buffers.
///
/// # Errors
/// None, as [`generate_data_key_body`].
pub fn encrypt_body(
    key_id: &str,
    plaintext: &[u8],
    context: &EncryptionContext,
    grant_tokens: &[String],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let b64 = Zeroizing::new(b64::encode(plaintext));
    let fixed = 6 * key_id.len() + b64.len();
    Ok(body(fixed, context, grant_tokens, |o| {
        o.string("KeyId", key_id);
        o.string("Plaintext", &b64);
    }))
}

/// `Decrypt {CiphertextBlob, KeyId?, EncryptionContext, GrantTokens}`. Sending `KeyId`
/// makes KMS refuse a blob made under another key instead of decrypting it.
///
/// # Errors
/// None, as [`generate_data_key_body`].
pub fn decrypt_body(
    key_id: Option<&str>,
    ciphertext_blob: &[u8],
    context: &EncryptionContext,
    grant_tokens: &[String],
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let blob = b64::encode(ciphertext_blob);
    let fixed = blob.len() + 6 * key_id.map_or(0, str::len);
    Ok(body(fixed, context, grant_tokens, |o| {
        o.string("CiphertextBlob", &blob);
        if let Some(k) = key_id {
            o.string("KeyId", k);
        }
    }))
}

/// The unsigned request for `op` with `body`: method, URL, `Content-Type`, `X-Amz-Target`.
pub fn build(endpoint: &Endpoint, op: Operation, body: Zeroizing<Vec<u8>>) -> HttpRequest {
    HttpRequest {
        method: "POST",
        url: endpoint.url(),
        headers: vec![
            ("Content-Type".into(), CONTENT_TYPE.into()),
            ("X-Amz-Target".into(), op.target()),
        ],
        body,
        fetch_credentials: FetchCredentials::Omit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn generate_data_key_body_carries_the_full_context_and_grants() {
        let ctx: EncryptionContext = [("purpose", "test"), ("aws-crypto-public-key", "Ag7z")]
            .into_iter()
            .collect();
        let b = generate_data_key_body("alias/x", 32, &ctx, &["g1".into()])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json(&b),
            serde_json::json!({"KeyId": "alias/x", "NumberOfBytes": 32,
                "EncryptionContext": {"aws-crypto-public-key": "Ag7z", "purpose": "test"},
                "GrantTokens": ["g1"]})
        );
    }

    #[test]
    fn empty_context_and_grants_are_omitted() {
        let b = decrypt_body(None, b"\x01\x02\x03", &EncryptionContext::new(), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json(&b), serde_json::json!({"CiphertextBlob": "AQID"}));
    }

    #[test]
    fn binary_fields_are_padded_standard_base64_and_strings_are_escaped() {
        let ctx: EncryptionContext = [("q\"uote", "é\n")].into_iter().collect();
        let b = encrypt_body("k", &[0xfb, 0xff], &ctx, &[]).unwrap_or_else(|e| panic!("{e}"));
        let v = json(&b);
        assert_eq!(v["Plaintext"], "+/8=");
        assert_eq!(v["EncryptionContext"]["q\"uote"], "é\n");
        let d = decrypt_body(Some("arn:k"), &[0xfb], &EncryptionContext::new(), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json(&d)["CiphertextBlob"], "+w==");
        assert_eq!(json(&d)["KeyId"], "arn:k");
    }

    #[test]
    fn bodies_are_byte_for_byte_what_serde_json_wrote() {
        let ctx: EncryptionContext = [("b", "2"), ("a\u{1}", "é\"")].into_iter().collect();
        let grants = ["g1".to_string(), "g\\2".to_string()];
        let g =
            generate_data_key_body("alias/x", 32, &ctx, &grants).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&g),
            r#"{"KeyId":"alias/x","NumberOfBytes":32,"EncryptionContext":{"a\u0001":"é\"","b":"2"},"GrantTokens":["g1","g\\2"]}"#
        );
        let e = encrypt_body("k", &[1, 2, 3], &EncryptionContext::new(), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&e[..], br#"{"KeyId":"k","Plaintext":"AQID"}"#);
        let d = decrypt_body(Some("k"), &[1], &ctx, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&d),
            r#"{"CiphertextBlob":"AQ==","KeyId":"k","EncryptionContext":{"a\u0001":"é\"","b":"2"}}"#
        );
        // Pre-sized: escaping never made the buffer reallocate.
        let worst: EncryptionContext = [("\u{1}".repeat(50), "\"".repeat(50))]
            .into_iter()
            .collect();
        let w = generate_data_key_body(&"\u{2}".repeat(40), 32, &worst, &["\u{3}".repeat(30)])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            w.len() <= w.capacity()
                && w.capacity() == capacity(&worst, &["\u{3}".repeat(30)], 6 * 40)
        );
    }

    #[test]
    fn request_has_target_content_type_and_no_host_header() {
        let ep = Endpoint::parse("http://127.0.0.1:4566").unwrap_or_else(|e| panic!("{e}"));
        let r = build(&ep, Operation::Decrypt, Zeroizing::new(b"{}".to_vec()));
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "http://127.0.0.1:4566/");
        assert_eq!(r.header("x-amz-target"), Some("TrentService.Decrypt"));
        assert_eq!(r.header("content-type"), Some(CONTENT_TYPE));
        assert_eq!(r.header("host"), None);
    }

    #[test]
    fn endpoints_normalize_default_ports_and_refuse_odd_urls() {
        let e = Endpoint::parse("https://KMS.example.com:443").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.host(), "kms.example.com");
        assert_eq!(e.url(), "https://kms.example.com/");
        let p = Endpoint::parse("http://localhost:8080/api/kms").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.host(), p.path()), ("localhost:8080", "/api/kms"));
        assert!(p.is_loopback());
        for bad in [
            "kms.example.com",
            "ftp://x",
            "http://",
            "http://u@h/",
            "http://h/?a=b",
            "http://h/a b",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let r = Endpoint::for_region("eu-west-1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.url(), "https://kms.eu-west-1.amazonaws.com/");
        assert!(!r.is_loopback());
        assert_eq!(
            Endpoint::for_region("cn-north-1").map(|e| e.url()).ok(),
            Some("https://kms.cn-north-1.amazonaws.com.cn/".to_string())
        );
        assert!(Endpoint::for_region("us-east-1/../x").is_err());
    }
}
