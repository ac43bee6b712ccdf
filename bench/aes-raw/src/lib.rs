//! AES-256-GCM over a buffer in wasm memory, frame by frame, in place: the speed of the
//! `aes-gcm` crate itself with no copies in or out, no framing and no bindings.
//!
//! JS: `p = buffer(len)` → write plaintext at `p` → `seal(len, frame)` → ciphertext in place,
//! tags kept aside → `open(len, frame)` → 1 when every tag verified (plaintext in place).
//! `sha384(len, chunk)` hashes the buffer in `chunk`-byte updates (the signed suite's running
//! hash), returning the digest's first byte.
//!
//! A running SHA-384 for a Web Worker (the bench's leanest signed pipeline): `hash_buf(len)`
//! → write `len` bytes there → `hash_update(len)`, repeated → `hash_finish()`, the address of
//! the 48-byte digest (the next `hash_update` starts a new hash).

use std::sync::Mutex;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Tag};
use sha2::{Digest, Sha384};

struct State {
    data: Vec<u8>,
    tags: Vec<Tag>,
    key: Aes256Gcm,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// An ESDK-shaped AAD (message id ‖ content string ‖ seq ‖ length) and IV for frame `seq`.
fn frame_params(seq: u32, len: usize) -> ([u8; 12], [u8; 61]) {
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&seq.to_be_bytes());
    let mut aad = [7u8; 61];
    aad[32..49].copy_from_slice(b"AWSKMSEncryptionC");
    aad[49..53].copy_from_slice(&seq.to_be_bytes());
    aad[53..61].copy_from_slice(&(len as u64).to_be_bytes());
    (iv, aad)
}

/// A zeroed buffer of `len` bytes under a fixed key; returns its address in wasm memory.
#[unsafe(no_mangle)]
pub extern "C" fn buffer(len: usize) -> *mut u8 {
    let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let key = Aes256Gcm::new(&Array::from([0x42u8; 32]));
    let state = s.insert(State {
        data: vec![0; len],
        tags: Vec::new(),
        key,
    });
    state.data.as_mut_ptr()
}

/// Encrypt the first `len` bytes in place in frames of `frame` bytes; returns the frame count.
#[unsafe(no_mangle)]
pub extern "C" fn seal(len: usize, frame: usize) -> u32 {
    let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(s) = guard.as_mut() else { return 0 };
    s.tags.clear();
    for (i, chunk) in s.data[..len].chunks_mut(frame.max(1)).enumerate() {
        let (iv, aad) = frame_params(i as u32 + 1, chunk.len());
        match s
            .key
            .encrypt_inout_detached(&Array::from(iv), &aad, chunk.into())
        {
            Ok(tag) => s.tags.push(tag),
            Err(_) => return 0,
        }
    }
    s.tags.len() as u32
}

/// Decrypt in place what `seal` produced; 1 when every tag verified, else 0.
#[unsafe(no_mangle)]
pub extern "C" fn open(len: usize, frame: usize) -> u32 {
    let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(s) = guard.as_mut() else { return 0 };
    let State { data, tags, key } = s;
    for (i, chunk) in data[..len].chunks_mut(frame.max(1)).enumerate() {
        let (iv, aad) = frame_params(i as u32 + 1, chunk.len());
        let Some(tag) = tags.get(i) else { return 0 };
        if key
            .decrypt_inout_detached(&Array::from(iv), &aad, chunk.into(), tag)
            .is_err()
        {
            return 0;
        }
    }
    1
}

/// SHA-384 over the first `len` bytes, fed `chunk` bytes at a time.
#[unsafe(no_mangle)]
pub extern "C" fn sha384(len: usize, chunk: usize) -> u32 {
    let guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(s) = guard.as_ref() else { return 0 };
    let mut h = Sha384::new();
    for c in s.data[..len].chunks(chunk.max(1)) {
        h.update(c);
    }
    u32::from(h.finalize()[0])
}

struct Running {
    hasher: Sha384,
    buf: Vec<u8>,
    digest: [u8; 48],
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

fn running<T>(f: impl FnOnce(&mut Running) -> T) -> T {
    let mut guard = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(|| Running {
        hasher: Sha384::new(),
        buf: Vec::new(),
        digest: [0; 48],
    }))
}

/// Where to write the next `len` bytes to hash.
#[unsafe(no_mangle)]
pub extern "C" fn hash_buf(len: usize) -> *mut u8 {
    running(|r| {
        if r.buf.len() < len {
            r.buf.resize(len, 0);
        }
        r.buf.as_mut_ptr()
    })
}

/// Hash the first `len` bytes written at `hash_buf`; 1, or 0 when `len` is too long.
#[unsafe(no_mangle)]
pub extern "C" fn hash_update(len: usize) -> u32 {
    running(|r| match r.buf.get(..len) {
        Some(bytes) => {
            r.hasher.update(bytes);
            1
        }
        None => 0,
    })
}

/// Finish the running hash: the address of its 48-byte digest.
#[unsafe(no_mangle)]
pub extern "C" fn hash_finish() -> *const u8 {
    running(|r| {
        r.digest = std::mem::take(&mut r.hasher).finalize().into();
        r.digest.as_ptr()
    })
}
