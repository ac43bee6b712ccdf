//! Drivers that move bytes between JS and the sans-IO engine, running frame AES-GCM in
//! WebCrypto (several frames in flight) when `crypto.subtle` exists, in Rust otherwise.
//! Both backends produce identical bytes.
//!
//! WebCrypto needs the raw frame key to import it: the bytes cross into JS once, are imported
//! as a non-extractable `CryptoKey` and the JS copy is overwritten at once. The data key
//! itself never leaves Rust.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::error::{from_js, to_js};
use super::hash::{Hashing, WorkerHash};
use crate::client::{Client, EncryptOptions};
use crate::error::Error;
use crate::format::EncryptionContext;
use crate::format::header::ContentType;
use crate::stream::{
    DecryptState, Decryptor, Encryptor, OpenFrame, SealJob, framed_body_len, framed_plaintext_len,
};
use crate::suite::AlgorithmSuite;

/// WebCrypto calls are awaited a batch at a time (one `Promise.all`): a batch closes at this
/// many bytes of frames or this many frames...
const BATCH_BYTES: usize = 256 << 10;
const BATCH_FRAMES: usize = 64;
/// ...and the driver waits for the oldest once this many are out (64 KiB frames: 8 in flight).
const BATCHES: usize = 2;
/// Largest slice of input copied into wasm memory at a time.
const SLICE: u32 = 1 << 20;
/// Decrypt: frames at least this long are completed with a piece of their own (see
/// `Decryptor::frame_needs`); shorter ones are cheaper to move than a JS call.
const SPLIT_FRAMES_FROM: usize = 16 << 10;

/// Which AES-GCM implementation runs the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `crypto.subtle` when present, else Rust.
    Auto,
    /// `crypto.subtle` (fails when absent).
    WebCrypto,
    /// The pure-Rust `aes-gcm` crate.
    Rust,
}

/// `globalThis.crypto.subtle`, if this context has it (secure contexts, workers, Node 20).
pub fn subtle() -> Option<web_sys::SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok()?;
    (!subtle.is_undefined() && !subtle.is_null()).then(|| subtle.unchecked_into())
}

impl Backend {
    fn resolve(self) -> Result<Option<web_sys::SubtleCrypto>, JsValue> {
        match self {
            Backend::Rust => Ok(None),
            Backend::Auto => Ok(subtle()),
            Backend::WebCrypto => subtle().map(Some).ok_or_else(|| {
                to_js(Error::invalid(
                    "backend: crypto.subtle is not available in this context",
                ))
            }),
        }
    }
}

/// Checks an `AbortSignal` between steps.
#[derive(Clone, Default)]
pub struct Abort(Option<web_sys::AbortSignal>);

impl Abort {
    pub fn new(signal: Option<JsValue>) -> Self {
        Abort(signal.map(|s| s.unchecked_into()))
    }

    pub fn check(&self) -> Result<(), JsValue> {
        match &self.0 {
            Some(s) if s.aborted() => Err(to_js(Error::Aborted)),
            _ => Ok(()),
        }
    }

    /// Run `fut` (a KMS call) but give up with `ABORTED` the moment the signal fires, instead
    /// of waiting for the request's timeout. The abandoned request's answer is ignored.
    pub async fn race<T>(&self, fut: impl Future<Output = Result<T, Error>>) -> Result<T, JsValue> {
        self.check()?;
        let Some(signal) = self.0.clone() else {
            return fut.await.map_err(to_js);
        };
        let aborted = JsFuture::from(Promise::new(&mut |resolve, _| {
            let options = web_sys::AddEventListenerOptions::new();
            options.set_once(true);
            let _ = signal.add_event_listener_with_callback_and_add_event_listener_options(
                "abort", &resolve, &options,
            );
        }));
        match Race(std::pin::pin!(fut), aborted).await {
            Either::Left(r) => r.map_err(to_js),
            Either::Right(()) => Err(to_js(Error::Aborted)),
        }
    }
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// The first of two futures to finish.
struct Race<A, B>(A, B);

impl<A, B> Future for Race<A, B>
where
    A: Future + Unpin,
    B: Future + Unpin,
{
    type Output = Either<A::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = Pin::new(&mut self.0).poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        match Pin::new(&mut self.1).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Either::Right(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

async fn import_key(
    subtle: &web_sys::SubtleCrypto,
    key: &[u8],
    usage: &str,
) -> Result<web_sys::CryptoKey, JsValue> {
    let raw = Uint8Array::from(key);
    let usages = Array::of1(&usage.into());
    let promise = subtle.import_key_with_str("raw", &raw, "AES-GCM", false, &usages);
    raw.fill(0, 0, raw.length());
    let key = JsFuture::from(promise?)
        .await
        .map_err(|e| from_js(&e, false))?;
    Ok(key.unchecked_into())
}

/// The `AesGcmParams` of one session, refilled for each frame. WebCrypto copies `iv` and
/// `additionalData` when `encrypt`/`decrypt` is called ("normalize an algorithm" gets a copy of
/// every BufferSource member), so refilling them for the next frame cannot touch an operation
/// in flight. One object per session instead of one per frame saves about ten JS calls, two
/// string conversions and five allocations per frame (4 KiB frames: 16 384 per 64 MiB).
struct GcmParams {
    object: Object,
    iv: Uint8Array,
    aad: Uint8Array,
    /// `aad.length`, known here (one JS call less per frame).
    aad_len: usize,
}

impl GcmParams {
    fn new() -> Self {
        let object = Object::new();
        let iv = Uint8Array::new_with_length(12);
        let aad = Uint8Array::new_with_length(0);
        let _ = Reflect::set(&object, &"name".into(), &"AES-GCM".into());
        let _ = Reflect::set(&object, &"iv".into(), &iv);
        let _ = Reflect::set(&object, &"additionalData".into(), &aad);
        let _ = Reflect::set(&object, &"tagLength".into(), &JsValue::from_f64(128.0));
        GcmParams {
            object,
            iv,
            aad,
            aad_len: 0,
        }
    }

    /// The parameters for one frame (valid until the next call).
    fn frame(&mut self, iv: &[u8; 12], aad: &[u8]) -> &Object {
        self.iv.copy_from(iv);
        // The final frame's AAD is longer than the others': a second array, then back.
        if self.aad_len != aad.len() {
            self.aad = Uint8Array::new_with_length(aad.len() as u32);
            self.aad_len = aad.len();
            let _ = Reflect::set(&self.object, &"additionalData".into(), &self.aad);
        }
        self.aad.copy_from(aad);
        &self.object
    }
}

/// WebCrypto calls in flight, in batches. Chromium runs AES-GCM inside the `encrypt` call
/// itself, so depth buys no parallelism; what costs is the await per frame (two closures and a
/// wake-up). One `Promise.all` per batch: 4 KiB frames, 64 per batch.
struct Flight<J> {
    /// The batch being filled: its jobs, their promises and bytes.
    jobs: Vec<J>,
    promises: Array,
    bytes: usize,
    /// Closed batches, oldest first.
    out: VecDeque<(Vec<J>, JsFuture)>,
}

thread_local! {
    /// A no-op rejection handler, never dropped (a promise may settle after its session is
    /// gone, and a dropped closure throws when called).
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

/// Mark `promise` handled: its rejection, if any, is seen elsewhere or nobody's to handle
/// (the page would report it as unhandled).
pub fn ignore_rejection(promise: &Promise) {
    let _ = IGNORE.with(|f| promise.catch(f));
}

impl<J> Flight<J> {
    fn new() -> Self {
        Flight {
            jobs: Vec::new(),
            promises: Array::new(),
            bytes: 0,
            out: VecDeque::new(),
        }
    }

    /// Add a call; `true` when the caller should now wait for the oldest batch.
    fn add(&mut self, job: J, promise: &Promise, bytes: usize) -> bool {
        self.jobs.push(job);
        // Handled at once: a call may reject while its batch is still open, and the page
        // reports an unhandled rejection even though `Promise.all` would see it later.
        ignore_rejection(promise);
        self.promises.push(promise);
        self.bytes += bytes;
        if self.bytes >= BATCH_BYTES || self.jobs.len() >= BATCH_FRAMES {
            self.close();
        }
        self.out.len() >= BATCHES
    }

    fn close(&mut self) {
        if !self.jobs.is_empty() {
            let promises = std::mem::replace(&mut self.promises, Array::new());
            let all = Promise::all(&promises);
            self.out
                .push_back((std::mem::take(&mut self.jobs), JsFuture::from(all)));
            self.bytes = 0;
        }
    }

    fn is_empty(&self) -> bool {
        self.jobs.is_empty() && self.out.is_empty()
    }

    /// The oldest batch's jobs and results (closing the open batch if it is the only one).
    async fn next(&mut self) -> Option<(Vec<J>, Result<Array, JsValue>)> {
        if self.out.is_empty() {
            self.close();
        }
        let (jobs, all) = self.out.pop_front()?;
        Some((jobs, all.await.map(JsCast::unchecked_into)))
    }

    fn clear(&mut self) {
        self.jobs.clear();
        self.promises = Array::new();
        self.out.clear();
    }
}

/// Where produced bytes go, in order.
pub trait Out {
    /// Bytes already in JS (WebCrypto results).
    fn js(&mut self, chunk: Uint8Array);
    /// Bytes in wasm memory, valid for this call only.
    fn bytes(&mut self, bytes: &[u8]) {
        self.js(Uint8Array::from(bytes));
    }
    /// The exact total this session will produce, when known before the first byte (one-shot
    /// calls size their result with it).
    fn expect(&mut self, _total: u64) {}
}

impl<F: FnMut(Uint8Array)> Out for F {
    fn js(&mut self, chunk: Uint8Array) {
        self(chunk);
    }
}

pub type Sink<'a> = &'a mut dyn Out;

/// What a stream transform drives: encrypt and decrypt sessions alike.
pub trait Session {
    /// Process one more input chunk.
    async fn push(&mut self, chunk: &Uint8Array, sink: Sink<'_>) -> Result<(), JsValue>;
    /// End of input.
    async fn finish(&mut self, sink: Sink<'_>) -> Result<(), JsValue>;
    /// Input bytes processed so far.
    fn processed(&self) -> f64;
}

impl Session for EncryptSession {
    async fn push(&mut self, chunk: &Uint8Array, sink: Sink<'_>) -> Result<(), JsValue> {
        EncryptSession::push(self, chunk, sink).await
    }
    async fn finish(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        EncryptSession::finish(self, sink).await
    }
    fn processed(&self) -> f64 {
        self.processed
    }
}

impl Session for DecryptSession {
    async fn push(&mut self, chunk: &Uint8Array, sink: Sink<'_>) -> Result<(), JsValue> {
        DecryptSession::push(self, chunk, sink).await
    }
    async fn finish(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        DecryptSession::finish(self, sink).await
    }
    fn processed(&self) -> f64 {
        self.processed
    }
}

/// Views of JS bytes not consumed yet, in order: nothing is copied until taken.
#[derive(Default)]
struct JsQueue {
    /// Each piece with the offset and end of its bytes not taken yet (kept here rather than
    /// re-slicing the array: one JS call per frame instead of four).
    pieces: VecDeque<(Uint8Array, u32, u32)>,
    len: u64,
}

impl JsQueue {
    fn push(&mut self, piece: Uint8Array) {
        let n = piece.length();
        self.len += u64::from(n);
        self.pieces.push_back((piece, 0, n));
    }

    /// The next `n` bytes, or `None` when fewer are queued: a view of the input when they lie
    /// in one piece, else a copy.
    fn take(&mut self, n: u32) -> Option<Uint8Array> {
        if self.len < u64::from(n) {
            return None;
        }
        self.len -= u64::from(n);
        if let Some((front, at, end)) = self.pieces.front_mut()
            && *end - *at >= n
        {
            let view = front.subarray(*at, *at + n);
            *at += n;
            if at == end {
                self.pieces.pop_front();
            }
            return Some(view);
        }
        let out = Uint8Array::new_with_length(n);
        let mut done = 0;
        while done < n {
            let (front, at, end) = self.pieces.front_mut()?;
            let take = (n - done).min(*end - *at);
            out.set(&front.subarray(*at, *at + take), done);
            done += take;
            *at += take;
            if at == end {
                self.pieces.pop_front();
            }
        }
        Some(out)
    }
}

/// One message being encrypted.
pub struct EncryptSession {
    enc: Encryptor,
    web: Option<(web_sys::SubtleCrypto, web_sys::CryptoKey)>,
    /// Plaintext reported to the engine but not yet sealed (JS memory, no copies).
    pending: JsQueue,
    flight: Flight<SealJob>,
    params: GcmParams,
    scratch: Vec<u8>,
    /// Output taken from the engine, reused (the engine keeps the other buffer).
    obuf: Vec<u8>,
    /// Signed suites: the running hash in a worker (fed a copy of the output, in order).
    hash: Option<WorkerHash>,
    abort: Abort,
    pub processed: f64,
}

impl EncryptSession {
    /// Run the keyrings and emit the header into `sink`. `plaintext_len`, when known, lets
    /// the client's data-key cache count bytes (unknown: the cache is bypassed).
    pub async fn start(
        client: &Client,
        options: &EncryptOptions,
        plaintext_len: Option<u64>,
        backend: Backend,
        hashing: &Hashing,
        abort: Abort,
        sink: Sink<'_>,
    ) -> Result<EncryptSession, JsValue> {
        abort.check()?;
        let subtle = backend.resolve()?;
        let enc = abort
            .race(client.start_encrypt_sized(options, plaintext_len))
            .await?;
        abort.check()?;
        let (mut enc, web) = match subtle {
            Some(subtle) => {
                let (enc, key) = enc.into_external().map_err(to_js)?;
                let key = import_key(&subtle, &key, "encrypt").await?;
                (enc, Some((subtle, key)))
            }
            None => (enc, None),
        };
        let mut hash = None;
        if enc.is_signed()
            && let Some(h) = hashing.open(plaintext_len).await
        {
            // Before any output is taken: the worker then hashes every byte from the header on.
            enc.set_external_hash().map_err(to_js)?;
            hash = Some(h);
        }
        let header = enc.take_output();
        if let Some(total) = plaintext_len.and_then(|p| message_len(&enc, header.len(), p)) {
            sink.expect(total);
        }
        let mut s = EncryptSession {
            enc,
            web,
            pending: JsQueue::default(),
            flight: Flight::new(),
            params: GcmParams::new(),
            scratch: Vec::new(),
            obuf: header,
            hash,
            abort,
            processed: 0.0,
        };
        s.out_taken(sink).await?;
        Ok(s)
    }

    /// Emit what the engine produced (and feed it to the hash worker, if any).
    async fn flush(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        self.enc.take_output_into(&mut self.obuf);
        self.out_taken(sink).await
    }

    async fn out_taken(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        out_bytes(&mut self.hash, sink, &self.obuf).await
    }

    /// Encrypt one more chunk of plaintext.
    pub async fn push(&mut self, chunk: &Uint8Array, sink: Sink<'_>) -> Result<(), JsValue> {
        self.abort.check()?;
        if chunk.length() == 0 {
            return Ok(());
        }
        self.processed += f64::from(chunk.length());
        if self.web.is_none() {
            // A slice at a time: input and output buffers stay small and warm in cache.
            let mut at = 0;
            while at < chunk.length() {
                let end = (at + SLICE).min(chunk.length());
                self.scratch.resize((end - at) as usize, 0);
                chunk.subarray(at, end).copy_to(&mut self.scratch);
                self.enc.push(&self.scratch).map_err(to_js)?;
                self.flush(sink).await?;
                at = end;
            }
            return Ok(());
        }
        self.pending.push(chunk.clone());
        self.enc.push_len(chunk.length() as usize).map_err(to_js)?;
        self.launch(sink).await
    }

    /// Seal the final frame and emit the rest (and the footer).
    pub async fn finish(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        self.abort.check()?;
        self.enc.finish().map_err(to_js)?;
        if self.web.is_some() {
            self.launch(sink).await?;
            while !self.flight.is_empty() {
                self.drain_batch(sink).await?;
            }
        }
        self.flush(sink).await?;
        if let Some(h) = self.hash.as_mut() {
            let digest = h.digest(h.fed()).await?;
            self.enc.provide_digest(&digest).map_err(to_js)?;
        }
        // The footer (signing suites): not hashed.
        self.enc.take_output_into(&mut self.obuf);
        emit(sink, &self.obuf);
        Ok(())
    }

    async fn launch(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        for job in self.enc.take_jobs() {
            let (Some((subtle, key)), Some(data)) = (&self.web, self.pending.take(job.len as u32))
            else {
                return Err(to_js(Error::invalid("frame job without its plaintext")));
            };
            let params = self.params.frame(&job.iv, &job.aad);
            let promise = subtle
                .encrypt_with_object_and_js_u8_array(params, key, &data)
                .map_err(|e| from_js(&e, false))?;
            let len = job.len;
            if self.flight.add(job, &promise, len) {
                self.drain_batch(sink).await?;
            }
        }
        Ok(())
    }

    async fn drain_batch(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        let Some((jobs, results)) = self.flight.next().await else {
            return Ok(());
        };
        let results = results.map_err(|e| from_js(&e, false))?;
        for (i, job) in jobs.into_iter().enumerate() {
            let sealed = Uint8Array::new(&results.get(i as u32));
            let n = sealed.length();
            let prefix = if self.enc.hashes_internally() {
                self.scratch.resize(n as usize, 0);
                sealed.copy_to(&mut self.scratch);
                self.enc.complete_job(&self.scratch)
            } else {
                self.enc.complete_job_len(n as usize)
            }
            .map_err(to_js)?;
            debug_assert!(n as usize == job.len + 16);
            if let Some(h) = self.hash.as_mut() {
                h.feed_bytes(&prefix);
                h.feed(&sealed, n);
            }
            emit(sink, &prefix);
            sink.js(sealed);
        }
        if let Some(h) = self.hash.as_mut() {
            h.send(h.fed()).await?;
        }
        self.flush(sink).await?;
        self.abort.check()
    }
}

fn emit(sink: Sink<'_>, bytes: &[u8]) {
    if !bytes.is_empty() {
        sink.bytes(bytes);
    }
}

/// The footer a message of `suite` most likely ends with: its length field and the
/// static-length signature (another length only costs a sized result one copy).
fn likely_footer_len(suite: AlgorithmSuite) -> u64 {
    suite
        .signature()
        .map_or(0, |alg| 2 + alg.static_signature_len() as u64)
}

/// The length of the message `enc` writes for `plaintext_len` bytes, its header being
/// `header_len` bytes (exact for unsigned suites, see `likely_footer_len` for signed ones).
fn message_len(enc: &Encryptor, header_len: usize, plaintext_len: u64) -> Option<u64> {
    framed_body_len(enc.header().frame_length, plaintext_len)?
        .checked_add(header_len as u64 + likely_footer_len(enc.header().suite))
}

/// Emit `bytes` (wasm memory), signed output: fed to the hash worker first when there is one
/// (a copy: the sink's chunks are the caller's at once).
async fn out_bytes(
    hash: &mut Option<WorkerHash>,
    sink: Sink<'_>,
    bytes: &[u8],
) -> Result<(), JsValue> {
    if bytes.is_empty() {
        return Ok(());
    }
    if let Some(h) = hash.as_mut() {
        h.feed_bytes(bytes);
        h.send(h.fed()).await?;
    }
    sink.bytes(bytes);
    Ok(())
}

/// Start WebCrypto on one frame (lent or queued); `true` when the caller should now wait for
/// the oldest batch.
fn open_frame(
    subtle: &Option<web_sys::SubtleCrypto>,
    key: &Option<web_sys::CryptoKey>,
    params: &mut GcmParams,
    flight: &mut Flight<bool>,
    f: OpenFrame<'_>,
) -> Result<bool, JsValue> {
    let (Some(subtle), Some(key)) = (subtle, key) else {
        return Err(to_js(Error::invalid("frame job without a WebCrypto key")));
    };
    let promise = subtle
        .decrypt_with_object_and_u8_array(params.frame(f.iv, f.aad), key, f.sealed)
        .map_err(|e| from_js(&e, true))?;
    Ok(flight.add(f.withhold, &promise, f.sealed.len()))
}

/// One message being decrypted.
pub struct DecryptSession {
    client: Client,
    dec: Decryptor,
    subtle: Option<web_sys::SubtleCrypto>,
    key: Option<web_sys::CryptoKey>,
    /// In flight: whether each frame's plaintext is withheld until the end.
    flight: Flight<bool>,
    params: GcmParams,
    withheld: Vec<Uint8Array>,
    /// Plaintext taken from the engine, reused (the engine keeps the other buffer).
    obuf: Vec<u8>,
    /// The input's total length, until the plaintext length was announced to the sink.
    size: Option<u64>,
    /// Until the first byte: how to hash (see `choose_hashing`).
    hashing: Option<Hashing>,
    /// The input, copied as it is pushed (the bytes the engine parsed), hashed in a worker.
    hash: Option<WorkerHash>,
    abort: Abort,
    pub processed: f64,
}

impl DecryptSession {
    pub fn new(
        client: &Client,
        reproduced: &EncryptionContext,
        backend: Backend,
        hashing: &Hashing,
        size: Option<u64>,
        abort: Abort,
    ) -> Result<DecryptSession, JsValue> {
        let subtle = backend.resolve()?;
        let mut dec = client.start_decrypt(reproduced);
        if subtle.is_some() {
            dec.set_external().map_err(to_js)?;
        }
        Ok(DecryptSession {
            client: client.clone(),
            dec,
            subtle,
            key: None,
            flight: Flight::new(),
            params: GcmParams::new(),
            withheld: Vec::new(),
            obuf: Vec::new(),
            size,
            hashing: Some(hashing.clone()),
            hash: None,
            abort,
            processed: 0.0,
        })
    }

    /// Before the first byte: hash in a worker if one can run (the suite is not known yet;
    /// an unsigned message simply never uses it).
    async fn choose_hashing(&mut self) -> Result<(), JsValue> {
        let Some(hashing) = self.hashing.take() else {
            return Ok(());
        };
        if let Some(worker) = hashing.open(self.size).await {
            self.dec.set_external_hash().map_err(to_js)?;
            self.hash = Some(worker);
        }
        Ok(())
    }

    /// Send the worker the full batches of input known to be signed.
    async fn forward(&mut self) -> Result<(), JsValue> {
        let Some(h) = self.hash.as_mut() else {
            return Ok(());
        };
        match self.dec.is_signed() {
            None => Ok(()),
            Some(false) => {
                self.hash = None;
                Ok(())
            }
            Some(true) => h.send(self.dec.signed_len()).await,
        }
    }

    /// The header, once parsed (unauthenticated until the data key was provided).
    pub fn decryptor(&self) -> &Decryptor {
        &self.dec
    }

    /// Decrypt one more chunk of ciphertext; authenticated plaintext goes to `sink`.
    pub async fn push(&mut self, chunk: &Uint8Array, sink: Sink<'_>) -> Result<(), JsValue> {
        if chunk.length() > 0 {
            self.choose_hashing().await?;
        }
        let mut at = 0;
        while at < chunk.length() {
            self.abort.check()?;
            let mut end = (at + SLICE).min(chunk.length());
            // A large frame is completed with a piece of its own (one JS call more, against
            // moving the partial frame's bytes in wasm memory later).
            if let Some(need) = self.dec.frame_needs()
                && need + self.dec.buffered() >= SPLIT_FRAMES_FROM
            {
                end = end.min(at.saturating_add(u32::try_from(need).unwrap_or(u32::MAX)));
            }
            let piece = chunk.subarray(at, end);
            let mut n = piece.length();
            loop {
                let wait = self.push_opening(n, &piece)?;
                if n > 0 {
                    self.processed += f64::from(n);
                    if let Some(h) = self.hash.as_mut() {
                        // Right after the engine's copy (no await between): the same bytes.
                        h.feed(&piece, n);
                    }
                    n = 0;
                }
                if self.dec.state() == DecryptState::NeedDataKey {
                    self.abort.race(self.client.unlock(&mut self.dec)).await?;
                    self.abort.check()?;
                }
                self.forward().await?;
                self.launch(sink).await?;
                if !wait {
                    break;
                }
                // Enough in flight: wait for the oldest batch, then parse on.
                self.drain_batch(sink).await?;
            }
            at = end;
        }
        Ok(())
    }

    /// Copy `n` bytes of `piece` into the engine and open every frame it completes straight
    /// from the engine's buffer (no copy per frame; WebCrypto copies when called). `true`
    /// when it paused because enough is in flight.
    fn push_opening(&mut self, n: u32, piece: &Uint8Array) -> Result<bool, JsValue> {
        let DecryptSession {
            dec,
            subtle,
            key,
            params,
            flight,
            ..
        } = self;
        let (mut wait, mut failed) = (false, None);
        let mut open = |f: OpenFrame<'_>| {
            match open_frame(subtle, key, params, flight, f) {
                Ok(w) => wait = w,
                Err(e) => failed = Some(e),
            }
            !wait && failed.is_none()
        };
        // `n` is 0 when going on after a pause: nothing more to copy.
        let fill = |buf: &mut [u8]| {
            if n > 0 {
                piece.copy_to(buf);
            }
        };
        dec.push_opening(n as usize, fill, &mut open)
            .map_err(to_js)?;
        match failed {
            Some(e) => Err(e),
            None => Ok(wait),
        }
    }

    /// End of input: everything must have verified, the signature included.
    pub async fn finish(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        self.abort.check()?;
        while !self.flight.is_empty() {
            self.drain_batch(sink).await?;
        }
        if self.dec.needs_digest() {
            let Some(h) = self.hash.as_mut() else {
                return Err(to_js(Error::invalid(
                    "a digest is needed but nothing hashed",
                )));
            };
            let digest = h.digest(self.dec.signed_len()).await?;
            self.dec.provide_digest(&digest).map_err(to_js)?;
        }
        self.dec.finish().map_err(to_js)?;
        self.dec.take_output_into(&mut self.obuf);
        emit(sink, &self.obuf);
        for pt in self.withheld.drain(..) {
            sink.js(pt);
        }
        Ok(())
    }

    async fn launch(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        if let (Some(subtle), Some(k)) = (&self.subtle, self.dec.take_external_key()) {
            self.key = Some(import_key(subtle, &k, "decrypt").await?);
        }
        if let (Some(h), Some(size)) = (self.dec.header(), self.size) {
            self.size = None;
            // Framed messages: the plaintext length follows from the total length (the sink
            // never returns a wrong size when the footer guess is off).
            if let (ContentType::Framed, Some(body)) = (
                h.body.content_type,
                size.checked_sub(h.raw.len() as u64 + likely_footer_len(h.body.suite)),
            ) && let Some(n) = framed_plaintext_len(h.body.frame_length, body)
            {
                sink.expect(n);
            }
        }
        self.dec.take_output_into(&mut self.obuf);
        emit(sink, &self.obuf);
        for job in self.dec.take_jobs() {
            let (subtle, key) = (&self.subtle, &self.key);
            if open_frame(subtle, key, &mut self.params, &mut self.flight, job.frame())? {
                self.drain_batch(sink).await?;
            }
        }
        Ok(())
    }

    async fn drain_batch(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        let Some((jobs, results)) = self.flight.next().await else {
            return Ok(());
        };
        match results {
            Ok(results) => {
                for (i, withhold) in jobs.into_iter().enumerate() {
                    self.dec.complete_job(true).map_err(to_js)?;
                    let pt = Uint8Array::new(&results.get(i as u32));
                    if withhold {
                        self.withheld.push(pt);
                    } else {
                        sink.js(pt);
                    }
                }
                self.abort.check()
            }
            Err(e) => {
                // AES-GCM decrypt rejects with OperationError exactly when a tag is wrong; the
                // batch's good frames are dropped with the message.
                let _ = self.dec.complete_job(false);
                self.flight.clear();
                Err(from_js(&e, true))
            }
        }
    }
}
