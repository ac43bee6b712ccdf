//! Message header v1/v2 (SPEC `data-format/message-header.md`, digest §4). Pure: no crypto.
//!
//! [`parse_header`] keeps the exact bytes it consumed so the header tag and the signature are
//! computed over what was received, never over a re-serialization.

use crate::error::{Error, Result};
use crate::format::context::EncryptionContext;
use crate::format::reader::{Incomplete, Reader};
use crate::format::{Limits, Progress};
use crate::suite::AlgorithmSuite;

/// GCM IV length used everywhere in the format.
pub const IV_LEN: usize = 12;
/// GCM tag length used everywhere in the format.
pub const TAG_LEN: usize = 16;
/// v1 header type byte: "customer authenticated encrypted data".
const V1_TYPE: u8 = 0x80;

/// One wrapped copy of the data key (digest §4.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EncryptedDataKey {
    /// Which keyring made it (`aws-kms`, or a raw keyring's namespace).
    pub provider_id: String,
    /// Keyring-specific info (KMS: the key ARN; raw AES: name ‖ tag bits ‖ IV len ‖ IV).
    pub provider_info: Vec<u8>,
    /// The wrapped key.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for EncryptedDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedDataKey")
            .field("provider_id", &self.provider_id)
            .field(
                "provider_info",
                &String::from_utf8_lossy(&self.provider_info),
            )
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Framed (every message we write) or the legacy single block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `01`: one GCM block for the whole plaintext (decrypt only).
    NonFramed,
    /// `02`: frames of `frame_length` bytes.
    Framed,
}

/// The header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBody {
    /// The algorithm suite (fixes the version: v2 for committing suites).
    pub suite: AlgorithmSuite,
    /// 16 bytes (v1) or 32 bytes (v2).
    pub message_id: Vec<u8>,
    /// The stored encryption context (required-only pairs are not here).
    pub context: EncryptionContext,
    /// Wrapped data keys, in header order.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Framed or not.
    pub content_type: ContentType,
    /// Plaintext bytes per regular frame; 0 when non-framed.
    pub frame_length: u32,
    /// v2: the commit key (32 bytes). v1: empty.
    pub suite_data: Vec<u8>,
}

/// A parsed header with the bytes it came from.
#[derive(Debug, Clone)]
pub struct ParsedHeader {
    /// The fields.
    pub body: HeaderBody,
    /// The IV of the header tag: read from the header (v1) or zero (v2).
    pub header_iv: [u8; IV_LEN],
    /// The header authentication tag.
    pub header_tag: [u8; TAG_LEN],
    /// Every header byte as received (body ‖ \[iv\] ‖ tag): the signature covers these.
    pub raw: Vec<u8>,
    /// How many leading bytes of `raw` are the header body (the header tag's AAD).
    pub body_len: usize,
}

impl ParsedHeader {
    /// The header body bytes exactly as received.
    pub fn body_bytes(&self) -> &[u8] {
        &self.raw[..self.body_len]
    }
}

impl HeaderBody {
    /// The message format version implied by the suite.
    pub fn version(&self) -> u8 {
        self.suite.message_version()
    }

    /// Serialize the header body (everything the header tag authenticates).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if a field does not fit the format (context too large, more than
    /// 65535 EDKs or an EDK field over 65535 bytes, wrong message id length).
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let suite = self.suite;
        if self.message_id.len() != suite.message_id_len() {
            return Err(Error::invalid("message id length does not match the suite"));
        }
        if self.suite_data.len() != suite.suite_data_len() {
            return Err(Error::invalid("suite data length does not match the suite"));
        }
        let ctx = self.context.serialize()?;
        let edk_count = u16::try_from(self.encrypted_data_keys.len())
            .map_err(|_| Error::invalid("more than 65535 encrypted data keys"))?;
        if edk_count == 0 {
            return Err(Error::invalid(
                "a message needs at least one encrypted data key",
            ));
        }
        let mut out = Vec::with_capacity(64 + ctx.len());
        let version = suite.message_version();
        out.push(version);
        if version == 1 {
            out.push(V1_TYPE);
        }
        out.extend_from_slice(&suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        put_u16_prefixed(&mut out, &ctx)?;
        out.extend_from_slice(&edk_count.to_be_bytes());
        for edk in &self.encrypted_data_keys {
            put_u16_prefixed(&mut out, edk.provider_id.as_bytes())?;
            put_u16_prefixed(&mut out, &edk.provider_info)?;
            put_u16_prefixed(&mut out, &edk.ciphertext)?;
        }
        out.push(match self.content_type {
            ContentType::NonFramed => 1,
            ContentType::Framed => 2,
        });
        if version == 1 {
            out.extend_from_slice(&[0, 0, 0, 0]); // reserved
            out.push(IV_LEN as u8);
        }
        out.extend_from_slice(&self.frame_length.to_be_bytes());
        out.extend_from_slice(&self.suite_data);
        Ok(out)
    }
}

fn put_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| Error::invalid("a header field is longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Parse a header from the start of `buf`.
///
/// Answers `NeedMore(n)` while the header is incomplete, `Done` with the header and the number
/// of bytes it used, or an error as soon as the bytes can no longer be a valid header (checked
/// field by field, so a hostile length is refused before anything is allocated for it).
///
/// # Errors
/// `MALFORMED_MESSAGE`, `UNSUPPORTED_SUITE`, `TOO_MANY_ENCRYPTED_DATA_KEYS`, `LIMIT_EXCEEDED`.
pub fn parse_header(buf: &[u8], limits: &Limits) -> Result<Progress<ParsedHeader>> {
    // The parser never sees a byte past the size limit: a field that crosses it reads as
    // "need more", refused below. So a complete header and one arriving in pieces meet the
    // same checks in the same order (no content check of a field the limit already excludes).
    let view = &buf[..buf.len().min(limits.max_header_size)];
    match parse_inner(view, limits) {
        Ok(h) => {
            let consumed = h.raw.len();
            Ok(Progress::Done { value: h, consumed })
        }
        Err(Step::Need(n)) => {
            // Whatever else happens, a header longer than the limit is refused.
            if view.len().saturating_add(n) > limits.max_header_size {
                return Err(Error::LimitExceeded(format!(
                    "header is larger than the {}-byte limit",
                    limits.max_header_size
                )));
            }
            Ok(Progress::NeedMore(n))
        }
        Err(Step::Bad(e)) => Err(e),
    }
}

enum Step {
    Need(usize),
    Bad(Error),
}

impl From<Incomplete> for Step {
    fn from(i: Incomplete) -> Self {
        Step::Need(i.needed)
    }
}

impl From<Error> for Step {
    fn from(e: Error) -> Self {
        Step::Bad(e)
    }
}

fn parse_inner(buf: &[u8], limits: &Limits) -> std::result::Result<ParsedHeader, Step> {
    let mut r = Reader::new(buf);
    let version = r.u8()?;
    if version != 1 && version != 2 {
        return Err(base64_hint(buf)
            .unwrap_or_else(|| {
                Error::malformed(format!("unknown message format version 0x{version:02x}"))
            })
            .into());
    }
    if version == 1 {
        let ty = r.u8()?;
        if ty != V1_TYPE {
            return Err(Error::malformed(format!("unknown v1 message type 0x{ty:02x}")).into());
        }
    }
    let suite = AlgorithmSuite::from_id(r.u16()?)?;
    if suite.message_version() != version {
        return Err(Error::malformed(format!(
            "suite {suite} does not belong to message format v{version}"
        ))
        .into());
    }
    let message_id = r.take(suite.message_id_len())?.to_vec();
    // Checked from the length field alone, before waiting for (or reading) the bytes.
    let ctx_len = usize::from(r.u16()?);
    if ctx_len > limits.max_context_size {
        return Err(Error::LimitExceeded(format!(
            "encryption context is {ctx_len} bytes; the limit is {}",
            limits.max_context_size
        ))
        .into());
    }
    let ctx_bytes = r.take(ctx_len)?;
    let context = EncryptionContext::parse(ctx_bytes)?;
    let edk_count = r.u16()?;
    if edk_count == 0 {
        return Err(Error::malformed("header has no encrypted data keys").into());
    }
    // SPEC client-apis/decrypt.md: the EDK limit is enforced while parsing, before any keyring.
    if usize::from(edk_count) > limits.max_encrypted_data_keys {
        return Err(Error::TooManyEncryptedDataKeys {
            count: usize::from(edk_count),
            max: limits.max_encrypted_data_keys,
        }
        .into());
    }
    let mut encrypted_data_keys = Vec::new();
    for _ in 0..edk_count {
        let provider_id = std::str::from_utf8(r.u16_prefixed()?)
            .map_err(|_| Error::malformed("EDK provider id is not UTF-8"))?
            .to_owned();
        let provider_info = r.u16_prefixed()?.to_vec();
        let ciphertext = r.u16_prefixed()?.to_vec();
        encrypted_data_keys.push(EncryptedDataKey {
            provider_id,
            provider_info,
            ciphertext,
        });
    }
    let content_type = match r.u8()? {
        1 => ContentType::NonFramed,
        2 => ContentType::Framed,
        other => {
            return Err(Error::malformed(format!("unknown content type 0x{other:02x}")).into());
        }
    };
    if version == 1 {
        if r.array::<4>()? != [0, 0, 0, 0] {
            return Err(Error::malformed("reserved header bytes are not zero").into());
        }
        let iv_len = r.u8()?;
        if usize::from(iv_len) != IV_LEN {
            return Err(Error::malformed(format!("IV length {iv_len} is not 12")).into());
        }
    }
    let frame_length = r.u32()?;
    match content_type {
        ContentType::Framed if frame_length == 0 => {
            return Err(Error::malformed("framed message with frame length 0").into());
        }
        ContentType::NonFramed if frame_length != 0 => {
            return Err(Error::malformed("non-framed message with a frame length").into());
        }
        _ => {}
    }
    if frame_length > limits.max_frame_length {
        return Err(Error::LimitExceeded(format!(
            "frame length {frame_length} exceeds the limit {}",
            limits.max_frame_length
        ))
        .into());
    }
    let suite_data = r.take(suite.suite_data_len())?.to_vec();
    let body_len = r.position();
    let mut header_iv = [0u8; IV_LEN];
    if version == 1 {
        header_iv = r.array()?;
    }
    let header_tag = r.array()?;
    let raw = buf[..r.position()].to_vec();
    Ok(ParsedHeader {
        body: HeaderBody {
            suite,
            message_id,
            context,
            encrypted_data_keys,
            content_type,
            frame_length,
            suite_data,
        },
        header_iv,
        header_tag,
        raw,
        body_len,
    })
}

/// Digest §9.1: a message that was Base64-encoded by mistake starts with `AY` (v1) or `Ag` (v2).
fn base64_hint(buf: &[u8]) -> Option<Error> {
    match buf {
        [b'A', b'Y' | b'g', ..] => Some(Error::malformed(
            "this looks like a Base64-encoded message; decode it to bytes first",
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(suite: AlgorithmSuite) -> HeaderBody {
        HeaderBody {
            suite,
            message_id: vec![7; suite.message_id_len()],
            context: [("purpose", "test"), ("é", "ü")].into_iter().collect(),
            encrypted_data_keys: vec![EncryptedDataKey {
                provider_id: "ns".into(),
                provider_info: b"key".to_vec(),
                ciphertext: vec![1; 48],
            }],
            content_type: ContentType::Framed,
            frame_length: 4096,
            suite_data: vec![9; suite.suite_data_len()],
        }
    }

    fn with_auth(body: &HeaderBody) -> Vec<u8> {
        let mut bytes = body.serialize().unwrap_or_default();
        if body.version() == 1 {
            bytes.extend_from_slice(&[0; IV_LEN]);
        }
        bytes.extend_from_slice(&[0xAA; TAG_LEN]);
        bytes
    }

    #[test]
    fn v1_and_v2_round_trip_and_keep_raw_bytes() {
        for suite in AlgorithmSuite::ALL {
            let body = sample(suite);
            let bytes = with_auth(&body);
            match parse_header(&bytes, &Limits::default()) {
                Ok(Progress::Done { value, consumed }) => {
                    assert_eq!(consumed, bytes.len());
                    assert_eq!(value.body, body);
                    assert_eq!(value.raw, bytes);
                    assert_eq!(value.header_tag, [0xAA; TAG_LEN]);
                }
                other => panic!("{suite}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_proper_prefix_asks_for_more() {
        let bytes = with_auth(&sample(AlgorithmSuite::DEFAULT));
        for cut in 0..bytes.len() {
            match parse_header(&bytes[..cut], &Limits::default()) {
                Ok(Progress::NeedMore(n)) => assert!(n >= 1 && cut + n <= bytes.len()),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn edk_count_over_limit_is_refused_before_reading_edks() {
        let mut bytes = with_auth(&sample(AlgorithmSuite::DEFAULT));
        // The EDK count follows version(1) suite(2) id(32) ctx.
        let ctx_len = usize::from(u16::from_be_bytes([bytes[35], bytes[36]]));
        let at = 37 + ctx_len;
        bytes[at] = 0xFF;
        bytes[at + 1] = 0xFF;
        let err = parse_header(&bytes[..at + 2], &Limits::default()).err();
        assert_eq!(err.map(|e| e.code()), Some("TOO_MANY_ENCRYPTED_DATA_KEYS"));
    }

    #[test]
    fn framed_with_zero_frame_length_is_malformed() {
        let mut body = sample(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey);
        body.frame_length = 0;
        let err = parse_header(&with_auth(&body), &Limits::default()).err();
        assert_eq!(err.map(|e| e.code()), Some("MALFORMED_MESSAGE"));
    }

    #[test]
    fn suite_of_the_wrong_version_is_malformed() {
        let mut bytes = with_auth(&sample(AlgorithmSuite::DEFAULT));
        bytes[1..3].copy_from_slice(&0x0178u16.to_be_bytes());
        let err = parse_header(&bytes, &Limits::default()).err();
        assert_eq!(err.map(|e| e.code()), Some("MALFORMED_MESSAGE"));
    }

    #[test]
    fn base64_input_is_named() {
        let err = parse_header(b"AgV4abcdef", &Limits::default()).err();
        assert!(
            err.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("Base64")
        );
    }

    #[test]
    fn oversized_header_hits_the_limit() {
        let limits = Limits {
            max_header_size: 64,
            ..Limits::default()
        };
        let bytes = with_auth(&sample(AlgorithmSuite::DEFAULT));
        let err = parse_header(&bytes, &limits).err();
        assert_eq!(err.map(|e| e.code()), Some("LIMIT_EXCEEDED"));
    }
}
