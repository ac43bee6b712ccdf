//! The signed suites' running SHA-384 in a Web Worker, on another core than the AES-GCM of
//! WebCrypto (which Chromium runs on the calling thread). `hash_worker.js` starts one worker per
//! JS realm; the worker instantiates this same wasm and calls only the numeric
//! `__kmsenv_sha384_*` exports below. Where no worker can run (Node, bundles, CSP) or the input
//! is small, the engine hashes in-thread as before; a worker failing mid-message fails the
//! operation (`IO_ERROR`), never the verification.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::error::to_js;
use crate::crypto::SignatureHasher;
use crate::error::Error;
use crate::suite::SignatureAlg;

#[wasm_bindgen(module = "/src/wasm/hash_worker.js")]
extern "C" {
    #[wasm_bindgen(js_name = hashWorkerWarm)]
    fn worker_warm() -> Promise;
    #[wasm_bindgen(js_name = hashWorkerOpen)]
    fn worker_open() -> u32;
    #[wasm_bindgen(js_name = hashWorkerUpdate)]
    fn worker_update(sid: u32, chunks: &Array) -> Promise;
    #[wasm_bindgen(js_name = hashWorkerDigest)]
    fn worker_digest(sid: u32) -> Promise;
    #[wasm_bindgen(js_name = hashWorkerClose)]
    fn worker_close(sid: u32);
}

/// Known inputs smaller than this are hashed in-thread: a worker round trip would cost more.
const MIN_SIZE: u64 = 1 << 20;
/// Bytes sent to the worker per message.
pub const BATCH: u32 = 512 << 10;
/// Messages in flight before the driver waits for the oldest (bounds memory: ~3 MiB).
pub const WINDOW: usize = 6;

/// `hashWorker` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMode {
    /// A worker when one can run.
    Auto,
    /// Always in-thread.
    Off,
}

/// A client's hashing choice and its counter of bytes hashed in the worker.
#[derive(Clone)]
pub struct Hashing {
    pub mode: HashMode,
    pub bytes: Rc<Cell<f64>>,
}

impl Hashing {
    pub fn new(mode: HashMode) -> Self {
        if mode == HashMode::Auto {
            // Start it now, so the first message does not wait for it.
            let _ = worker_warm();
        }
        Hashing {
            mode,
            bytes: Rc::new(Cell::new(0.0)),
        }
    }

    /// A worker session for a message of `size` bytes (if known), or `None`: hash in-thread.
    pub async fn open(&self, size: Option<u64>) -> Option<WorkerHash> {
        if self.mode == HashMode::Off || size.is_some_and(|n| n < MIN_SIZE) {
            return None;
        }
        let ready = JsFuture::from(worker_warm()).await.ok()?;
        if ready.as_bool() != Some(true) {
            return None;
        }
        let sid = worker_open();
        (sid != 0).then(|| WorkerHash {
            sid,
            batch: Array::new(),
            batch_bytes: 0,
            inflight: VecDeque::new(),
            bytes: self.bytes.clone(),
        })
    }
}

/// One message's running hash in the worker: chunks are batched, sent in order, and come back
/// (their buffers are transferred there and back) once hashed.
pub struct WorkerHash {
    sid: u32,
    batch: Array,
    batch_bytes: u32,
    inflight: VecDeque<JsFuture>,
    bytes: Rc<Cell<f64>>,
}

fn worker_error(e: &JsValue) -> JsValue {
    let msg = js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "hash worker failed".into());
    to_js(Error::Io(msg))
}

impl WorkerHash {
    /// Queue `chunk` (hashed after everything queued before it).
    pub fn push(&mut self, chunk: Uint8Array) {
        self.batch_bytes = self.batch_bytes.saturating_add(chunk.length());
        self.batch.push(&chunk);
    }

    /// Bytes queued but not yet sent.
    pub fn queued(&self) -> u32 {
        self.batch_bytes
    }

    /// Send the queued chunks.
    pub fn flush(&mut self) {
        if self.batch.length() == 0 {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Array::new());
        self.bytes
            .set(self.bytes.get() + f64::from(self.batch_bytes));
        self.batch_bytes = 0;
        self.inflight
            .push_back(JsFuture::from(worker_update(self.sid, &batch)));
    }

    /// Messages sent and not yet answered.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// Wait for the oldest message: its chunks, hashed, in order.
    pub async fn next(&mut self) -> Result<Option<Array>, JsValue> {
        let Some(fut) = self.inflight.pop_front() else {
            return Ok(None);
        };
        let done = fut.await.map_err(|e| worker_error(&e))?;
        Ok(Some(done.unchecked_into()))
    }

    /// The digest of everything sent (flush and wait for every message first).
    pub async fn digest(&mut self) -> Result<Vec<u8>, JsValue> {
        let d = JsFuture::from(worker_digest(self.sid))
            .await
            .map_err(|e| worker_error(&e))?;
        Ok(Uint8Array::new(&d).to_vec())
    }
}

impl Drop for WorkerHash {
    fn drop(&mut self) {
        worker_close(self.sid);
    }
}

// The worker's side: plain numbers in and out, no imports used at run time (no JS values, no
// panics on bad input: 0 means failure).

struct Slot {
    hasher: Option<SignatureHasher>,
    buf: Vec<u8>,
    digest: Vec<u8>,
}

thread_local! {
    static SLOTS: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

fn with_slot<T>(handle: u32, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
    SLOTS.with(|slots| {
        let mut slots = slots.try_borrow_mut().ok()?;
        let slot = slots.get_mut((handle as usize).checked_sub(1)?)?.as_mut()?;
        Some(f(slot))
    })
}

/// A new SHA-384 hasher: its handle (> 0), or 0.
#[wasm_bindgen(js_name = __kmsenv_sha384_new, skip_typescript)]
pub fn sha384_new() -> u32 {
    SLOTS.with(|slots| {
        let Ok(mut slots) = slots.try_borrow_mut() else {
            return 0;
        };
        let slot = Slot {
            hasher: Some(SignatureHasher::new(SignatureAlg::EcdsaP384)),
            buf: Vec::new(),
            digest: Vec::new(),
        };
        let at = match slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                slots.push(None);
                slots.len() - 1
            }
        };
        slots[at] = Some(slot);
        u32::try_from(at + 1).unwrap_or(0)
    })
}

/// Where to write the next `len` bytes to hash (a pointer into this memory), or 0.
#[wasm_bindgen(js_name = __kmsenv_sha384_buf, skip_typescript)]
pub fn sha384_buf(handle: u32, len: u32) -> u32 {
    with_slot(handle, |s| {
        if s.buf.len() < len as usize {
            s.buf.resize(len as usize, 0);
        }
        s.buf.as_mut_ptr() as usize as u32
    })
    .unwrap_or(0)
}

/// Hash the first `len` bytes written at the buffer: 1, or 0 on a bad handle or length.
#[wasm_bindgen(js_name = __kmsenv_sha384_update, skip_typescript)]
pub fn sha384_update(handle: u32, len: u32) -> u32 {
    with_slot(handle, |s| {
        match (s.hasher.as_mut(), s.buf.get(..len as usize)) {
            (Some(h), Some(bytes)) => {
                h.update(bytes);
                1
            }
            _ => 0,
        }
    })
    .unwrap_or(0)
}

/// Finish: a pointer to the 48 digest bytes (valid until `drop`), or 0.
#[wasm_bindgen(js_name = __kmsenv_sha384_finish, skip_typescript)]
pub fn sha384_finish(handle: u32) -> u32 {
    with_slot(handle, |s| match s.hasher.take() {
        Some(h) => {
            s.digest = h.finalize();
            s.digest.as_ptr() as usize as u32
        }
        None => 0,
    })
    .unwrap_or(0)
}

/// Free a hasher.
#[wasm_bindgen(js_name = __kmsenv_sha384_drop, skip_typescript)]
pub fn sha384_drop(handle: u32) {
    SLOTS.with(|slots| {
        if let Ok(mut slots) = slots.try_borrow_mut()
            && let Some(slot) = (handle as usize)
                .checked_sub(1)
                .and_then(|i| slots.get_mut(i))
        {
            *slot = None;
        }
    });
}
