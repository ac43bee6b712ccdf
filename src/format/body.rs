//! Body frames, the legacy single block, the footer and the body AAD
//! (SPEC `data-format/message-body.md`, `message-body-aad.md`, `message-footer.md`; digest §6–7).

use crate::error::{Error, Result};
use crate::format::Progress;
use crate::format::header::{IV_LEN, TAG_LEN};
use crate::format::reader::{Incomplete, Reader};

/// Marks the final frame.
pub const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;
/// GCM's limit on one plaintext: 2^36 − 32 bytes (digest §6.4).
pub const MAX_GCM_PLAINTEXT: u64 = (1 << 36) - 32;

/// Which body AAD content string a GCM call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A regular frame.
    Frame,
    /// The final frame.
    FinalFrame,
    /// A non-framed body.
    SingleBlock,
}

impl BodyKind {
    fn label(self) -> &'static [u8] {
        match self {
            BodyKind::Frame => b"AWSKMSEncryptionClient Frame",
            BodyKind::FinalFrame => b"AWSKMSEncryptionClient Final Frame",
            BodyKind::SingleBlock => b"AWSKMSEncryptionClient Single Block",
        }
    }
}

/// Body AAD: message id (all of it: 32 bytes in v2, digest §6.2) ‖ content string ‖ u32 seq ‖
/// u64 plaintext length.
pub fn body_aad(message_id: &[u8], kind: BodyKind, seq: u32, len: u64) -> Vec<u8> {
    let label = kind.label();
    let mut aad = Vec::with_capacity(message_id.len() + label.len() + 12);
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(label);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&len.to_be_bytes());
    aad
}

/// The deterministic IV of frame `seq`: eight zero bytes ‖ u32 seq (digest §6.1).
pub fn frame_iv(seq: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[8..].copy_from_slice(&seq.to_be_bytes());
    iv
}

/// A frame as read from the body. Borrowed from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// Sequence number (1-based).
    pub seq: u32,
    /// Whether this is the final frame.
    pub is_final: bool,
    /// The IV as stored (taken from the frame, not recomputed; digest §6.1).
    pub iv: [u8; IV_LEN],
    /// Encrypted content, as long as the plaintext.
    pub ciphertext: &'a [u8],
    /// GCM tag.
    pub tag: [u8; TAG_LEN],
}

impl FrameRef<'_> {
    /// Which AAD string this frame uses.
    pub fn kind(&self) -> BodyKind {
        if self.is_final {
            BodyKind::FinalFrame
        } else {
            BodyKind::Frame
        }
    }
}

/// Parse the next frame of a framed body.
///
/// `frame_length` comes from the (already authenticated) header. A regular frame's content is
/// exactly `frame_length` bytes; a final frame's is at most that.
///
/// # Errors
/// `MALFORMED_MESSAGE` for a final frame longer than the frame length.
pub fn parse_frame(buf: &[u8], frame_length: u32) -> Result<Progress<FrameRef<'_>>> {
    let mut r = Reader::new(buf);
    let first = match r.u32() {
        Ok(v) => v,
        Err(i) => return Ok(Progress::NeedMore(i.needed)),
    };
    let parsed = (|| -> std::result::Result<Result<FrameRef<'_>>, Incomplete> {
        if first == FINAL_FRAME_MARKER {
            let seq = r.u32()?;
            let iv = r.array()?;
            let len = r.u32()?;
            if len > frame_length {
                return Ok(Err(Error::malformed(format!(
                    "final frame of {len} bytes exceeds the frame length {frame_length}"
                ))));
            }
            let ciphertext = r.take(len as usize)?;
            let tag = r.array()?;
            Ok(Ok(FrameRef {
                seq,
                is_final: true,
                iv,
                ciphertext,
                tag,
            }))
        } else {
            let iv = r.array()?;
            let ciphertext = r.take(frame_length as usize)?;
            let tag = r.array()?;
            Ok(Ok(FrameRef {
                seq: first,
                is_final: false,
                iv,
                ciphertext,
                tag,
            }))
        }
    })();
    match parsed {
        Ok(Ok(frame)) => Ok(Progress::Done {
            value: frame,
            consumed: r.position(),
        }),
        Ok(Err(e)) => Err(e),
        // Once its length is known, ask for the whole rest of the frame: a driver can then
        // push exactly up to the frame's end.
        Err(i) => Ok(Progress::NeedMore(
            frame_len(buf, first, frame_length).map_or(i.needed, |total| {
                total.saturating_sub(buf.len()).max(i.needed)
            }),
        )),
    }
}

/// A frame's whole encoded length, once its prefix tells (`first`: its first u32).
fn frame_len(buf: &[u8], first: u32, frame_length: u32) -> Option<usize> {
    if first != FINAL_FRAME_MARKER {
        return Some(4 + 12 + frame_length as usize + 16);
    }
    let len = buf.get(20..24)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    Some(4 + 4 + 12 + 4 + len as usize + 16)
}

/// Append a regular frame's prefix: u32 seq ‖ IV. Ciphertext and tag follow.
pub fn write_frame_prefix(out: &mut Vec<u8>, seq: u32, iv: &[u8; IV_LEN]) {
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(iv);
}

/// Append the final frame's prefix: marker ‖ u32 seq ‖ IV ‖ u32 content length.
pub fn write_final_frame_prefix(out: &mut Vec<u8>, seq: u32, iv: &[u8; IV_LEN], len: u32) {
    out.extend_from_slice(&FINAL_FRAME_MARKER.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(iv);
    out.extend_from_slice(&len.to_be_bytes());
}

/// The prefix of a non-framed body: IV and content length. The content and tag follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleBlockPrefix {
    /// GCM IV.
    pub iv: [u8; IV_LEN],
    /// Plaintext (= ciphertext) length.
    pub content_len: u64,
}

/// Size of [`SingleBlockPrefix`] on the wire.
pub const SINGLE_BLOCK_PREFIX_LEN: usize = IV_LEN + 8;

/// Parse the IV and length that start a non-framed body.
///
/// # Errors
/// `MALFORMED_MESSAGE` when the length exceeds GCM's limit.
pub fn parse_single_block_prefix(buf: &[u8]) -> Result<Progress<SingleBlockPrefix>> {
    let mut r = Reader::new(buf);
    let (iv, content_len) = match (r.array(), r.u64()) {
        (Ok(iv), Ok(len)) => (iv, len),
        _ => return Ok(Progress::NeedMore(SINGLE_BLOCK_PREFIX_LEN - buf.len())),
    };
    if content_len > MAX_GCM_PLAINTEXT {
        return Err(Error::malformed(
            "non-framed content is longer than GCM allows",
        ));
    }
    Ok(Progress::Done {
        value: SingleBlockPrefix { iv, content_len },
        consumed: SINGLE_BLOCK_PREFIX_LEN,
    })
}

/// Parse the footer: u16 length ‖ DER signature. The caller checks that nothing follows it.
///
/// # Errors
/// `MALFORMED_MESSAGE` for an empty signature.
pub fn parse_footer(buf: &[u8]) -> Result<Progress<&[u8]>> {
    let mut r = Reader::new(buf);
    match r.u16_prefixed() {
        Ok([]) => Err(Error::malformed("empty signature in the footer")),
        Ok(sig) => Ok(Progress::Done {
            value: sig,
            consumed: r.position(),
        }),
        Err(i) => Ok(Progress::NeedMore(i.needed)),
    }
}

/// Append the footer.
///
/// # Errors
/// `INVALID_ARGUMENT` if the signature is longer than 65535 bytes (never for ECDSA).
pub fn write_footer(out: &mut Vec<u8>, signature: &[u8]) -> Result<()> {
    let len = u16::try_from(signature.len())
        .map_err(|_| Error::invalid("signature longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(signature);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_and_final_frames_round_trip() {
        let mut out = Vec::new();
        write_frame_prefix(&mut out, 1, &frame_iv(1));
        out.extend_from_slice(&[5; 4]);
        out.extend_from_slice(&[6; 16]);
        write_final_frame_prefix(&mut out, 2, &frame_iv(2), 3);
        out.extend_from_slice(&[7; 3]);
        out.extend_from_slice(&[8; 16]);
        let Ok(Progress::Done {
            value: f1,
            consumed,
        }) = parse_frame(&out, 4)
        else {
            panic!("first frame")
        };
        assert_eq!(
            (f1.seq, f1.is_final, f1.ciphertext),
            (1, false, &[5u8; 4][..])
        );
        let Ok(Progress::Done { value: f2, .. }) = parse_frame(&out[consumed..], 4) else {
            panic!("final frame")
        };
        assert_eq!(
            (f2.seq, f2.is_final, f2.ciphertext),
            (2, true, &[7u8; 3][..])
        );
        assert_eq!(f2.iv, frame_iv(2));
    }

    #[test]
    fn final_frame_longer_than_frame_length_is_malformed() {
        let mut out = Vec::new();
        write_final_frame_prefix(&mut out, 1, &frame_iv(1), 5);
        out.extend_from_slice(&[7; 5]);
        out.extend_from_slice(&[8; 16]);
        assert!(parse_frame(&out, 4).is_err());
    }

    #[test]
    fn partial_frames_ask_for_more() {
        let mut out = Vec::new();
        write_final_frame_prefix(&mut out, 1, &frame_iv(1), 3);
        out.extend_from_slice(&[7; 3]);
        out.extend_from_slice(&[8; 16]);
        for cut in 0..out.len() {
            assert!(matches!(parse_frame(&out[..cut], 4), Ok(Progress::NeedMore(n)) if n > 0));
        }
    }

    #[test]
    fn partial_frames_ask_for_exactly_their_rest_once_their_length_is_known() {
        let mut regular = Vec::new();
        write_frame_prefix(&mut regular, 1, &frame_iv(1));
        regular.extend_from_slice(&[7; 4 + 16]);
        let mut last = Vec::new();
        write_final_frame_prefix(&mut last, 2, &frame_iv(2), 3);
        last.extend_from_slice(&[7; 3 + 16]);
        for (frame, known) in [(&regular, 4), (&last, 24)] {
            for cut in known..frame.len() {
                let p = parse_frame(&frame[..cut], 4);
                assert!(
                    matches!(p, Ok(Progress::NeedMore(n)) if n == frame.len() - cut),
                    "{cut}"
                );
            }
            assert!(
                matches!(parse_frame(frame, 4), Ok(Progress::Done { consumed, .. }) if consumed == frame.len())
            );
        }
    }

    #[test]
    fn body_aad_layout_matches_the_spec() {
        let aad = body_aad(&[1; 32], BodyKind::FinalFrame, 3, 10);
        assert_eq!(&aad[..32], &[1; 32]);
        assert_eq!(&aad[32..66], b"AWSKMSEncryptionClient Final Frame");
        assert_eq!(&aad[66..], &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 10]);
    }
}
