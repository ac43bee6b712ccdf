//! Sans-IO encryptor: push plaintext in chunks of any size, take ciphertext out. Memory is
//! bounded by one frame plus what the caller has not yet taken.

use crate::crypto::{self, AesGcmKey, DataKey, SignatureHasher, SigningKey, derive_keys};
use crate::error::{Error, Result};
use crate::format::body::{self, BodyKind};
use crate::format::header::{ContentType, HeaderBody, IV_LEN};
use crate::format::{EncryptedDataKey, EncryptionContext, MAX_FRAME_LENGTH};
use crate::suite::AlgorithmSuite;

/// Everything the encryptor needs, after the keyrings ran.
#[derive(Debug)]
pub struct EncryptParams {
    /// The suite.
    pub suite: AlgorithmSuite,
    /// The full context (caller pairs, required pairs, public key).
    pub context: EncryptionContext,
    /// Keys of `context` bound but not stored in the header.
    pub required_keys: std::collections::BTreeSet<String>,
    /// The plaintext data key.
    pub data_key: DataKey,
    /// The wrapped data keys for the header.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// The signing key, for signing suites.
    pub signing_key: Option<SigningKey>,
    /// Plaintext bytes per frame.
    pub frame_length: u32,
    /// The message id; `None` draws a random one (tests fix it for determinism).
    pub message_id: Option<Vec<u8>>,
}

/// Encrypts one message, frame by frame.
#[derive(Debug)]
pub struct Encryptor {
    header: HeaderBody,
    key: AesGcmKey,
    frame_length: usize,
    next_seq: u32,
    pending: Vec<u8>,
    out: Vec<u8>,
    hasher: Option<SignatureHasher>,
    signing_key: Option<SigningKey>,
    finished: bool,
    plaintext_len: u64,
}

impl Encryptor {
    /// Build the header and get ready for plaintext. The header bytes are the first output.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a bad frame length, a signing key without a signing suite (or the
    /// reverse), a data key of the wrong length, or a header that does not fit the format.
    pub fn new(params: EncryptParams) -> Result<Self> {
        let EncryptParams {
            suite,
            context,
            required_keys,
            data_key,
            encrypted_data_keys,
            signing_key,
            frame_length,
            message_id,
        } = params;
        if frame_length == 0 || frame_length > MAX_FRAME_LENGTH {
            return Err(Error::invalid(format!(
                "frame length must be between 1 and {MAX_FRAME_LENGTH}, got {frame_length}"
            )));
        }
        if suite.signature().is_some() != signing_key.is_some() {
            return Err(Error::invalid("signing key presence does not match the suite"));
        }
        let message_id = match message_id {
            Some(id) => id,
            None => {
                let mut id = vec![0u8; suite.message_id_len()];
                crypto::random::fill(&mut id)?;
                id
            }
        };
        let keys = derive_keys(suite, &data_key, &message_id)?;
        let mut stored = EncryptionContext::new();
        let mut auth_only = EncryptionContext::new();
        for (k, v) in context.iter() {
            if required_keys.contains(k) {
                auth_only.insert(k, v);
            } else {
                stored.insert(k, v);
            }
        }
        let header = HeaderBody {
            suite,
            message_id,
            context: stored,
            encrypted_data_keys,
            content_type: ContentType::Framed,
            frame_length,
            suite_data: keys
                .commit_key
                .as_ref()
                .map(|k| k.to_vec())
                .unwrap_or_default(),
        };
        let mut out = header.serialize()?;
        // Header tag: GCM over nothing, AAD = header body ‖ required-only context (digest §4.5).
        let mut aad = out.clone();
        aad.extend_from_slice(&auth_only.serialize()?);
        let tag = crypto::seal(&keys.key, &[0; IV_LEN], &aad, &mut [])?;
        if suite.message_version() == 1 {
            out.extend_from_slice(&[0; IV_LEN]);
        }
        out.extend_from_slice(&tag);
        let mut hasher = suite.signature().map(SignatureHasher::new);
        if let Some(h) = hasher.as_mut() {
            h.update(&out);
        }
        Ok(Encryptor {
            header,
            key: keys.key,
            frame_length: frame_length as usize,
            next_seq: 1,
            pending: Vec::new(),
            out,
            hasher,
            signing_key,
            finished: false,
            plaintext_len: 0,
        })
    }

    /// The header being written.
    pub fn header(&self) -> &HeaderBody {
        &self.header
    }

    /// Encrypt more plaintext. Whole frames are emitted as soon as they fill.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` after [`finish`](Self::finish) or past the 2^32 − 1 frame limit.
    pub fn push(&mut self, mut plaintext: &[u8]) -> Result<()> {
        if self.finished {
            return Err(Error::invalid("encryptor already finished"));
        }
        self.plaintext_len = self.plaintext_len.saturating_add(plaintext.len() as u64);
        while !plaintext.is_empty() {
            if self.pending.is_empty() && plaintext.len() >= self.frame_length {
                // Fast path: a whole frame straight from the caller's slice.
                let (frame, rest) = plaintext.split_at(self.frame_length);
                self.emit_frame(frame, BodyKind::Frame)?;
                plaintext = rest;
                continue;
            }
            let take = (self.frame_length - self.pending.len()).min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            if self.pending.len() == self.frame_length {
                let frame = std::mem::take(&mut self.pending);
                self.emit_frame(&frame, BodyKind::Frame)?;
            }
        }
        Ok(())
    }

    /// Write the final frame (possibly empty, as the Python and Dafny SDKs do for plaintexts
    /// that fill their last frame) and, for signing suites, the footer.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if called twice.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Err(Error::invalid("encryptor already finished"));
        }
        let last = std::mem::take(&mut self.pending);
        self.emit_frame(&last, BodyKind::FinalFrame)?;
        self.finished = true;
        if let (Some(hasher), Some(sk)) = (self.hasher.take(), self.signing_key.as_ref()) {
            let signature = sk.sign_digest(&hasher.finalize())?;
            body::write_footer(&mut self.out, &signature)?;
        }
        Ok(())
    }

    /// Take the ciphertext produced so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Bytes of ciphertext waiting to be taken.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Whether [`finish`](Self::finish) has run.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Plaintext bytes pushed so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    fn emit_frame(&mut self, plaintext: &[u8], kind: BodyKind) -> Result<()> {
        let seq = self.next_seq;
        // SPEC message-body.md: at most 2^32 − 1 frames; 0xFFFFFFFF marks the final frame.
        if seq == u32::MAX {
            return Err(Error::invalid("message too large: more than 2^32 - 2 frames"));
        }
        let iv = body::frame_iv(seq);
        let aad = body::body_aad(&self.header.message_id, kind, seq, plaintext.len() as u64);
        let start = self.out.len();
        if kind == BodyKind::FinalFrame {
            self.out.extend_from_slice(&body::FINAL_FRAME_MARKER.to_be_bytes());
            self.out.extend_from_slice(&seq.to_be_bytes());
            self.out.extend_from_slice(&iv);
            // Final frames hold at most frame_length (a u32) bytes.
            self.out
                .extend_from_slice(&(plaintext.len() as u32).to_be_bytes());
        } else {
            self.out.extend_from_slice(&seq.to_be_bytes());
            self.out.extend_from_slice(&iv);
        }
        let ct_start = self.out.len();
        self.out.extend_from_slice(plaintext);
        let tag = crypto::seal(&self.key, &iv, &aad, &mut self.out[ct_start..])?;
        self.out.extend_from_slice(&tag);
        if let Some(h) = self.hasher.as_mut() {
            h.update(&self.out[start..]);
        }
        self.next_seq = seq + 1;
        Ok(())
    }
}
