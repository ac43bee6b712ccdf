//! Who is calling: SigV4 (parsed always, verified when access keys are configured) and an
//! optional bearer token. By default nothing is required, like a lenient emulator.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::ct_eq;
use crate::error::{ErrorKind, KmsError};
use crate::http::Request;
use crate::time;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// AWS accepts signatures up to 15 minutes off the server clock.
pub const MAX_SKEW_MS: i64 = 15 * 60 * 1000;

type HmacSha256 = Hmac<Sha256>;

/// A configured credential (`--access-key ID:SECRET[:SESSION_TOKEN]`).
#[derive(Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.splitn(3, ':');
        let (Some(id), Some(secret)) = (parts.next(), parts.next()) else {
            return Err(format!(
                "--access-key wants ID:SECRET[:SESSION_TOKEN], got {spec:?}"
            ));
        };
        if id.is_empty() || secret.is_empty() || id.contains('/') {
            return Err(
                "--access-key: ID and SECRET must be non-empty and ID must not contain '/'".into(),
            );
        }
        Ok(Self {
            id: id.to_owned(),
            secret: Zeroizing::new(secret.to_owned()),
            session_token: parts
                .next()
                .filter(|t| !t.is_empty())
                .map(|t| Zeroizing::new(t.to_owned())),
        })
    }
}

#[derive(Clone, Default)]
pub struct AuthConfig {
    pub access_keys: Vec<AccessKey>,
    pub bearer_token: Option<Zeroizing<String>>,
    /// The region signatures must be scoped to (the server's `--region`).
    pub region: String,
}

/// How a request authenticated (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    /// A SigV4-shaped header that nobody checked (lenient mode).
    SigV4Unverified,
    SigV4,
    Bearer,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SigV4Unverified => "sigv4-unverified",
            Self::SigV4 => "sigv4",
            Self::Bearer => "bearer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: Option<String>,
    pub method: AuthMethod,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Header {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub terminator: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

fn incomplete(m: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::IncompleteSignature, m)
}

fn invalid(m: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::InvalidSignature, m)
}

pub fn parse_authorization(value: &str) -> Result<SigV4Header, KmsError> {
    let (alg, rest) = value
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| incomplete("Authorization header is not SigV4"))?;
    if alg != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported Authorization algorithm '{alg}'"
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| {
            incomplete(format!(
                "Authorization component '{}' is not key=value",
                part.trim()
            ))
        })?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ));
    };
    let mut scope = credential.rsplitn(5, '/');
    let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key_id)) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(incomplete(format!(
            "Credential '{credential}' is not ACCESS_KEY/DATE/REGION/SERVICE/aws4_request"
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("Credential has an empty access key id"));
    }
    Ok(SigV4Header {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        terminator: terminator.to_owned(),
        signed_headers: signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        signature: signature.trim().to_owned(),
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// SigV4 URI encoding: everything but unreserved characters (and `/` in paths) as `%XX`.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical URI as botocore computes it for non-S3 services: dot segments and empty
/// segments removed, then the (already percent-encoded) path encoded once more.
pub fn canonical_uri(raw_path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for seg in raw_path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut path = format!("/{}", segs.join("/"));
    if raw_path.ends_with('/') && path != "/" {
        path.push('/');
    }
    uri_encode(&path, true)
}

/// The canonical query string as botocore builds it from a URL: pairs sorted by (key, value).
pub fn canonical_query(raw_query: &str) -> String {
    if raw_query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(&str, &str)> = raw_query
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `name:value\n` for each signed header, values trimmed with inner whitespace collapsed and
/// repeated headers joined by commas.
fn canonical_headers(req: &Request, signed: &[String]) -> Result<String, KmsError> {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = req
            .header_values(name)
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(invalid(format!(
                "The signed header '{name}' is missing from the request."
            )));
        }
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(out)
}

pub fn canonical_request(
    req: &Request,
    signed: &[String],
    payload_hash: &str,
) -> Result<String, KmsError> {
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{payload_hash}",
        req.method,
        canonical_uri(&req.path),
        canonical_query(&req.query),
        canonical_headers(req, signed)?,
        signed.join(";")
    ))
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32], KmsError> {
    let mut m = HmacSha256::new_from_slice(key).map_err(|_| KmsError::internal("hmac key"))?;
    m.update(data);
    Ok(m.finalize().into_bytes().into())
}

pub fn signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Result<[u8; 32], KmsError> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes())?;
    let k = hmac(&k, region.as_bytes())?;
    let k = hmac(&k, service.as_bytes())?;
    hmac(&k, b"aws4_request")
}

pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

impl AuthConfig {
    /// Whether requests must authenticate (any access key or bearer token configured).
    pub fn required(&self) -> bool {
        !self.access_keys.is_empty() || self.bearer_token.is_some()
    }

    pub fn authenticate(&self, req: &Request, now_ms: i64) -> Result<Caller, KmsError> {
        let header = req.header("authorization");
        if !self.required() {
            // Lenient: record who the caller says it is, check nothing.
            let access_key_id = header
                .and_then(|h| parse_authorization(h).ok())
                .map(|p| p.access_key_id);
            let method = match (&access_key_id, header) {
                (Some(_), _) => AuthMethod::SigV4Unverified,
                _ => AuthMethod::None,
            };
            return Ok(Caller {
                access_key_id,
                method,
            });
        }
        let Some(header) = header else {
            return Err(KmsError::new(
                ErrorKind::MissingAuthenticationToken,
                "Missing Authentication Token",
            ));
        };
        if let Some(token) = header.strip_prefix("Bearer ") {
            return match &self.bearer_token {
                Some(expected) if ct_eq(token.trim().as_bytes(), expected.as_bytes()) => {
                    Ok(Caller {
                        access_key_id: None,
                        method: AuthMethod::Bearer,
                    })
                }
                Some(_) => Err(KmsError::new(
                    ErrorKind::AccessDenied,
                    "The bearer token is not valid.",
                )),
                None => Err(KmsError::new(
                    ErrorKind::AccessDenied,
                    "Bearer tokens are not accepted by this server.",
                )),
            };
        }
        if self.access_keys.is_empty() {
            return Err(KmsError::new(
                ErrorKind::AccessDenied,
                "This server accepts only 'Authorization: Bearer <token>' (started with --bearer-token).",
            ));
        }
        self.verify_sigv4(req, header, now_ms)
    }

    fn verify_sigv4(&self, req: &Request, header: &str, now_ms: i64) -> Result<Caller, KmsError> {
        let h = parse_authorization(header)?;
        let key = self
            .access_keys
            .iter()
            .find(|k| k.id == h.access_key_id)
            .ok_or_else(|| {
                KmsError::new(
                    ErrorKind::UnrecognizedClient,
                    "The security token included in the request is invalid.",
                )
            })?;
        if h.service != "kms" {
            return Err(invalid(format!(
                "Credential should be scoped to correct service: 'kms'. (got '{}')",
                h.service
            )));
        }
        if h.region != self.region {
            return Err(invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. This server is '{}'.",
                h.region, self.region
            )));
        }
        if h.terminator != "aws4_request" {
            return Err(invalid(
                "Credential should be scoped with a valid terminator: 'aws4_request'.",
            ));
        }
        let amz_date = req.header("x-amz-date").ok_or_else(|| {
            incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        })?;
        let signed_at = time::parse_amz_date(amz_date)
            .ok_or_else(|| incomplete(format!("Invalid X-Amz-Date '{amz_date}'")))?;
        if amz_date.get(..8) != Some(h.date.as_str()) {
            return Err(invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.",
            ));
        }
        if (now_ms - signed_at).abs() > MAX_SKEW_MS {
            return Err(invalid(format!(
                "Signature expired: {amz_date} is more than 15 minutes from the server time {}.",
                time::rfc3339(now_ms)
            )));
        }
        if !h.signed_headers.iter().any(|n| n == "host") {
            return Err(invalid(
                "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        let token = req.header("x-amz-security-token");
        match (&key.session_token, token) {
            (None, None) => {}
            (Some(expected), Some(got)) if ct_eq(expected.as_bytes(), got.as_bytes()) => {
                if !h.signed_headers.iter().any(|n| n == "x-amz-security-token") {
                    return Err(invalid("'X-Amz-Security-Token' must be a 'SignedHeader'."));
                }
            }
            _ => {
                return Err(KmsError::new(
                    ErrorKind::UnrecognizedClient,
                    "The security token included in the request is invalid.",
                ));
            }
        }
        let body_hash = payload_hash(&req.body);
        if let Some(claimed) = req.header("x-amz-content-sha256")
            && claimed != body_hash
        {
            return Err(invalid(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
        let creq = canonical_request(req, &h.signed_headers, &body_hash)?;
        let scope = format!("{}/{}/{}/{}", h.date, h.region, h.service, h.terminator);
        let sts = string_to_sign(amz_date, &scope, &creq);
        let kdate = signing_key(&key.secret, &h.date, &h.region, &h.service)?;
        let mut mac =
            HmacSha256::new_from_slice(&kdate).map_err(|_| KmsError::internal("hmac key"))?;
        mac.update(sts.as_bytes());
        let provided = hex_decode(&h.signature).unwrap_or_default();
        if mac.verify_slice(&provided).is_err() {
            // A dev server can afford to say what it expected: it makes client signers debuggable.
            return Err(invalid(format!(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.\n\nThe Canonical String for this request should have been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
            )));
        }
        Ok(Caller {
            access_key_id: Some(h.access_key_id),
            method: AuthMethod::SigV4,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors printed by shared/reference/kmscheck/sigv4_vector.py (botocore and an
    // independent hashlib implementation agree on them).
    const AK: &str = "AKIDEXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const AMZ_DATE: &str = "20150830T123600Z";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=";

    fn request(host: &str, op: &str, body: &str, region_sig: Option<(&str, &str)>) -> Request {
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("x-amz-target".to_owned(), format!("TrentService.{op}")),
            ("x-amz-date".to_owned(), AMZ_DATE.to_owned()),
            ("host".to_owned(), host.to_owned()),
        ];
        if let Some((region, sig)) = region_sig {
            headers.push((
                "authorization".to_owned(),
                format!("AWS4-HMAC-SHA256 Credential={AK}/20150830/{region}/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={sig}"),
            ));
        }
        Request {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            minor_version: 1,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn config(region: &str, token: Option<&str>) -> AuthConfig {
        AuthConfig {
            access_keys: vec![AccessKey {
                id: AK.into(),
                secret: Zeroizing::new(SK.into()),
                session_token: token.map(|t| Zeroizing::new(t.into())),
            }],
            bearer_token: None,
            region: region.into(),
        }
    }

    fn at_vector_time() -> i64 {
        time::parse_amz_date(AMZ_DATE).unwrap() + 30_000
    }

    #[test]
    fn known_vector_describe_key_intermediates_match() {
        let req = request(
            "kms.us-east-1.amazonaws.com",
            "DescribeKey",
            r#"{"KeyId":"alias/test"}"#,
            None,
        );
        let signed: Vec<String> = ["content-type", "host", "x-amz-date", "x-amz-target"]
            .map(String::from)
            .to_vec();
        let creq = canonical_request(&req, &signed, &payload_hash(&req.body)).unwrap();
        assert_eq!(
            creq,
            "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:kms.us-east-1.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-target:TrentService.DescribeKey\n\ncontent-type;host;x-amz-date;x-amz-target\n07906c0840c4b5473e6e24f1a2d98e74ad19d0ea2ad64385a56bb3c28d438f00"
        );
        let sts = string_to_sign(AMZ_DATE, "20150830/us-east-1/kms/aws4_request", &creq);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/kms/aws4_request\nb7fd9a76c85e0129001608df9039af33ec2de4f85e1a7189b0af266a9921b844"
        );
        let k = signing_key(SK, "20150830", "us-east-1", "kms").unwrap();
        assert_eq!(
            hex(&k),
            "daf4bdf807b2e75aeddb12d90af33760aa260ac37875a093af71f7f0ddda481e"
        );
        assert_eq!(
            hex(&hmac(&k, sts.as_bytes()).unwrap()),
            "ca84ad3ec28819046ac87f10827ba5a367b61999f803bd6e7d1832ee0dbc7797"
        );
    }

    #[test]
    fn known_vectors_verify_end_to_end() {
        let cases = [
            (
                "kms.us-east-1.amazonaws.com",
                "DescribeKey",
                r#"{"KeyId":"alias/test"}"#,
                "us-east-1",
                "ca84ad3ec28819046ac87f10827ba5a367b61999f803bd6e7d1832ee0dbc7797",
            ),
            (
                "127.0.0.1:45123",
                "Decrypt",
                r#"{"CiphertextBlob":"AAAA"}"#,
                "us-east-1",
                "54fd4a36ea53e417e1d7cbf66581c7a07817a054bec19e37b93f7423a8a7480b",
            ),
            (
                "kms.eu-west-1.amazonaws.com",
                "ListKeys",
                "{}",
                "eu-west-1",
                "7a4167c003e49887a08b124bdc9b4dda933ad31dfa1fa68be521c3cd148fd51a",
            ),
        ];
        for (host, op, body, region, sig) in cases {
            let req = request(host, op, body, Some((region, sig)));
            let caller = config(region, None)
                .authenticate(&req, at_vector_time())
                .unwrap();
            assert_eq!(
                caller,
                Caller {
                    access_key_id: Some(AK.into()),
                    method: AuthMethod::SigV4
                },
                "{op}"
            );
        }
    }

    #[test]
    fn known_vector_with_session_token_verifies_and_token_is_enforced() {
        let body = r#"{"KeyId":"alias/test","KeySpec":"AES_256","EncryptionContext":{"a":"b"}}"#;
        let sig = "32ac2ceabda4dc1c8b0917f9a6f1166351a2589aa5858182e343ed97909a828b";
        let mut req = request("kms.us-east-1.amazonaws.com", "GenerateDataKey", body, None);
        req.headers
            .push(("x-amz-security-token".into(), TOKEN.into()));
        req.headers.push((
            "authorization".into(),
            format!("AWS4-HMAC-SHA256 Credential={AK}/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature={sig}"),
        ));
        assert!(
            config("us-east-1", Some(TOKEN))
                .authenticate(&req, at_vector_time())
                .is_ok()
        );
        // Credentials configured without a token do not accept one, and vice versa.
        let e = config("us-east-1", None)
            .authenticate(&req, at_vector_time())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnrecognizedClient);
        let e = config("us-east-1", Some("other"))
            .authenticate(&req, at_vector_time())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnrecognizedClient);
    }

    #[test]
    fn tampering_or_wrong_credentials_are_rejected_with_kms_error_types() {
        let sig = "54fd4a36ea53e417e1d7cbf66581c7a07817a054bec19e37b93f7423a8a7480b";
        let now = at_vector_time();
        let good = || {
            request(
                "127.0.0.1:45123",
                "Decrypt",
                r#"{"CiphertextBlob":"AAAA"}"#,
                Some(("us-east-1", sig)),
            )
        };
        let cfg = config("us-east-1", None);

        let mut body_changed = good();
        body_changed.body = br#"{"CiphertextBlob":"AAAB"}"#.to_vec();
        let mut host_without_port = good();
        host_without_port.headers.retain(|(n, _)| n != "host");
        host_without_port
            .headers
            .push(("host".into(), "127.0.0.1".into()));
        let mut target_changed = good();
        target_changed.headers.retain(|(n, _)| n != "x-amz-target");
        target_changed
            .headers
            .push(("x-amz-target".into(), "TrentService.Encrypt".into()));
        let mut no_date = good();
        no_date.headers.retain(|(n, _)| n != "x-amz-date");
        let mut wrong_sha_header = good();
        wrong_sha_header
            .headers
            .push(("x-amz-content-sha256".into(), "00".into()));

        let wrong_secret = AuthConfig {
            access_keys: vec![AccessKey {
                id: AK.into(),
                secret: Zeroizing::new("wrong".into()),
                session_token: None,
            }],
            ..cfg.clone()
        };
        let unknown_key = AuthConfig {
            access_keys: vec![AccessKey {
                id: "AKIAOTHER".into(),
                secret: Zeroizing::new(SK.into()),
                session_token: None,
            }],
            ..cfg.clone()
        };
        let cases: Vec<(&str, AuthConfig, Request, i64, ErrorKind)> = vec![
            (
                "body changed",
                cfg.clone(),
                body_changed,
                now,
                ErrorKind::InvalidSignature,
            ),
            (
                "host signed with port, sent without",
                cfg.clone(),
                host_without_port,
                now,
                ErrorKind::InvalidSignature,
            ),
            (
                "target changed",
                cfg.clone(),
                target_changed,
                now,
                ErrorKind::InvalidSignature,
            ),
            (
                "no x-amz-date",
                cfg.clone(),
                no_date,
                now,
                ErrorKind::IncompleteSignature,
            ),
            (
                "content sha mismatch",
                cfg.clone(),
                wrong_sha_header,
                now,
                ErrorKind::InvalidSignature,
            ),
            (
                "wrong secret",
                wrong_secret,
                good(),
                now,
                ErrorKind::InvalidSignature,
            ),
            (
                "unknown access key",
                unknown_key,
                good(),
                now,
                ErrorKind::UnrecognizedClient,
            ),
            (
                "other region",
                config("eu-west-1", None),
                good(),
                now,
                ErrorKind::InvalidSignature,
            ),
            (
                "16 minutes late",
                cfg.clone(),
                good(),
                now + 16 * 60 * 1000,
                ErrorKind::InvalidSignature,
            ),
            (
                "16 minutes early",
                cfg.clone(),
                good(),
                now - 17 * 60 * 1000,
                ErrorKind::InvalidSignature,
            ),
        ];
        for (name, cfg, req, now, kind) in cases {
            assert_eq!(
                cfg.authenticate(&req, now).unwrap_err().kind,
                kind,
                "{name}"
            );
        }
        assert!(cfg.authenticate(&good(), now + 14 * 60 * 1000).is_ok());
    }

    #[test]
    fn lenient_mode_reads_the_access_key_and_checks_nothing() {
        let cfg = AuthConfig {
            region: "us-east-1".into(),
            ..Default::default()
        };
        let req = request("h", "ListKeys", "{}", Some(("eu-west-1", "00")));
        assert_eq!(
            cfg.authenticate(&req, 0).unwrap(),
            Caller {
                access_key_id: Some(AK.into()),
                method: AuthMethod::SigV4Unverified
            }
        );
        let anon = request("h", "ListKeys", "{}", None);
        assert_eq!(
            cfg.authenticate(&anon, 0).unwrap(),
            Caller {
                access_key_id: None,
                method: AuthMethod::None
            }
        );
    }

    #[test]
    fn bearer_mode_accepts_only_the_configured_token() {
        let cfg = AuthConfig {
            bearer_token: Some(Zeroizing::new("s3cret".into())),
            region: "us-east-1".into(),
            ..Default::default()
        };
        let with = |v: &str| {
            let mut r = request("h", "ListKeys", "{}", None);
            r.headers.push(("authorization".into(), v.into()));
            r
        };
        assert_eq!(
            cfg.authenticate(&with("Bearer s3cret"), 0).unwrap().method,
            AuthMethod::Bearer
        );
        assert_eq!(
            cfg.authenticate(&with("Bearer s3creT"), 0)
                .unwrap_err()
                .kind,
            ErrorKind::AccessDenied
        );
        assert_eq!(
            cfg.authenticate(&with("Bearer "), 0).unwrap_err().kind,
            ErrorKind::AccessDenied
        );
        let sigv4 = request("h", "ListKeys", "{}", Some(("us-east-1", "00")));
        assert_eq!(
            cfg.authenticate(&sigv4, 0).unwrap_err().kind,
            ErrorKind::AccessDenied
        );
        let none = request("h", "ListKeys", "{}", None);
        assert_eq!(
            cfg.authenticate(&none, 0).unwrap_err().kind,
            ErrorKind::MissingAuthenticationToken
        );
    }

    #[test]
    fn malformed_authorization_headers_are_incomplete_signature() {
        for bad in [
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=/b/c/d/e, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 garbage",
        ] {
            assert_eq!(
                parse_authorization(bad).unwrap_err().kind,
                ErrorKind::IncompleteSignature,
                "{bad}"
            );
        }
    }

    #[test]
    fn canonical_uri_and_query_match_botocore() {
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
    }

    #[test]
    fn access_key_specs_parse() {
        let k = AccessKey::parse("AKID:se:cret:tok").unwrap();
        assert_eq!(
            (
                k.id.as_str(),
                k.secret.as_str(),
                k.session_token.as_deref().map(String::as_str)
            ),
            ("AKID", "se", Some("cret:tok"))
        );
        assert!(AccessKey::parse("AKID").is_err());
        assert!(AccessKey::parse(":x").is_err());
        assert!(AccessKey::parse("a/b:x").is_err());
    }
}
