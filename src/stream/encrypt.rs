//! Sans-IO encryptor: push plaintext in chunks of any size, take ciphertext out. Memory is
//! bounded by one frame plus what the caller has not yet taken.
//!
//! In *external* mode the encryptor never sees plaintext: the driver reports how many bytes
//! arrived, receives [`SealJob`]s (sequence number, IV, AAD, length), seals each frame elsewhere
//! (WebCrypto, several in flight) and hands the results back in order with
//! [`Encryptor::complete_job`], which returns the bytes that frame the sealed data. Output is
//! byte-identical to internal mode.
//!
//! In *external hash* mode ([`Encryptor::set_external_hash`], signing suites) the engine does not
//! hash: the driver hashes every byte it emits (another thread may do it), and after the final
//! frame hands the digest back with [`Encryptor::provide_digest`], which signs it and writes the
//! footer. Output is byte-identical to the other modes.

use std::collections::VecDeque;

use crate::crypto::{self, AesGcmKey, DataKey, SignatureHasher, SigningKey, derive_keys};
use crate::error::{Error, Result};
use crate::format::body::{self, BodyKind};
use crate::format::header::{ContentType, HeaderBody, IV_LEN, TAG_LEN};
use crate::format::{EncryptedDataKey, EncryptionContext, MAX_FRAME_LENGTH};
use crate::suite::{AlgorithmSuite, SignatureAlg};

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

/// One frame to seal outside the engine: `AES-GCM(key, iv, aad, plaintext[len])` → `len + 16`
/// bytes (ciphertext ‖ tag, which is what WebCrypto returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealJob {
    /// Frame sequence number.
    pub seq: u32,
    /// GCM IV.
    pub iv: [u8; IV_LEN],
    /// GCM additional data.
    pub aad: Vec<u8>,
    /// Plaintext bytes in this frame, taken in order from what was reported.
    pub len: usize,
    /// Whether this is the final frame.
    pub is_final: bool,
}

/// Encrypts one message, frame by frame.
#[derive(Debug)]
pub struct Encryptor {
    header: HeaderBody,
    key: AesGcmKey,
    key_bytes: zeroize::Zeroizing<Vec<u8>>,
    frame_length: usize,
    next_seq: u32,
    pending: Vec<u8>,
    out: Vec<u8>,
    hasher: Option<SignatureHasher>,
    signing_key: Option<SigningKey>,
    finished: bool,
    plaintext_len: u64,
    external: Option<External>,
    /// External hash mode: the driver hashes what it emits and provides the digest.
    hash_external: bool,
    /// Bytes left the engine (output taken or a frame prefix returned).
    emitted: bool,
    /// The final frame is out; the footer waits for the digest.
    needs_digest: bool,
}

#[derive(Debug, Default)]
struct External {
    /// Plaintext bytes reported but not yet assigned to a frame.
    unframed: usize,
    /// Jobs not yet taken by the driver.
    ready: Vec<SealJob>,
    /// Jobs handed out and not yet completed, oldest first.
    awaiting: VecDeque<SealJob>,
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
            return Err(Error::invalid(
                "signing key presence does not match the suite",
            ));
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
            key_bytes: keys.key_bytes,
            frame_length: frame_length as usize,
            next_seq: 1,
            pending: Vec::new(),
            out,
            hasher,
            signing_key,
            finished: false,
            plaintext_len: 0,
            external: None,
            hash_external: false,
            emitted: false,
            needs_digest: false,
        })
    }

    /// Switch to external hashing (see the module docs): from now on the driver must hash every
    /// byte it takes from this encryptor, from the header on, up to the footer (excluded), and
    /// call [`provide_digest`](Self::provide_digest) once [`needs_digest`](Self::needs_digest).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a suite that does not sign, or once any output left the engine
    /// (the driver would not have hashed it).
    pub fn set_external_hash(&mut self) -> Result<()> {
        if self.signing_key.is_none() {
            return Err(Error::invalid("external hashing is for signing suites"));
        }
        if self.emitted || self.finished {
            return Err(Error::invalid(
                "external hashing must be chosen before any output is taken",
            ));
        }
        self.hasher = None;
        self.hash_external = true;
        Ok(())
    }

    /// External hash mode: whether the final frame is out and the footer waits for the digest.
    pub fn needs_digest(&self) -> bool {
        self.needs_digest
    }

    /// External hash mode: the digest of everything emitted before the footer (SHA-384 for
    /// P-384). Signs it and writes the footer, to take with [`take_output`](Self::take_output).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when no digest is awaited (not external, before the final frame, or
    /// a second time) or the digest has the wrong length.
    pub fn provide_digest(&mut self, digest: &[u8]) -> Result<()> {
        if !self.needs_digest {
            return Err(Error::invalid("no digest is awaited now"));
        }
        let want = self.header.suite.signature().map(SignatureAlg::digest_len);
        if want != Some(digest.len()) {
            return Err(Error::invalid("digest has the wrong length"));
        }
        let Some(sk) = self.signing_key.as_ref() else {
            return Err(Error::invalid("no digest is awaited now"));
        };
        let signature = sk.sign_digest(digest)?;
        body::write_footer(&mut self.out, &signature)?;
        self.needs_digest = false;
        Ok(())
    }

    /// Switch to external sealing (see the module docs). Returns the frame key bytes the driver
    /// must import into its AES-GCM implementation. Only before any plaintext was pushed.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` if plaintext was already pushed.
    pub fn into_external(mut self) -> Result<(Self, zeroize::Zeroizing<Vec<u8>>)> {
        if self.plaintext_len > 0 || self.finished {
            return Err(Error::invalid(
                "external sealing must be chosen before any plaintext",
            ));
        }
        self.external = Some(External::default());
        let key = std::mem::take(&mut self.key_bytes);
        Ok((self, key))
    }

    /// External mode: `n` more plaintext bytes arrived. Full frames become jobs.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when not in external mode, after `finish`, or past the frame limit.
    pub fn push_len(&mut self, n: usize) -> Result<()> {
        if self.finished {
            return Err(Error::invalid("encryptor already finished"));
        }
        let frame_length = self.frame_length;
        let Some(ext) = self.external.as_mut() else {
            return Err(Error::invalid("push_len is for external mode"));
        };
        ext.unframed += n;
        self.plaintext_len = self.plaintext_len.saturating_add(n as u64);
        while self
            .external
            .as_ref()
            .is_some_and(|e| e.unframed >= frame_length)
        {
            self.queue_job(frame_length, BodyKind::Frame)?;
        }
        Ok(())
    }

    /// External mode: the jobs ready to run, in order.
    pub fn take_jobs(&mut self) -> Vec<SealJob> {
        match self.external.as_mut() {
            Some(ext) => {
                let jobs = std::mem::take(&mut ext.ready);
                ext.awaiting.extend(jobs.iter().cloned());
                jobs
            }
            None => Vec::new(),
        }
    }

    /// External mode: the oldest outstanding job's result (`ciphertext ‖ tag`). Returns the
    /// bytes to emit before it (the frame prefix), then, after the final frame, the footer
    /// via [`take_output`](Self::take_output). `sealed` is hashed for signing suites.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when no job is outstanding or the result has the wrong length.
    pub fn complete_job(&mut self, sealed: &[u8]) -> Result<Vec<u8>> {
        self.complete(sealed.len(), Some(sealed))
    }

    /// External mode, unsigned suites or external hashing: like
    /// [`complete_job`](Self::complete_job) when only the sealed length is known (the bytes
    /// never need to enter this engine).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a signing suite hashed here, or as `complete_job`.
    pub fn complete_job_len(&mut self, sealed_len: usize) -> Result<Vec<u8>> {
        if self.hasher.is_some() {
            return Err(Error::invalid("signing suites need the sealed bytes"));
        }
        self.complete(sealed_len, None)
    }

    fn complete(&mut self, sealed_len: usize, sealed: Option<&[u8]>) -> Result<Vec<u8>> {
        let Some(job) = self.external.as_mut().and_then(|e| e.awaiting.pop_front()) else {
            return Err(Error::invalid("no frame job is outstanding"));
        };
        if sealed_len != job.len + TAG_LEN {
            return Err(Error::invalid("sealed frame has the wrong length"));
        }
        let mut prefix = Vec::with_capacity(24);
        write_prefix(
            &mut prefix,
            job.seq,
            &job.iv,
            job.is_final.then_some(job.len),
        );
        if let (Some(h), Some(sealed)) = (self.hasher.as_mut(), sealed) {
            h.update(&prefix);
            h.update(sealed);
        }
        if job.is_final {
            self.write_footer()?;
        }
        self.emitted = true;
        Ok(prefix)
    }

    /// External mode: whether the final frame was completed (and the footer written).
    pub fn external_done(&self) -> bool {
        self.finished
            && self
                .external
                .as_ref()
                .is_some_and(|e| e.awaiting.is_empty() && e.ready.is_empty())
    }

    /// Whether the suite signs (external drivers must then pass sealed bytes back, unless
    /// they hash externally).
    pub fn is_signed(&self) -> bool {
        self.signing_key.is_some()
    }

    /// Whether this engine hashes for the signature itself (a signing suite, not external).
    pub fn hashes_internally(&self) -> bool {
        self.hasher.is_some()
    }

    fn queue_job(&mut self, len: usize, kind: BodyKind) -> Result<()> {
        let seq = self.take_seq()?;
        let iv = body::frame_iv(seq);
        let aad = body::body_aad(&self.header.message_id, kind, seq, len as u64);
        if let Some(ext) = self.external.as_mut() {
            ext.unframed -= len;
            ext.ready.push(SealJob {
                seq,
                iv,
                aad,
                len,
                is_final: kind == BodyKind::FinalFrame,
            });
        }
        Ok(())
    }

    fn take_seq(&mut self) -> Result<u32> {
        let seq = self.next_seq;
        // SPEC message-body.md: at most 2^32 − 1 frames; 0xFFFFFFFF marks the final frame.
        if seq == u32::MAX {
            return Err(Error::invalid(
                "message too large: more than 2^32 - 2 frames",
            ));
        }
        self.next_seq = seq + 1;
        Ok(seq)
    }

    fn write_footer(&mut self) -> Result<()> {
        if self.hash_external {
            self.needs_digest = true;
            return Ok(());
        }
        if let (Some(hasher), Some(sk)) = (self.hasher.take(), self.signing_key.as_ref()) {
            let signature = sk.sign_digest(&hasher.finalize())?;
            body::write_footer(&mut self.out, &signature)?;
        }
        Ok(())
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
        if self.external.is_some() {
            return Err(Error::invalid(
                "external mode: report lengths with push_len",
            ));
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
        if let Some(ext) = self.external.as_ref() {
            let rest = ext.unframed;
            self.queue_job(rest, BodyKind::FinalFrame)?;
            self.finished = true;
            return Ok(());
        }
        let last = std::mem::take(&mut self.pending);
        self.emit_frame(&last, BodyKind::FinalFrame)?;
        self.finished = true;
        self.write_footer()
    }

    /// Take the ciphertext produced so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.take_output_into(&mut out);
        out
    }

    /// Like [`take_output`](Self::take_output), into `dst` (cleared first). The engine keeps
    /// `dst`'s old allocation for its next output, so a driver alternating two buffers does
    /// not reallocate per call.
    pub fn take_output_into(&mut self, dst: &mut Vec<u8>) {
        self.emitted |= !self.out.is_empty();
        dst.clear();
        std::mem::swap(&mut self.out, dst);
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
        let seq = self.take_seq()?;
        let iv = body::frame_iv(seq);
        let aad = body::body_aad(&self.header.message_id, kind, seq, plaintext.len() as u64);
        let start = self.out.len();
        let final_len = (kind == BodyKind::FinalFrame).then_some(plaintext.len());
        write_prefix(&mut self.out, seq, &iv, final_len);
        let ct_start = self.out.len();
        self.out.extend_from_slice(plaintext);
        let tag = crypto::seal(&self.key, &iv, &aad, &mut self.out[ct_start..])?;
        self.out.extend_from_slice(&tag);
        if let Some(h) = self.hasher.as_mut() {
            h.update(&self.out[start..]);
        }
        Ok(())
    }
}

/// The bytes before a frame's ciphertext; `final_len` is `Some` for the final frame.
fn write_prefix(out: &mut Vec<u8>, seq: u32, iv: &[u8; IV_LEN], final_len: Option<usize>) {
    match final_len {
        // Final frames hold at most frame_length (a u32) bytes.
        Some(len) => body::write_final_frame_prefix(out, seq, iv, len as u32),
        None => body::write_frame_prefix(out, seq, iv),
    }
}
