//! Sans-IO decryptor: push ciphertext in chunks of any size, take plaintext out.
//!
//! A frame's plaintext is released only after its tag verifies. For signing suites the final
//! frame (or the whole non-framed body) is withheld until the signature verifies, and
//! [`Decryptor::finish`] succeeds only after that. Earlier frames of a signed message are
//! released as they authenticate: **a consumer that streams must discard everything it
//! received if the stream ends in an error.** Use the one-shot API to get nothing until
//! everything verified.
//!
//! In *external* mode ([`Decryptor::set_external`]) frames are not opened here: each becomes an
//! [`OpenJob`] the driver runs elsewhere (WebCrypto) and reports back in order with
//! [`Decryptor::complete_job`]. The driver must hold back a job marked `withhold` until
//! [`Decryptor::finish`] succeeds. [`Decryptor::push_opening`] lends each frame to the driver
//! as it is parsed instead ([`OpenFrame`], borrowed from the input buffer: no copy), and
//! [`Decryptor::frame_needs`] says where the frame being read ends, so a driver can cut its
//! input there and the buffer never moves a partial frame.
//!
//! In *external hash* mode ([`Decryptor::set_external_hash`]) the signed suites' running hash
//! is not computed here: the driver hashes the input bytes `0..signed_len()` (header and body,
//! in order; another thread may do it) and, once [`Decryptor::needs_digest`], hands the digest
//! to [`Decryptor::provide_digest`], which verifies the signature. Until then the final frame
//! stays withheld, exactly as in the other modes.

use crate::crypto::{self, AesGcmKey, DataKey, SignatureHasher, VerifyingKey, derive_keys};
use crate::error::{Error, Result, quoted};
use crate::format::body::{self, BodyKind};
use crate::format::context::PUBLIC_KEY_FIELD;
use crate::format::header::{ContentType, TAG_LEN};
use crate::format::{EncryptionContext, Limits, ParsedHeader, Progress, parse_header};
use crate::keyring::DecryptionMaterials;
use crate::suite::{CommitmentPolicy, SignatureAlg};

/// Decryption settings.
#[derive(Debug, Clone, Default)]
pub struct DecryptParams {
    /// Which suites are acceptable.
    pub commitment_policy: CommitmentPolicy,
    /// Resource limits.
    pub limits: Limits,
    /// The reproduced encryption context (digest §7.3): pairs also in the header must match;
    /// pairs absent from it are authenticated through the header tag.
    pub reproduced_context: EncryptionContext,
    /// Refuse signing suites outright (SPEC decrypt.md "decrypt-unsigned"), for callers that
    /// must never see plaintext before the whole message verified.
    pub forbid_signed: bool,
}

/// One frame to open outside the engine: `AES-GCM-Open(key, iv, aad, sealed)` where `sealed`
/// is ciphertext ‖ tag (what WebCrypto takes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenJob {
    /// Frame sequence number.
    pub seq: u32,
    /// GCM IV.
    pub iv: [u8; 12],
    /// GCM additional data.
    pub aad: Vec<u8>,
    /// Ciphertext ‖ tag.
    pub sealed: Vec<u8>,
    /// The final frame of a signed message: release only after `finish` succeeds.
    pub withhold: bool,
}

/// An [`OpenJob`] lent from the engine's input buffer for the length of one call of
/// [`Decryptor::push_opening`]'s `open` (saves copying every frame out; WebCrypto copies its
/// input when called).
#[derive(Debug)]
pub struct OpenFrame<'a> {
    /// Frame sequence number.
    pub seq: u32,
    /// GCM IV.
    pub iv: &'a [u8; 12],
    /// GCM additional data.
    pub aad: &'a [u8],
    /// Ciphertext ‖ tag.
    pub sealed: &'a [u8],
    /// The final frame of a signed message: release only after `finish` succeeds.
    pub withhold: bool,
}

impl OpenJob {
    /// The job as a lent frame: drivers open queued jobs and lent frames alike.
    pub fn frame(&self) -> OpenFrame<'_> {
        OpenFrame {
            seq: self.seq,
            iv: &self.iv,
            aad: &self.aad,
            sealed: &self.sealed,
            withhold: self.withhold,
        }
    }
}

/// What [`Decryptor::push_opening`] calls for each frame: `false` asks it to stop after this
/// frame (the rest stays buffered until the next push).
pub type Opener<'o> = &'o mut dyn FnMut(OpenFrame<'_>) -> bool;

/// Where the decryptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptState {
    /// Reading the header.
    Header,
    /// Header parsed; waiting for [`Decryptor::provide_data_key`].
    NeedDataKey,
    /// Reading frames.
    Body,
    /// Reading the footer.
    Footer,
    /// External hash mode: the footer was read; waiting for [`Decryptor::provide_digest`].
    NeedDigest,
    /// Everything verified; only end of input may follow.
    Done,
    /// An error was returned; the decryptor refuses further work.
    Failed,
}

/// What one parsing step did.
enum Step {
    /// Progress made; try again.
    Again,
    /// Waiting for input or a key.
    Wait,
    /// A frame was lent and its opener asked to stop.
    Paused,
}

enum Stage {
    Header,
    NeedKey(Box<ParsedHeader>),
    Framed(Box<Body>),
    NonFramed(Box<Body>),
    Footer(Box<Body>),
    /// The footer's signature, to verify against the driver's digest.
    NeedDigest(Box<Body>, Vec<u8>),
    Done,
    Failed,
}

#[derive(Default)]
struct External {
    ready: Vec<OpenJob>,
    outstanding: usize,
    key: Option<zeroize::Zeroizing<Vec<u8>>>,
}

struct Body {
    header: ParsedHeader,
    key: AesGcmKey,
    next_seq: u32,
    hasher: Option<SignatureHasher>,
    verifying_key: Option<VerifyingKey>,
    plaintext_len: u64,
}

/// Decrypts one message.
pub struct Decryptor {
    params: DecryptParams,
    stage: Stage,
    /// Input not consumed yet: `buf[start..end]` (`buf` past `end` is room for the next push,
    /// kept so that pushes neither move the leftover bytes nor zero their room every time).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes the next parse needs before it is worth trying again.
    want: usize,
    out: Vec<u8>,
    withheld: Vec<u8>,
    context: Option<EncryptionContext>,
    authenticated: Option<ParsedHeader>,
    external: Option<External>,
    /// External hash mode: the driver hashes the signed bytes and provides the digest.
    hash_external: bool,
    /// Input bytes consumed so far that lie in the signed region (header and body).
    signed: u64,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("state", &self.state())
            .field("buffered", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// A decryptor waiting for the first byte.
    pub fn new(params: DecryptParams) -> Self {
        Decryptor {
            params,
            stage: Stage::Header,
            buf: Vec::new(),
            start: 0,
            end: 0,
            want: 1,
            out: Vec::new(),
            withheld: Vec::new(),
            context: None,
            authenticated: None,
            external: None,
            hash_external: false,
            signed: 0,
        }
    }

    /// Hash outside the engine (see the module docs). Only before the first byte.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` once input was pushed.
    pub fn set_external_hash(&mut self) -> Result<()> {
        if !matches!(self.stage, Stage::Header) || self.end > 0 {
            return Err(Error::invalid(
                "external hashing must be chosen before any input",
            ));
        }
        self.hash_external = true;
        Ok(())
    }

    /// How many input bytes, from the first, are known to lie in the signed region (header
    /// and body, everything before the footer). Never decreases. External hash mode: the
    /// driver hashes exactly these bytes, in order.
    pub fn signed_len(&self) -> u64 {
        self.signed
    }

    /// Whether the message is known to be signed (header parsed, signing suite).
    pub fn is_signed(&self) -> Option<bool> {
        self.header().map(|h| h.body.suite.signature().is_some())
    }

    /// External hash mode: whether the footer was read and the signature waits for the digest
    /// of the first [`signed_len`](Self::signed_len) bytes.
    pub fn needs_digest(&self) -> bool {
        matches!(self.stage, Stage::NeedDigest(..))
    }

    /// External hash mode: the digest of the first [`signed_len`](Self::signed_len) input
    /// bytes. Verifies the signature; on success the withheld final frame is released and the
    /// state is `Done`.
    ///
    /// # Errors
    /// `AUTHENTICATION_FAILED` when the signature does not verify (the decryptor is then
    /// failed); `INVALID_ARGUMENT` when no digest is awaited (before the footer, or twice) or
    /// the digest has the wrong length.
    pub fn provide_digest(&mut self, digest: &[u8]) -> Result<()> {
        self.guard()?;
        let (body, sig) = match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::NeedDigest(b, sig) => (b, sig),
            other => {
                self.stage = other;
                return Err(Error::invalid("no digest is awaited now"));
            }
        };
        let want = body
            .header
            .body
            .suite
            .signature()
            .map(SignatureAlg::digest_len);
        if want != Some(digest.len()) {
            self.stage = Stage::NeedDigest(body, sig);
            return Err(Error::invalid("digest has the wrong length"));
        }
        let Some(vk) = body.verifying_key.as_ref() else {
            return self.fail(Error::malformed("footer on an unsigned message"));
        };
        // SPEC decrypt.md: the result of verification MUST be checked (ESDK PR #554).
        if let Err(e) = vk.verify_digest(digest, &sig) {
            return self.fail(e);
        }
        self.out.append(&mut self.withheld);
        self.stage = Stage::Done;
        // Bytes after the footer may already be buffered.
        self.run()
    }

    /// Open frames outside the engine (see the module docs). Only before the data key.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` once the data key was provided.
    pub fn set_external(&mut self) -> Result<()> {
        if !matches!(self.stage, Stage::Header | Stage::NeedKey(_)) {
            return Err(Error::invalid(
                "external mode must be chosen before the data key",
            ));
        }
        self.external = Some(External::default());
        Ok(())
    }

    /// External mode: the frame key bytes to import, available once after the data key was
    /// provided.
    pub fn take_external_key(&mut self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        self.external.as_mut().and_then(|e| e.key.take())
    }

    /// External mode: jobs ready to run, in order.
    pub fn take_jobs(&mut self) -> Vec<OpenJob> {
        self.external
            .as_mut()
            .map(|e| std::mem::take(&mut e.ready))
            .unwrap_or_default()
    }

    /// External mode: the oldest outstanding job finished; `authentic` is whether its tag
    /// verified.
    ///
    /// # Errors
    /// `AUTHENTICATION_FAILED` when it did not (the decryptor is then failed), or
    /// `INVALID_ARGUMENT` when no job is outstanding.
    pub fn complete_job(&mut self, authentic: bool) -> Result<()> {
        self.guard()?;
        match self.external.as_mut() {
            Some(e) if e.outstanding > 0 => e.outstanding -= 1,
            _ => return Err(Error::invalid("no frame job is outstanding")),
        }
        if authentic {
            Ok(())
        } else {
            self.fail(Error::AuthenticationFailed)
        }
    }

    /// Where the decryptor is.
    pub fn state(&self) -> DecryptState {
        match self.stage {
            Stage::Header => DecryptState::Header,
            Stage::NeedKey(_) => DecryptState::NeedDataKey,
            Stage::Framed(_) | Stage::NonFramed(_) => DecryptState::Body,
            Stage::Footer(_) => DecryptState::Footer,
            Stage::NeedDigest(..) => DecryptState::NeedDigest,
            Stage::Done => DecryptState::Done,
            Stage::Failed => DecryptState::Failed,
        }
    }

    /// The parsed header: **not yet authenticated** while the state is `NeedDataKey`.
    pub fn header(&self) -> Option<&ParsedHeader> {
        match &self.stage {
            Stage::NeedKey(h) => Some(h),
            _ => self.authenticated.as_ref(),
        }
    }

    /// The full encryption context (header pairs plus reproduced ones), once authenticated.
    pub fn context(&self) -> Option<&EncryptionContext> {
        self.context.as_ref()
    }

    /// In state `NeedDataKey`: what the keyrings need (suite and full context) and the EDKs.
    pub fn key_request(&self) -> Option<(DecryptionMaterials, &ParsedHeader)> {
        match &self.stage {
            Stage::NeedKey(h) => Some((
                DecryptionMaterials {
                    suite: h.body.suite,
                    context: self.full_context(h),
                },
                h,
            )),
            _ => None,
        }
    }

    /// Feed ciphertext. Anything complete is processed; decrypted frames become available from
    /// [`take_output`](Self::take_output). Stops at `NeedDataKey` until a key is provided.
    ///
    /// # Errors
    /// Any format, policy, context or authentication error; the decryptor is then failed.
    pub fn push(&mut self, input: &[u8]) -> Result<()> {
        self.push_with(input.len(), |buf| buf.copy_from_slice(input))
    }

    /// Like [`push`](Self::push) for `n` bytes that `fill` writes straight into the engine's
    /// buffer (saves the driver a copy, e.g. from JS memory).
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_with(&mut self, n: usize, fill: impl FnOnce(&mut [u8])) -> Result<()> {
        self.push_inner(n, fill, None)
    }

    /// External mode: like [`push_with`](Self::push_with), but each frame goes to `open` as it
    /// is parsed, lent from the input buffer, instead of being copied into an [`OpenJob`]
    /// (jobs queued before, e.g. while the data key was awaited, stay for
    /// [`take_jobs`](Self::take_jobs), and so do the frames after them, to keep the order).
    /// Every frame lent counts as outstanding: report it with
    /// [`complete_job`](Self::complete_job). When `open` returns `false`, parsing stops after
    /// that frame; push 0 bytes to go on.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_opening(
        &mut self,
        n: usize,
        fill: impl FnOnce(&mut [u8]),
        open: Opener<'_>,
    ) -> Result<()> {
        self.push_inner(n, fill, Some(open))
    }

    fn push_inner(
        &mut self,
        n: usize,
        fill: impl FnOnce(&mut [u8]),
        open: Option<Opener<'_>>,
    ) -> Result<()> {
        self.guard()?;
        if matches!(self.stage, Stage::Done | Stage::NeedDigest(..)) && n > 0 {
            return self.fail(Error::malformed("bytes after the end of the message"));
        }
        fill(self.room(n));
        self.end += n;
        self.run_with(open)
    }

    /// Room for `n` more input bytes after `end`. The unconsumed bytes move to the front only
    /// when the room behind them is too small: at most once per buffer's worth of input, so
    /// pushes stay O(input) without moving a frame's leftover on every push.
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.buf.len() - self.end < n && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < n {
            self.buf.resize(self.end + n, 0);
        }
        &mut self.buf[self.end..self.end + n]
    }

    /// Supply the unwrapped data key. Checks the key commitment and the header tag, then
    /// processes any buffered body bytes.
    ///
    /// # Errors
    /// `AUTHENTICATION_FAILED`, `CONTEXT_MISMATCH`, `INVALID_ARGUMENT` (key length), or errors
    /// from the buffered body.
    pub fn provide_data_key(&mut self, data_key: &DataKey) -> Result<()> {
        self.guard()?;
        let header = match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::NeedKey(h) => h,
            other => {
                self.stage = other;
                return Err(Error::invalid("no data key is needed now"));
            }
        };
        match self.authenticate(*header, data_key) {
            Ok(body) => {
                self.stage = match body.header.body.content_type {
                    ContentType::Framed => Stage::Framed(Box::new(body)),
                    ContentType::NonFramed => Stage::NonFramed(Box::new(body)),
                };
                self.want = 1;
                self.run()
            }
            Err(e) => self.fail(e),
        }
    }

    /// Signal end of input.
    ///
    /// # Errors
    /// `TRUNCATED` unless the whole message (including the signature) was read and verified.
    pub fn finish(&mut self) -> Result<()> {
        self.guard()?;
        if self
            .external
            .as_ref()
            .is_some_and(|e| e.outstanding > 0 || !e.ready.is_empty())
        {
            return Err(Error::invalid("frame jobs are still outstanding"));
        }
        match self.stage {
            Stage::Done => Ok(()),
            _ => self.fail(Error::Truncated),
        }
    }

    /// Take the plaintext released so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Like [`take_output`](Self::take_output), into `dst` (cleared first); the engine keeps
    /// `dst`'s old allocation for its next output.
    pub fn take_output_into(&mut self, dst: &mut Vec<u8>) {
        dst.clear();
        std::mem::swap(&mut self.out, dst);
    }

    /// Bytes of plaintext waiting to be taken.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Input bytes buffered and not consumed yet (a partial frame, header or footer).
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Reading frames: how many more input bytes complete the frame being read, once its
    /// length is known. A driver that pushes exactly that many lets the buffer start over
    /// empty; otherwise the partial frame left behind is moved to the front by a later push
    /// (chunks about a frame long: half the input moved once more).
    pub fn frame_needs(&self) -> Option<usize> {
        if !matches!(self.stage, Stage::Framed(_)) {
            return None;
        }
        self.want.checked_sub(self.buffered()).filter(|&n| n > 0)
    }

    /// Whether everything, including the signature and every external job, verified.
    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
            && self
                .external
                .as_ref()
                .is_none_or(|e| e.outstanding == 0 && e.ready.is_empty())
    }

    fn guard(&self) -> Result<()> {
        if matches!(self.stage, Stage::Failed) {
            Err(Error::invalid("decryptor already failed"))
        } else {
            Ok(())
        }
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.stage = Stage::Failed;
        self.out.clear();
        self.withheld.clear();
        self.buf.clear();
        self.start = 0;
        self.end = 0;
        if let Some(ext) = self.external.as_mut() {
            ext.ready.clear();
            ext.key = None;
        }
        Err(e)
    }

    fn full_context(&self, h: &ParsedHeader) -> EncryptionContext {
        let mut ctx = h.body.context.clone();
        for (k, v) in self.params.reproduced_context.iter() {
            ctx.insert(k, v);
        }
        ctx
    }

    fn run(&mut self) -> Result<()> {
        self.run_with(None)
    }

    fn run_with(&mut self, mut open: Option<Opener<'_>>) -> Result<()> {
        loop {
            let avail = self.end - self.start;
            if avail < self.want {
                break;
            }
            match self.step(&mut open) {
                Ok(Step::Again) => continue,
                Ok(Step::Wait | Step::Paused) => break,
                Err(e) => return self.fail(e),
            }
        }
        if self.start == self.end {
            // Everything consumed: the next push starts at the front, nothing to move.
            self.start = 0;
            self.end = 0;
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        // Everything before the footer is signed (header and body; digest §7).
        if !matches!(
            self.stage,
            Stage::Footer(_) | Stage::NeedDigest(..) | Stage::Done | Stage::Failed
        ) {
            self.signed += n as u64;
        }
        self.start += n;
        self.want = 1;
    }

    /// One parsing step.
    fn step(&mut self, open: &mut Option<Opener<'_>>) -> Result<Step> {
        let data = &self.buf[self.start..self.end];
        match &mut self.stage {
            Stage::Header => match parse_header(data, &self.params.limits)? {
                Progress::NeedMore(n) => {
                    self.want = data.len() + n;
                    Ok(Step::Wait)
                }
                Progress::Done { value, consumed } => {
                    self.check_header(&value)?;
                    self.stage = Stage::NeedKey(Box::new(value));
                    self.consume(consumed);
                    Ok(Step::Again)
                }
            },
            Stage::NeedKey(_) | Stage::NeedDigest(..) | Stage::Done | Stage::Failed => {
                if matches!(self.stage, Stage::Done | Stage::NeedDigest(..)) && !data.is_empty() {
                    return Err(Error::malformed("bytes after the end of the message"));
                }
                Ok(Step::Wait)
            }
            Stage::Framed(b) => {
                let frame_length = b.header.body.frame_length;
                // Refuse a wrong sequence number as soon as its 4 (or 8) bytes are here, so the
                // error does not depend on how much of a bogus frame follows.
                let seq = match data {
                    [0xFF, 0xFF, 0xFF, 0xFF, a, b2, c, d, ..] => {
                        Some(u32::from_be_bytes([*a, *b2, *c, *d]))
                    }
                    [0xFF, 0xFF, 0xFF, 0xFF, ..] => None,
                    [a, b2, c, d, ..] => Some(u32::from_be_bytes([*a, *b2, *c, *d])),
                    _ => None,
                };
                if let Some(seq) = seq
                    && seq != b.next_seq
                {
                    return Err(Error::malformed(format!(
                        "frame sequence number {seq} where {} was expected",
                        b.next_seq
                    )));
                }
                let frame = match body::parse_frame(data, frame_length)? {
                    Progress::NeedMore(n) => {
                        self.want = data.len() + n;
                        return Ok(Step::Wait);
                    }
                    Progress::Done { value, consumed } => (value, consumed),
                };
                let (f, consumed) = frame;
                let len = f.ciphertext.len() as u64;
                check_body_limit(&self.params.limits, b.plaintext_len, len)?;
                let aad = body::body_aad(&b.header.body.message_id, f.kind(), f.seq, len);
                // Signed messages keep their final frame until the signature verifies.
                let withhold = f.is_final && b.verifying_key.is_some();
                let mut paused = false;
                if let Some(ext) = self.external.as_mut() {
                    // Ciphertext and tag end the frame, contiguous: what WebCrypto opens.
                    let sealed = &data[consumed - f.ciphertext.len() - TAG_LEN..consumed];
                    match open.as_mut() {
                        Some(open) if ext.ready.is_empty() => {
                            paused = !open(OpenFrame {
                                seq: f.seq,
                                iv: &f.iv,
                                aad: &aad,
                                sealed,
                                withhold,
                            });
                        }
                        _ => ext.ready.push(OpenJob {
                            seq: f.seq,
                            iv: f.iv,
                            aad,
                            sealed: sealed.to_vec(),
                            withhold,
                        }),
                    }
                    ext.outstanding += 1;
                } else {
                    let target = if withhold {
                        &mut self.withheld
                    } else {
                        &mut self.out
                    };
                    let start = target.len();
                    target.extend_from_slice(f.ciphertext);
                    if let Err(e) = crypto::open(&b.key, &f.iv, &aad, &mut target[start..], &f.tag)
                    {
                        target.truncate(start);
                        return Err(e);
                    }
                }
                if let Some(h) = b.hasher.as_mut() {
                    h.update(&data[..consumed]);
                }
                b.plaintext_len += len;
                b.next_seq = b.next_seq.wrapping_add(1);
                let is_final = f.is_final;
                self.consume(consumed);
                if is_final {
                    self.end_of_body();
                }
                Ok(if paused { Step::Paused } else { Step::Again })
            }
            Stage::NonFramed(b) => {
                let prefix = match body::parse_single_block_prefix(data)? {
                    Progress::NeedMore(n) => {
                        self.want = data.len() + n;
                        return Ok(Step::Wait);
                    }
                    Progress::Done { value, .. } => value,
                };
                // The whole block must be buffered: bound it like a frame.
                if prefix.content_len > u64::from(self.params.limits.max_frame_length) {
                    return Err(Error::LimitExceeded(format!(
                        "non-framed body of {} bytes exceeds the limit {}",
                        prefix.content_len, self.params.limits.max_frame_length
                    )));
                }
                check_body_limit(&self.params.limits, 0, prefix.content_len)?;
                let content_len = prefix.content_len as usize;
                let total = body::SINGLE_BLOCK_PREFIX_LEN + content_len + TAG_LEN;
                if data.len() < total {
                    self.want = total;
                    return Ok(Step::Wait);
                }
                let ct = &data
                    [body::SINGLE_BLOCK_PREFIX_LEN..body::SINGLE_BLOCK_PREFIX_LEN + content_len];
                let mut tag = [0u8; 16];
                tag.copy_from_slice(&data[total - 16..total]);
                let aad = body::body_aad(
                    &b.header.body.message_id,
                    BodyKind::SingleBlock,
                    1,
                    prefix.content_len,
                );
                let mut plain = ct.to_vec();
                crypto::open(&b.key, &prefix.iv, &aad, &mut plain, &tag)?;
                if let Some(h) = b.hasher.as_mut() {
                    h.update(&data[..total]);
                }
                if b.verifying_key.is_some() {
                    self.withheld = plain;
                } else {
                    self.out.extend_from_slice(&plain);
                }
                b.plaintext_len = prefix.content_len;
                self.consume(total);
                self.end_of_body();
                Ok(Step::Again)
            }
            Stage::Footer(b) => {
                let (sig, consumed) = match body::parse_footer(data)? {
                    Progress::NeedMore(n) => {
                        self.want = data.len() + n;
                        return Ok(Step::Wait);
                    }
                    Progress::Done { value, consumed } => (value, consumed),
                };
                if self.hash_external && b.verifying_key.is_some() {
                    let sig = sig.to_vec();
                    self.consume(consumed);
                    let stage = std::mem::replace(&mut self.stage, Stage::Failed);
                    if let Stage::Footer(b) = stage {
                        self.stage = Stage::NeedDigest(b, sig);
                    }
                    // Go on: bytes after the footer are refused now, as in the other modes.
                    return Ok(Step::Again);
                }
                let (Some(hasher), Some(vk)) = (b.hasher.take(), b.verifying_key.as_ref()) else {
                    return Err(Error::malformed("footer on an unsigned message"));
                };
                // SPEC decrypt.md: the result of verification MUST be checked (ESDK PR #554).
                vk.verify_digest(&hasher.finalize(), sig)?;
                self.out.append(&mut self.withheld);
                self.consume(consumed);
                self.stage = Stage::Done;
                Ok(Step::Again)
            }
        }
    }

    fn end_of_body(&mut self) {
        let stage = std::mem::replace(&mut self.stage, Stage::Failed);
        self.stage = match stage {
            Stage::Framed(b) | Stage::NonFramed(b) if b.verifying_key.is_some() => Stage::Footer(b),
            Stage::Framed(_) | Stage::NonFramed(_) => Stage::Done,
            other => other,
        };
    }

    /// Checks that need no key: policy, signing-key consistency, reproduced context.
    fn check_header(&self, h: &ParsedHeader) -> Result<()> {
        let suite = h.body.suite;
        self.params.commitment_policy.check_decrypt(suite)?;
        if self.params.forbid_signed && suite.signature().is_some() {
            return Err(Error::invalid(format!(
                "signed suite {suite} refused: streaming without early plaintext was requested"
            )));
        }
        // SPEC default-cmm.md: the public key is present iff the suite signs.
        let has_pk = h.body.context.contains_key(PUBLIC_KEY_FIELD);
        if has_pk != suite.signature().is_some() {
            return Err(Error::malformed(
                "signature public key presence does not match the algorithm suite",
            ));
        }
        for (k, v) in self.params.reproduced_context.iter() {
            if let Some(stored) = h.body.context.get(k)
                && stored != v
            {
                return Err(Error::ContextMismatch(format!(
                    "the message has {k}={}, but {} is required",
                    quoted(stored),
                    quoted(v)
                )));
            }
        }
        Ok(())
    }

    fn authenticate(&mut self, header: ParsedHeader, data_key: &DataKey) -> Result<Body> {
        let suite = header.body.suite;
        let keys = derive_keys(suite, data_key, &header.body.message_id)?;
        // Digest §5.3: commitment first, in constant time, before the header tag.
        keys.verify_commitment(&header.body.suite_data)?;
        let mut auth_only = EncryptionContext::new();
        for (k, v) in self.params.reproduced_context.iter() {
            if !header.body.context.contains_key(k) {
                auth_only.insert(k, v);
            }
        }
        let tag_ok = |extra: &EncryptionContext| -> Result<bool> {
            let mut aad = header.body_bytes().to_vec();
            aad.extend_from_slice(&extra.serialize()?);
            Ok(crypto::open(
                &keys.key,
                &header.header_iv,
                &aad,
                &mut [],
                &header.header_tag,
            )
            .is_ok())
        };
        if !tag_ok(&auth_only)? {
            // Tell a wrong required pair apart from a damaged header: if the header verifies
            // on its own, the message simply does not bind the pairs the caller required.
            if !auth_only.is_empty() && tag_ok(&EncryptionContext::new())? {
                let keys: Vec<String> = auth_only.iter().map(|(k, _)| quoted(k)).collect();
                return Err(Error::ContextMismatch(format!(
                    "the message does not bind the required pairs for [{}]",
                    keys.join(", ")
                )));
            }
            return Err(Error::AuthenticationFailed);
        }
        let verifying_key = match suite.signature() {
            Some(alg) => {
                let value = header
                    .body
                    .context
                    .get(PUBLIC_KEY_FIELD)
                    .unwrap_or_default();
                Some(VerifyingKey::from_context_value(alg, value)?)
            }
            None => None,
        };
        let mut hasher = suite
            .signature()
            .filter(|_| !self.hash_external)
            .map(SignatureHasher::new);
        if let Some(h) = hasher.as_mut() {
            h.update(&header.raw);
        }
        self.context = Some(self.full_context(&header));
        self.authenticated = Some(header.clone());
        if let Some(ext) = self.external.as_mut() {
            ext.key = Some(keys.key_bytes.clone());
        }
        Ok(Body {
            header,
            key: keys.key,
            next_seq: 1,
            hasher,
            verifying_key,
            plaintext_len: 0,
        })
    }
}

fn check_body_limit(limits: &Limits, so_far: u64, more: u64) -> Result<()> {
    match limits.max_body_size {
        Some(max) if so_far.saturating_add(more) > max => Err(Error::LimitExceeded(format!(
            "message body exceeds the {max}-byte limit"
        ))),
        _ => Ok(()),
    }
}
