//! The signed suites' running SHA-384 in a Web Worker, on another core than the AES-GCM of
//! WebCrypto (which Chromium runs on the calling thread). `hash_worker.js` starts one worker per
//! JS realm; the worker instantiates this same wasm and calls only the numeric
//! `__kmsenv_sha384_*` exports below. Where no worker can run (Node, bundles, CSP) or the input
//! is small, the engine hashes in-thread as before; a worker failing mid-message fails the
//! operation (`IO_ERROR`), never the verification.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::error::{message_of, to_js};
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
    fn worker_update(sid: u32, buf: &Uint8Array, len: u32) -> Promise;
    #[wasm_bindgen(js_name = hashWorkerDigest)]
    fn worker_digest(sid: u32) -> Promise;
    #[wasm_bindgen(js_name = hashWorkerClose)]
    fn worker_close(sid: u32);
}

/// Known inputs smaller than this are hashed in-thread: a worker round trip would cost more.
const MIN_SIZE: u64 = 1 << 20;
/// Bytes sent to the worker per message.
const BATCH: u32 = 512 << 10;
/// Messages in flight before the driver waits for the oldest (with the buffer being filled,
/// ~3.5 MiB per message).
const WINDOW: usize = 6;

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
            free: Vec::new(),
            full: VecDeque::new(),
            cur: None,
            fed: 0,
            sent: 0,
            inflight: VecDeque::new(),
            bytes: self.bytes.clone(),
        })
    }
}

/// One message's running hash in the worker. Bytes are *copied* into a few reused batch
/// buffers when fed (so the caller's arrays stay the caller's, and the hash covers the bytes as
/// they were at that moment); a batch's buffer is transferred to the worker and back, then
/// filled again. Reusing them matters: fresh memory costs a page fault per 4 KiB here, and one
/// transfer per batch costs far less than one per frame.
pub struct WorkerHash {
    sid: u32,
    /// Buffers back from the worker, to fill again.
    free: Vec<Uint8Array>,
    /// Full batches not sent yet: their bytes are not known to be signed yet (decrypt).
    full: VecDeque<Uint8Array>,
    /// The batch being filled, and its length.
    cur: Option<(Uint8Array, u32)>,
    fed: u64,
    sent: u64,
    /// Sent batches; each answer is the batch's buffer, back.
    inflight: VecDeque<JsFuture>,
    bytes: Rc<Cell<f64>>,
}

fn worker_error(e: &JsValue) -> JsValue {
    to_js(Error::Io(message_of(e)))
}

impl WorkerHash {
    /// Bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Copy JS bytes in (`src`, of length `n`), after everything fed before (at once: no
    /// await).
    pub fn feed(&mut self, src: &Uint8Array, n: u32) {
        let mut at = 0;
        while at < n {
            let (buf, len) = self.room();
            let take = (n - at).min(BATCH - len);
            if at == 0 && take == n {
                buf.set(src, len);
            } else {
                buf.set(&src.subarray(at, at + take), len);
            }
            self.filled(take);
            at += take;
        }
    }

    /// Copy bytes from wasm memory in, after everything fed before.
    pub fn feed_bytes(&mut self, src: &[u8]) {
        let mut rest = src;
        while !rest.is_empty() {
            let (buf, len) = self.room();
            let take = rest.len().min((BATCH - len) as usize);
            buf.subarray(len, len + take as u32)
                .copy_from(&rest[..take]);
            self.filled(take as u32);
            rest = &rest[take..];
        }
    }

    /// The batch being filled, with room in it (the previous one queued when full). A new
    /// buffer only when none came back yet: `post` waits for the oldest batch once `WINDOW`
    /// are out, so a message uses about `WINDOW` + 3 (decrypting, plus the batches whose bytes
    /// are not known to be signed yet: at most a frame's worth).
    fn room(&mut self) -> (&Uint8Array, u32) {
        if self.cur.as_ref().is_some_and(|(_, len)| *len >= BATCH)
            && let Some((buf, _)) = self.cur.take()
        {
            self.full.push_back(buf);
        }
        let free = &mut self.free;
        let (buf, len) = self.cur.get_or_insert_with(|| {
            let buf = free.pop();
            (buf.unwrap_or_else(|| Uint8Array::new_with_length(BATCH)), 0)
        });
        (buf, *len)
    }

    fn filled(&mut self, n: u32) {
        if let Some((_, len)) = self.cur.as_mut() {
            *len += n;
        }
        self.fed += u64::from(n);
    }

    /// Wait for the oldest batch sent: its buffer, hashed.
    async fn oldest(&mut self) -> Result<Uint8Array, JsValue> {
        let Some(fut) = self.inflight.pop_front() else {
            return Err(to_js(Error::invalid("no hash batch in flight")));
        };
        let buf = fut.await.map_err(|e| worker_error(&e))?;
        Ok(buf.unchecked_into())
    }

    async fn post(&mut self, buf: Uint8Array, len: u32) -> Result<(), JsValue> {
        while self.inflight.len() >= WINDOW {
            let back = self.oldest().await?;
            self.free.push(back);
        }
        self.sent += u64::from(len);
        self.bytes.set(self.bytes.get() + f64::from(len));
        self.inflight
            .push_back(JsFuture::from(worker_update(self.sid, &buf, len)));
        Ok(())
    }

    /// Send the full batches that lie within the first `upto` bytes fed (the signed ones).
    pub async fn send(&mut self, upto: u64) -> Result<(), JsValue> {
        while !self.full.is_empty() && self.sent + u64::from(BATCH) <= upto {
            if let Some(buf) = self.full.pop_front() {
                self.post(buf, BATCH).await?;
            }
        }
        Ok(())
    }

    /// The digest of the first `upto` bytes fed (bytes fed after them, a footer, are not
    /// hashed).
    pub async fn digest(&mut self, upto: u64) -> Result<Vec<u8>, JsValue> {
        if upto > self.fed || upto < self.sent {
            return Err(to_js(Error::invalid("hash length out of range")));
        }
        self.send(upto).await?;
        let rest: Vec<_> = self
            .full
            .drain(..)
            .map(|b| (b, BATCH))
            .chain(self.cur.take())
            .collect();
        for (buf, len) in rest {
            let n = u64::from(len).min(upto - self.sent);
            if n > 0 {
                self.post(buf, n as u32).await?;
            }
        }
        while !self.inflight.is_empty() {
            self.oldest().await?;
        }
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
