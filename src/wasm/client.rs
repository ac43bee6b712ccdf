//! `EnvelopeClient` for JS: one-shot calls, Web Streams and Blobs.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use super::error::{from_js, invalid, to_js};
use super::hash::{HashMode, Hashing};
use super::header_to_js;
use super::keyrings::lookup;
use super::options as opt;
use super::session::{
    Abort, Backend, DecryptSession, EncryptSession, Out, Session, Sink, ignore_rejection,
};
use crate::cache::{CacheLimits, MAX_MESSAGES_LIMIT, MaterialsCache};
use crate::client::{Client, EncryptOptions};
use crate::format::{EncryptionContext, MAX_FRAME_LENGTH};
use crate::kms::Metrics;

/// Encrypts and decrypts with one keyring.
#[wasm_bindgen]
pub struct EnvelopeClient {
    client: Client,
    backend: Backend,
    hashing: Hashing,
    metrics: Vec<Metrics>,
}

struct Call {
    options: EncryptOptions,
    reproduced: EncryptionContext,
    abort: Abort,
    on_progress: Option<Function>,
}

#[wasm_bindgen]
extern "C" {
    /// Options of `encrypt`, `encryptStream` and `encryptBlob` (optional in TypeScript).
    #[wasm_bindgen(typescript_type = "EncryptOptions")]
    pub type EncryptOptionsJs;
    /// Options of `decrypt`, `decryptStream` and `decryptBlob` (optional in TypeScript).
    #[wasm_bindgen(typescript_type = "DecryptOptions")]
    pub type DecryptOptionsJs;
}

fn call_options(options: Option<impl Into<JsValue>>, encrypt: bool) -> Result<Call, JsValue> {
    read_call_options(
        &options.map(Into::into).unwrap_or(JsValue::UNDEFINED),
        encrypt,
    )
}

/// The options reader itself, not generic: one copy for the encrypt and decrypt option types.
fn read_call_options(options: &JsValue, encrypt: bool) -> Result<Call, JsValue> {
    let mut call = Call {
        options: EncryptOptions::default(),
        reproduced: EncryptionContext::new(),
        abort: Abort::new(opt::get(options, "signal")?),
        on_progress: match opt::get(options, "onProgress")? {
            None => None,
            Some(f) if f.is_function() => Some(f.into()),
            Some(_) => return Err(invalid("onProgress", "must be a function")),
        },
    };
    if encrypt {
        call.options.context =
            opt::context(opt::get(options, "encryptionContext")?, "encryptionContext")?;
        if let Some(keys) = opt::get(options, "requiredEncryptionContextKeys")? {
            if !Array::is_array(&keys) {
                return Err(invalid(
                    "requiredEncryptionContextKeys",
                    "must be an array of strings",
                ));
            }
            let mut set = BTreeSet::new();
            for k in Array::from(&keys).iter() {
                set.insert(k.as_string().ok_or_else(|| {
                    invalid(
                        "requiredEncryptionContextKeys",
                        "must be an array of strings",
                    )
                })?);
            }
            call.options.required_keys = set;
        }
    } else {
        call.reproduced = opt::context(
            opt::get(options, "requiredEncryptionContext")?,
            "requiredEncryptionContext",
        )?;
    }
    Ok(call)
}

/// A `Promise` for an async entry point. Every one goes through a single `future_to_promise`
/// instance (boxed future): one instance per call site cost ~1 KB of wasm each.
fn promise(f: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let f: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    future_to_promise(f)
}

fn progress(f: &Option<Function>, processed: f64, total: Option<f64>) {
    if let Some(f) = f {
        let p = Object::new();
        let _ = Reflect::set(&p, &"bytes".into(), &processed.into());
        let _ = Reflect::set(
            &p,
            &"total".into(),
            &total.map(JsValue::from).unwrap_or(JsValue::UNDEFINED),
        );
        let _ = f.call1(&JsValue::NULL, &p);
    }
}

fn concat(pieces: &[Uint8Array]) -> Uint8Array {
    let total: u32 = pieces.iter().map(Uint8Array::length).sum();
    let out = Uint8Array::new_with_length(total);
    let mut at = 0;
    for p in pieces {
        out.set(p, at);
        at += p.length();
    }
    out
}

/// A one-shot result: written straight into one array of the announced length (no pieces,
/// no final concatenation), else collected in pieces.
#[derive(Default)]
struct Collect {
    /// The result, the write position and the result's length (kept here: one JS call less
    /// per write).
    exact: Option<(Uint8Array, u32, u32)>,
    pieces: Vec<Uint8Array>,
}

impl Collect {
    /// Room for `n` more bytes at the write position, else back to pieces (from what was
    /// written so far).
    fn room(&mut self, n: u32) -> Option<(&Uint8Array, u32)> {
        if let Some((buf, at, len)) = &self.exact
            && len - *at < n
        {
            self.pieces.push(buf.subarray(0, *at));
            self.exact = None;
        }
        let (buf, at, _) = self.exact.as_mut()?;
        let start = *at;
        *at += n;
        Some((buf, start))
    }

    /// The bytes written, in one array of exactly their length.
    fn result(self) -> Uint8Array {
        match self.exact {
            Some((buf, at, len)) if at == len => buf,
            // Fewer than announced (a shorter signature): a copy, never an oversized view.
            Some((buf, at, _)) => buf.slice(0, at),
            None => concat(&self.pieces),
        }
    }
}

impl Out for Collect {
    fn js(&mut self, chunk: Uint8Array) {
        match self.room(chunk.length()) {
            Some((buf, at)) => buf.set(&chunk, at),
            None => self.pieces.push(chunk),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let n = bytes.len() as u32;
        match self.room(n) {
            Some((buf, at)) => buf.subarray(at, at + n).copy_from(bytes),
            None => self.pieces.push(Uint8Array::from(bytes)),
        }
    }

    fn expect(&mut self, total: u64) {
        // Only before any output, and within what one Uint8Array of u32 length can hold.
        if self.exact.is_none()
            && self.pieces.is_empty()
            && let Ok(total) = u32::try_from(total)
        {
            self.exact = Some((Uint8Array::new_with_length(total), 0, total));
        }
    }
}

/// `cache: { maxEntries?, maxAgeMs?, maxMessagesPerKey?, maxBytesPerKey? }`: a data-key cache
/// for this client (defaults: 16 entries, 60 s, the ESDK's message and byte limits). Its hits
/// and misses count into the keyring's metrics.
fn data_key_cache(options: &JsValue, metrics: &[Metrics]) -> Result<MaterialsCache, JsValue> {
    let bad = |field: &str, e: crate::Error| invalid(field, &e.to_string());
    let entries = opt::integer(options, "maxEntries", 1e6)?.unwrap_or(16.0);
    let age_ms = opt::integer(options, "maxAgeMs", 1e12)?.unwrap_or(60_000.0);
    let mut limits = CacheLimits::new(entries as usize, Duration::from_millis(age_ms as u64))
        .map_err(|e| bad("cache", e))?;
    if let Some(n) = opt::integer(options, "maxMessagesPerKey", MAX_MESSAGES_LIMIT as f64)? {
        limits = limits
            .with_max_messages(n as u64)
            .map_err(|e| bad("cache.maxMessagesPerKey", e))?;
    }
    if let Some(n) = opt::integer(options, "maxBytesPerKey", 9_007_199_254_740_991.0)? {
        limits = limits
            .with_max_bytes(n as u64)
            .map_err(|e| bad("cache.maxBytesPerKey", e))?;
    }
    // SystemTime panics on wasm32: the cache's clock is Date.now().
    let cache = MaterialsCache::new(
        limits,
        Arc::new(|| Duration::from_millis(js_sys::Date::now() as u64)),
    );
    Ok(match metrics.first() {
        Some(m) => cache.with_metrics(m.clone()),
        None => cache,
    })
}

/// Output bytes after which `encryptBlob`/`decryptBlob` fold their chunks into a Blob.
const BLOB_FOLD: u32 = 16 << 20;

/// Slices fed to the engine by the one-shot calls, so progress and abort are timely.
const ONE_SHOT_SLICE: u32 = 4 << 20;

#[wasm_bindgen]
impl EnvelopeClient {
    /// `new EnvelopeClient({ keyring, suite?, frameLength?, commitmentPolicy?,
    /// maxEncryptedDataKeys?, backend?, cache?, hashWorker? })`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "EnvelopeClientOptions")] options: JsValue,
    ) -> Result<EnvelopeClient, JsValue> {
        let entry = lookup(&opt::required(&options, "keyring")?, "keyring")?;
        let mut client = Client::new(entry.keyring);
        if let Some(p) = opt::commitment_policy(&options, "commitmentPolicy")? {
            client = client.with_commitment_policy(p);
        }
        if let Some(s) = opt::suite(&options, "suite")? {
            client = client
                .with_suite(s)
                .map_err(|e| invalid("suite", &e.to_string()))?;
        }
        if let Some(n) = opt::integer(&options, "frameLength", f64::from(MAX_FRAME_LENGTH))? {
            client = client
                .with_frame_length(n as u32)
                .map_err(|e| invalid("frameLength", &e.to_string()))?;
        }
        if let Some(c) = opt::get(&options, "cache")? {
            client = client.with_cache(Arc::new(data_key_cache(&c, &entry.metrics)?), Vec::new());
        }
        if let Some(n) = opt::integer(&options, "maxEncryptedDataKeys", 65535.0)? {
            client = client
                .with_max_encrypted_data_keys(n as usize)
                .map_err(|e| invalid("maxEncryptedDataKeys", &e.to_string()))?;
        }
        let backend = match opt::string(&options, "backend")?.as_deref() {
            None | Some("auto") => Backend::Auto,
            Some("webcrypto") => Backend::WebCrypto,
            Some("rust") => Backend::Rust,
            Some(_) => return Err(invalid("backend", "must be auto, webcrypto or rust")),
        };
        let hash_mode = match opt::string(&options, "hashWorker")?.as_deref() {
            None | Some("auto") => HashMode::Auto,
            Some("off") => HashMode::Off,
            Some(_) => return Err(invalid("hashWorker", "must be auto or off")),
        };
        Ok(EnvelopeClient {
            client,
            backend,
            hashing: Hashing::new(hash_mode),
            metrics: entry.metrics,
        })
    }

    /// Encrypt a whole `Uint8Array` → `{ ciphertext, header }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<EncryptResult>")]
    pub fn encrypt(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: JsValue,
        options: Option<EncryptOptionsJs>,
    ) -> Promise {
        let (client, backend, hashing) = (self.client.clone(), self.backend, self.hashing.clone());
        promise(async move {
            let data = opt::as_uint8array(&data, "data")?;
            let call = call_options(options, true)?;
            let mut sink = Collect::default();
            let mut s = EncryptSession::start(
                &client,
                &call.options,
                Some(u64::from(data.length())),
                backend,
                &hashing,
                call.abort.clone(),
                &mut sink,
            )
            .await?;
            let total = f64::from(data.length());
            let mut at = 0;
            while at < data.length() {
                let end = (at + ONE_SHOT_SLICE).min(data.length());
                s.push(&data.subarray(at, end), &mut sink).await?;
                at = end;
                progress(&call.on_progress, s.processed, Some(total));
            }
            s.finish(&mut sink).await?;
            let ciphertext = sink.result();
            let header = super::parse_header_js(&ciphertext)?;
            // We just wrote this header: it is ours, not merely parsed.
            Reflect::set(&header, &"authenticated".into(), &true.into())?;
            let out = Object::new();
            Reflect::set(&out, &"ciphertext".into(), &ciphertext)?;
            Reflect::set(&out, &"header".into(), &header)?;
            Ok(out.into())
        })
    }

    /// Decrypt a whole message → `{ plaintext, encryptionContext, header }`. Nothing is
    /// returned unless every frame and the signature verified.
    #[wasm_bindgen(unchecked_return_type = "Promise<DecryptResult>")]
    pub fn decrypt(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: JsValue,
        options: Option<DecryptOptionsJs>,
    ) -> Promise {
        let (client, backend, hashing) = (self.client.clone(), self.backend, self.hashing.clone());
        promise(async move {
            let data = opt::as_uint8array(&data, "data")?;
            let call = call_options(options, false)?;
            let mut sink = Collect::default();
            let mut s = DecryptSession::new(
                &client,
                &call.reproduced,
                backend,
                &hashing,
                Some(u64::from(data.length())),
                call.abort.clone(),
            )?;
            let total = f64::from(data.length());
            let mut at = 0;
            while at < data.length() {
                let end = (at + ONE_SHOT_SLICE).min(data.length());
                s.push(&data.subarray(at, end), &mut sink).await?;
                at = end;
                progress(&call.on_progress, s.processed, Some(total));
            }
            s.finish(&mut sink).await?;
            let dec = s.decryptor();
            let (Some(header), Some(ctx)) = (dec.header(), dec.context()) else {
                return Err(to_js(crate::Error::Truncated));
            };
            let out = Object::new();
            Reflect::set(&out, &"plaintext".into(), &sink.result())?;
            Reflect::set(&out, &"encryptionContext".into(), &opt::context_to_js(ctx))?;
            Reflect::set(&out, &"header".into(), &header_to_js(header, true))?;
            Ok(out.into())
        })
    }

    /// A `ReadableStream` of ciphertext for a `ReadableStream` of plaintext.
    #[wasm_bindgen(js_name = encryptStream, unchecked_return_type = "ReadableStream<Uint8Array>")]
    pub fn encrypt_stream(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ReadableStream<Uint8Array>")] readable: JsValue,
        options: Option<EncryptOptionsJs>,
    ) -> Result<JsValue, JsValue> {
        let call = call_options(options, true)?;
        let (client, backend, hashing) = (self.client.clone(), self.backend, self.hashing.clone());
        let state: Rc<RefCell<Option<Piped>>> = Rc::new(RefCell::new(None));
        let on_progress = call.on_progress.clone();
        // The keyrings run in `start`, which the stream awaits before its first pull.
        let start = {
            let state = state.clone();
            move |controller: JsValue| -> Promise {
                let (client, state, call) = (client.clone(), state.clone(), clone_call(&call));
                let hashing = hashing.clone();
                promise(async move {
                    let mut sink = enqueue(&controller);
                    let s = EncryptSession::start(
                        &client,
                        &call.options,
                        None,
                        backend,
                        &hashing,
                        call.abort,
                        &mut sink,
                    )
                    .await?;
                    *state.borrow_mut() = Some(Piped::Encrypt(s));
                    Ok(JsValue::UNDEFINED)
                })
            }
        };
        pipe(&readable, Box::new(start), state, on_progress)
    }

    /// A `ReadableStream` of plaintext for a `ReadableStream` of ciphertext. Frames are
    /// released as they authenticate; if the stream errors, discard what it produced.
    #[wasm_bindgen(js_name = decryptStream, unchecked_return_type = "ReadableStream<Uint8Array>")]
    pub fn decrypt_stream(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ReadableStream<Uint8Array>")] readable: JsValue,
        options: Option<DecryptOptionsJs>,
    ) -> Result<JsValue, JsValue> {
        let call = call_options(options, false)?;
        let session = DecryptSession::new(
            &self.client,
            &call.reproduced,
            self.backend,
            &self.hashing,
            None,
            call.abort.clone(),
        )?;
        let start = |_controller: JsValue| -> Promise { Promise::resolve(&JsValue::UNDEFINED) };
        pipe(
            &readable,
            Box::new(start),
            Rc::new(RefCell::new(Some(Piped::Decrypt(session)))),
            call.on_progress,
        )
    }

    /// Encrypt a `Blob` (e.g. a `File`) into a `Blob`, streaming.
    #[wasm_bindgen(js_name = encryptBlob, unchecked_return_type = "Promise<Blob>")]
    pub fn encrypt_blob(
        &self,
        blob: web_sys::Blob,
        options: Option<EncryptOptionsJs>,
    ) -> Result<Promise, JsValue> {
        let out = self.encrypt_stream(blob.stream().into(), options)?;
        to_blob(&out)
    }

    /// Decrypt a `Blob` into a `Blob`, streaming; rejects unless everything verified.
    #[wasm_bindgen(js_name = decryptBlob, unchecked_return_type = "Promise<Blob>")]
    pub fn decrypt_blob(
        &self,
        blob: web_sys::Blob,
        options: Option<DecryptOptionsJs>,
    ) -> Result<Promise, JsValue> {
        let out = self.decrypt_stream(blob.stream().into(), options)?;
        to_blob(&out)
    }

    /// KMS calls, latency, errors and cache counters of this client's KMS keyrings.
    #[wasm_bindgen(unchecked_return_type = "EnvelopeMetrics")]
    pub fn metrics(&self) -> JsValue {
        let (mut calls, mut ok, mut failed, mut total_ms, mut max_ms) =
            (0u64, 0u64, 0u64, 0f64, 0f64);
        let (mut hits, mut misses) = (0u64, 0u64);
        let errors = Object::new();
        for m in &self.metrics {
            let s = m.snapshot();
            for op in s.operations.values() {
                calls += op.calls;
                ok += op.successes;
                failed += op.failures;
                total_ms += op.total_latency.as_secs_f64() * 1000.0;
                max_ms = max_ms.max(op.max_latency.as_secs_f64() * 1000.0);
            }
            for (code, n) in &s.errors {
                let prev = Reflect::get(&errors, &(*code).into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
                let _ = Reflect::set(&errors, &(*code).into(), &(prev + *n as f64).into());
            }
            hits += s.encrypt_cache.hits + s.decrypt_cache.hits;
            misses += s.encrypt_cache.misses + s.decrypt_cache.misses;
        }
        let out = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&out, &k.into(), &v);
        };
        set("kmsCalls", (calls as f64).into());
        set("kmsSuccesses", (ok as f64).into());
        set("kmsFailures", (failed as f64).into());
        set(
            "kmsMeanLatencyMs",
            if calls > 0 {
                (total_ms / calls as f64).into()
            } else {
                JsValue::NULL
            },
        );
        set("kmsMaxLatencyMs", max_ms.into());
        set("errorsByCode", errors.into());
        set("cacheHits", (hits as f64).into());
        set("cacheMisses", (misses as f64).into());
        set("hashWorkerBytes", self.hashing.bytes.get().into());
        out.into()
    }
}

fn clone_call(c: &Call) -> Call {
    Call {
        options: c.options.clone(),
        reproduced: c.reproduced.clone(),
        abort: c.abort.clone(),
        on_progress: c.on_progress.clone(),
    }
}

fn closed() -> JsValue {
    to_js(crate::Error::invalid(
        "stream used after it ended or failed",
    ))
}

/// A sink that enqueues into a stream controller (a closed or errored stream drops it).
fn enqueue(controller: &JsValue) -> impl FnMut(Uint8Array) + use<> {
    let controller: Controller = controller.clone().unchecked_into();
    move |chunk: Uint8Array| {
        let _ = controller.enqueue(&chunk);
    }
}

// Typed calls on the stream objects `pipe` handles: direct property access in the glue, no
// property-name strings crossing from wasm per chunk.
#[wasm_bindgen]
extern "C" {
    /// A `ReadableStreamDefaultController`.
    type Controller;
    #[wasm_bindgen(method, catch)]
    fn enqueue(this: &Controller, chunk: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &Controller) -> Result<(), JsValue>;
    /// The `ReadableStreamDefaultReader` `pipe` holds on the caller's stream.
    type Reader;
    #[wasm_bindgen(method, catch)]
    fn read(this: &Reader) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn cancel(this: &Reader, reason: &JsValue) -> Result<Promise, JsValue>;
    /// What `read()` resolves to.
    type ReadResult;
    #[wasm_bindgen(method, getter, catch)]
    fn done(this: &ReadResult) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, getter, catch)]
    fn value(this: &ReadResult) -> Result<JsValue, JsValue>;
}

/// The session a stream drives: one `pipe` (and one copy of its closures) for both kinds.
// One per stream, in the stream's heap cell: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Piped {
    Encrypt(EncryptSession),
    Decrypt(DecryptSession),
}

impl Session for Piped {
    async fn push(&mut self, chunk: &Uint8Array, sink: Sink<'_>) -> Result<(), JsValue> {
        match self {
            Piped::Encrypt(s) => s.push(chunk, sink).await,
            Piped::Decrypt(s) => s.push(chunk, sink).await,
        }
    }
    async fn finish(&mut self, sink: Sink<'_>) -> Result<(), JsValue> {
        match self {
            Piped::Encrypt(s) => s.finish(sink).await,
            Piped::Decrypt(s) => s.finish(sink).await,
        }
    }
    fn processed(&self) -> f64 {
        match self {
            Piped::Encrypt(s) => s.processed,
            Piped::Decrypt(s) => s.processed,
        }
    }
}

/// `new ReadableStream({ start, pull, cancel })` that reads `readable` itself and drives the
/// session in `state` (put there by `start` at the latest). Not `pipeThrough` a
/// `TransformStream`: here the pipe and the transform's writable side cost ~10 µs per chunk, a
/// reader of our own ~5 µs (raw WebCrypto behind each, 64 KiB frames: 0.69× vs 0.81–0.86× of
/// WebCrypto alone). Each pull reads until the session produced output or the input ended;
/// the session is out of its cell while a pull runs, so no borrow is held across an await.
fn pipe(
    readable: &JsValue,
    start: Box<dyn FnMut(JsValue) -> Promise>,
    state: Rc<RefCell<Option<Piped>>>,
    on_progress: Option<Function>,
) -> Result<JsValue, JsValue> {
    let get_reader: Function = Reflect::get(readable, &"getReader".into())?
        .dyn_into()
        .map_err(|_| invalid("readable", "must be a ReadableStream"))?;
    // A locked stream throws here (a TypeError), as `pipeThrough` did.
    let source = Rc::new(Source {
        reader: get_reader.call0(readable)?.unchecked_into(),
        cancelled: Cell::new(false),
    });
    let pull = {
        let (state, source) = (state.clone(), source.clone());
        move |controller: JsValue| -> Promise {
            let (state, source, on_progress) = (state.clone(), source.clone(), on_progress.clone());
            promise(async move {
                let mut s = state.borrow_mut().take().ok_or_else(closed)?;
                match source.pull(&mut s, &controller, &on_progress).await {
                    Ok(false) => *state.borrow_mut() = Some(s),
                    // Ended (or cancelled): nothing more to pull.
                    Ok(true) => {
                        let _ = controller.unchecked_ref::<Controller>().close();
                    }
                    Err(Failed::Source(e)) => return Err(e),
                    // Ours (bad chunk, bad message, abort): the source is cancelled with it, as
                    // a pipe would.
                    Err(Failed::Here(e)) => {
                        source.cancel(&e);
                        return Err(e);
                    }
                }
                Ok(JsValue::UNDEFINED)
            })
        }
    };
    let cancel = move |reason: JsValue| -> Promise {
        state.borrow_mut().take();
        source.cancelled.set(true);
        source
            .reader
            .cancel(&reason)
            .unwrap_or_else(|_| Promise::resolve(&JsValue::UNDEFINED))
    };
    let underlying = Object::new();
    // The closures live as long as the stream: the stream holds them.
    let start = Closure::wrap(start).into_js_value();
    let pull = Closure::<dyn FnMut(JsValue) -> Promise>::new(pull).into_js_value();
    let cancel = Closure::<dyn FnMut(JsValue) -> Promise>::new(cancel).into_js_value();
    Reflect::set(&underlying, &"start".into(), &start)?;
    Reflect::set(&underlying, &"pull".into(), &pull)?;
    Reflect::set(&underlying, &"cancel".into(), &cancel)?;
    // Pull only when read: no input is read ahead of the consumer.
    let strategy = web_sys::QueuingStrategy::new();
    strategy.set_high_water_mark(0.0);
    Ok(
        web_sys::ReadableStream::new_with_underlying_source_and_strategy(&underlying, &strategy)?
            .into(),
    )
}

/// The input side of `pipe`: our reader of the caller's stream.
struct Source {
    reader: Reader,
    cancelled: Cell<bool>,
}

/// Why a pull failed: the caller's stream errored (its error is passed on as is), or we did.
enum Failed {
    Source(JsValue),
    Here(JsValue),
}

impl Source {
    /// Read and push until `s` emits something (`Ok(false)`) or the input ends (`Ok(true)`).
    async fn pull(
        &self,
        s: &mut Piped,
        controller: &JsValue,
        on_progress: &Option<Function>,
    ) -> Result<bool, Failed> {
        let emitted = Cell::new(false);
        let mut enqueue = enqueue(controller);
        let mut sink = |chunk: Uint8Array| {
            emitted.set(true);
            enqueue(chunk);
        };
        while !self.cancelled.get() {
            let step = self.reader.read().map_err(Failed::Source)?;
            let r: ReadResult = JsFuture::from(step)
                .await
                .map_err(Failed::Source)?
                .unchecked_into();
            if r.done().map_err(Failed::Source)?.as_bool().unwrap_or(true) {
                s.finish(&mut sink).await.map_err(Failed::Here)?;
                return Ok(true);
            }
            let value = r.value().map_err(Failed::Source)?;
            let chunk = opt::as_uint8array(&value, "stream chunk").map_err(Failed::Here)?;
            let pushed = s.push(&chunk, &mut sink).await;
            progress(on_progress, s.processed(), None);
            pushed.map_err(Failed::Here)?;
            if emitted.get() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Cancel the caller's stream with our error (a rejection of that is nobody's to handle).
    fn cancel(&self, reason: &JsValue) {
        if let Ok(p) = self.reader.cancel(reason) {
            ignore_rejection(&p);
        }
    }
}

/// Collect a stream into a `Blob`, reading it ourselves so its error (an `EnvelopeError`)
/// reaches the caller unchanged.
fn to_blob(stream: &JsValue) -> Result<Promise, JsValue> {
    let get_reader: Function = Reflect::get(stream, &"getReader".into())?.dyn_into()?;
    let reader: Reader = get_reader.call0(stream)?.unchecked_into();
    Ok(promise(async move {
        let bag = web_sys::BlobPropertyBag::new();
        bag.set_type("application/octet-stream");
        // Fold the chunks into a Blob every few MiB: the browser may keep Blob data out of the
        // JS heap (on disk for large ones), so memory stays bounded while the stream runs.
        let mut parts = Array::new();
        let mut pending = 0u32;
        loop {
            let r: ReadResult = JsFuture::from(reader.read()?)
                .await
                .map_err(|e| from_js(&e, false))?
                .unchecked_into();
            if r.done()?.as_bool().unwrap_or(true) {
                break;
            }
            // Our own stream's chunk: a Uint8Array.
            let chunk: Uint8Array = r.value()?.unchecked_into();
            pending = pending.saturating_add(chunk.length());
            parts.push(&chunk);
            if pending >= BLOB_FOLD {
                let folded = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &bag)?;
                parts = Array::of1(&folded);
                pending = 0;
            }
        }
        Ok(web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &bag)?.into())
    }))
}
