//! AWS Signature Version 4 for KMS JSON 1.1 requests. Pure: the caller supplies the time.
//!
//! Signs `content-type`, `host`, `x-amz-date`, `x-amz-target` and, with temporary
//! credentials, `x-amz-security-token` (botocore signs the token; strict moto accepts it
//! either way, so signing it is the safe choice — kms-api.md §5).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::auth::Credentials;
use super::transport::HttpRequest;

/// The algorithm name in the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// KMS's signing name.
pub const SERVICE: &str = "kms";

/// A SigV4 timestamp: `YYYYMMDDTHHMMSSZ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate(String);

impl AmzDate {
    /// From whole seconds since the Unix epoch (UTC).
    pub fn from_unix_seconds(secs: u64) -> Self {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        AmzDate(format!(
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        ))
    }

    /// The full stamp (`x-amz-date`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The date part (`YYYYMMDD`) used in the credential scope.
    pub fn date(&self) -> &str {
        // `get`, not `[..8]` (always ASCII here): see the endpoint split in request.rs.
        self.0.get(..8).unwrap_or_default()
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`), so no date crate is needed on wasm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Intermediate values of one signature (exposed for known-answer tests and debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// `content-type;host;…`.
    pub signed_headers: String,
    /// Lowercase hex signature.
    pub signature: String,
    /// The complete `Authorization` header value.
    pub authorization: String,
}

/// Sign `request` (whose headers must already hold `Content-Type` and `X-Amz-Target`) for
/// `host` (exactly as it goes on the wire, with a non-default `:port`), and return the
/// signature. Does not modify the request; see [`sign_request`].
pub fn sign(
    request: &HttpRequest,
    host: &str,
    path: &str,
    region: &str,
    credentials: &Credentials,
    date: &AmzDate,
) -> Signature {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k == "content-type" || k == "x-amz-target"
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.push(("host".into(), host.trim().to_string()));
    headers.push(("x-amz-date".into(), date.as_str().to_string()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.trim().to_string()));
    }
    crate::sort::heapsort(&mut headers);
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let payload_hash = hex(&Sha256::digest(&request.body[..]));
    let canonical_request = format!(
        "{}\n{path}\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        request.method
    );
    let scope = format!("{}/{region}/{SERVICE}/aws4_request", date.date());
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        date.as_str(),
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(&credentials.secret_access_key, date.date(), region);
    let signature = hex(&hmac(&key[..], string_to_sign.as_bytes())[..]);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    }
}

/// Sign and add `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials) and
/// `Authorization` to `request`.
pub fn sign_request(
    request: &mut HttpRequest,
    host: &str,
    path: &str,
    region: &str,
    credentials: &Credentials,
    date: &AmzDate,
) {
    let sig = sign(request, host, path, region, credentials, date);
    request
        .headers
        .push(("X-Amz-Date".into(), date.as_str().to_string()));
    if let Some(token) = &credentials.session_token {
        request
            .headers
            .push(("X-Amz-Security-Token".into(), token.clone()));
    }
    request
        .headers
        .push(("Authorization".into(), sig.authorization));
}

/// The derived signing key: HMAC chain `"AWS4"+secret → date → region → "kms" → "aws4_request"`.
pub fn signing_key(secret: &str, date: &str, region: &str) -> Zeroizing<[u8; 32]> {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&k_secret, date.as_bytes());
    let k_region = hmac(&k_date[..], region.as_bytes());
    let k_service = hmac(&k_region[..], SERVICE.as_bytes());
    hmac(&k_service[..], b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    // HMAC accepts keys of any length, so this cannot fail; keep a zero key rather than panic.
    let mut out = Zeroizing::new([0u8; 32]);
    if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        mac.update(data);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::transport::FetchCredentials;

    const AK: &str = "AKIDEXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=";
    /// 2015-08-30T12:36:00Z, the `AMZ_DATE` of kmscheck/sigv4_vector.py.
    const T: u64 = 1_440_938_160;

    fn req(op: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: "POST",
            url: String::new(),
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("X-Amz-Target".into(), format!("TrentService.{op}")),
            ],
            body: Zeroizing::new(body.as_bytes().to_vec()),
            fetch_credentials: FetchCredentials::Omit,
        }
    }

    fn creds(token: Option<&str>) -> Credentials {
        Credentials::new(AK, SK, token.map(str::to_string))
    }

    #[test]
    fn amz_date_formats_utc_including_leap_days() {
        assert_eq!(AmzDate::from_unix_seconds(T).as_str(), "20150830T123600Z");
        assert_eq!(AmzDate::from_unix_seconds(0).as_str(), "19700101T000000Z");
        // 2024-02-29T23:59:59Z
        assert_eq!(
            AmzDate::from_unix_seconds(1_709_251_199).as_str(),
            "20240229T235959Z"
        );
        assert_eq!(AmzDate::from_unix_seconds(1_709_251_199).date(), "20240229");
    }

    // Expected values: output of kmscheck/sigv4_vector.py (botocore and an independent
    // hashlib implementation agree on them).
    #[test]
    fn known_answer_aws_endpoint() {
        let s = sign(
            &req("DescribeKey", r#"{"KeyId":"alias/test"}"#),
            "kms.us-east-1.amazonaws.com",
            "/",
            "us-east-1",
            &creds(None),
            &AmzDate::from_unix_seconds(T),
        );
        assert_eq!(
            s.canonical_request,
            "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:kms.us-east-1.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-target:TrentService.DescribeKey\n\ncontent-type;host;x-amz-date;x-amz-target\n07906c0840c4b5473e6e24f1a2d98e74ad19d0ea2ad64385a56bb3c28d438f00"
        );
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/kms/aws4_request\nb7fd9a76c85e0129001608df9039af33ec2de4f85e1a7189b0af266a9921b844"
        );
        assert_eq!(
            hex(&signing_key(SK, "20150830", "us-east-1")[..]),
            "daf4bdf807b2e75aeddb12d90af33760aa260ac37875a093af71f7f0ddda481e"
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=ca84ad3ec28819046ac87f10827ba5a367b61999f803bd6e7d1832ee0dbc7797"
        );
    }

    #[test]
    fn known_answer_session_token_is_signed() {
        let body = r#"{"KeyId":"alias/test","KeySpec":"AES_256","EncryptionContext":{"a":"b"}}"#;
        let mut r = req("GenerateDataKey", body);
        sign_request(
            &mut r,
            "kms.us-east-1.amazonaws.com",
            "/",
            "us-east-1",
            &creds(Some(TOKEN)),
            &AmzDate::from_unix_seconds(T),
        );
        assert_eq!(r.header("x-amz-security-token"), Some(TOKEN));
        assert_eq!(r.header("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            r.header("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=32ac2ceabda4dc1c8b0917f9a6f1166351a2589aa5858182e343ed97909a828b"
            )
        );
    }

    #[test]
    fn known_answer_loopback_host_keeps_its_port() {
        let s = sign(
            &req("Decrypt", r#"{"CiphertextBlob":"AAAA"}"#),
            "127.0.0.1:45123",
            "/",
            "us-east-1",
            &creds(None),
            &AmzDate::from_unix_seconds(T),
        );
        assert!(s.canonical_request.contains("\nhost:127.0.0.1:45123\n"));
        assert_eq!(
            s.signature,
            "54fd4a36ea53e417e1d7cbf66581c7a07817a054bec19e37b93f7423a8a7480b"
        );
    }

    #[test]
    fn known_answer_other_region() {
        let s = sign(
            &req("ListKeys", "{}"),
            "kms.eu-west-1.amazonaws.com",
            "/",
            "eu-west-1",
            &creds(None),
            &AmzDate::from_unix_seconds(T),
        );
        assert_eq!(
            hex(&signing_key(SK, "20150830", "eu-west-1")[..]),
            "3574efad2dbeb304736a7945e2ea76d9ad2b3586ad392901a975e38f519cc39e"
        );
        assert_eq!(
            s.signature,
            "7a4167c003e49887a08b124bdc9b4dda933ad31dfa1fa68be521c3cd148fd51a"
        );
    }

    #[test]
    fn changing_the_body_after_signing_changes_the_signature() {
        let d = AmzDate::from_unix_seconds(T);
        let a = sign(
            &req("Decrypt", "{}"),
            "h",
            "/",
            "us-east-1",
            &creds(None),
            &d,
        );
        let b = sign(
            &req("Decrypt", "{ }"),
            "h",
            "/",
            "us-east-1",
            &creds(None),
            &d,
        );
        assert_ne!(a.signature, b.signature);
    }
}
