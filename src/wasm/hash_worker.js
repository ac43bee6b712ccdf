// The signed suites' running SHA-384 on a second core (src/wasm/hash.rs drives it).
//
// One Web Worker per JS realm, started lazily from the inline source below through a Blob URL
// (no extra file for bundlers to find). The worker instantiates this package's own wasm with
// stub imports (every import throws) and calls only the numeric `__kmsenv_sha384_*` exports,
// which need no import at run time. Why fetch the wasm rather than post the page's compiled
// `WebAssembly.Module`: `wasm_bindgen::module()` makes the `bundler` target (wasm-pack's
// default) fail to build. So the worker fetches `kms_envelope_bg.wasm` next to the glue; where
// that cannot work (a bundle, no `Worker`, CSP, a failed self-test) the caller hashes in-thread.

const WORKER_SOURCE = `"use strict";
let ex = null;
let broken = null;
const handles = new Map();
function stubs(module) {
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") throw new Error("unexpected " + imp.kind + " import " + imp.name);
    (imports[imp.module] ||= {})[imp.name] = () => {
      throw new Error("kms-envelope hash worker: import " + imp.name + " called");
    };
  }
  return imports;
}
function update(h, bytes) {
  // Through a buffer in this instance's memory, 1 MiB at a time (bounded memory growth).
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, 1 << 20);
    const ptr = ex.__kmsenv_sha384_buf(h, n);
    if (ptr === 0) throw new Error("no hash buffer");
    new Uint8Array(ex.memory.buffer, ptr, n).set(bytes.subarray(at, at + n));
    if (ex.__kmsenv_sha384_update(h, n) !== 1) throw new Error("hash update failed");
    at += n;
  }
}
function finish(h) {
  const ptr = ex.__kmsenv_sha384_finish(h);
  if (ptr === 0) throw new Error("hash finish failed");
  const digest = new Uint8Array(ex.memory.buffer, ptr, 48).slice();
  ex.__kmsenv_sha384_drop(h);
  return digest;
}
const ABC = "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7";
async function init(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error("fetching the wasm: HTTP " + response.status);
  const module = await WebAssembly.compile(await response.arrayBuffer());
  ex = new WebAssembly.Instance(module, stubs(module)).exports;
  for (const f of ["new", "buf", "update", "finish", "drop"]) {
    if (typeof ex["__kmsenv_sha384_" + f] !== "function") throw new Error("not this package's wasm");
  }
  // Self-test (FIPS 180-2 "abc"): never sign or verify with a hash that is not SHA-384.
  const h = ex.__kmsenv_sha384_new();
  update(h, new Uint8Array([0x61, 0x62, 0x63]));
  const hex = Array.from(finish(h), (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== ABC) throw new Error("SHA-384 self-test failed");
}
onmessage = async (event) => {
  const m = event.data;
  if (m.op === "init") {
    try {
      await init(m.url);
      postMessage({ op: "ready" });
    } catch (e) {
      broken = String(e && e.message || e);
      postMessage({ op: "failed", message: broken });
    }
    return;
  }
  try {
    if (broken !== null) throw new Error(broken);
    if (m.op === "open") {
      const h = ex.__kmsenv_sha384_new();
      if (h === 0) throw new Error("no hash handle");
      handles.set(m.sid, h);
    } else if (m.op === "update") {
      const h = handles.get(m.sid);
      if (h === undefined) throw new Error("unknown hash session");
      update(h, m.buf.subarray(0, m.len));
      postMessage({ op: "done", rid: m.rid, value: m.buf }, [m.buf.buffer]);
    } else if (m.op === "digest") {
      const h = handles.get(m.sid);
      if (h === undefined) throw new Error("unknown hash session");
      handles.delete(m.sid);
      const digest = finish(h);
      postMessage({ op: "done", rid: m.rid, value: digest }, [digest.buffer]);
    } else if (m.op === "close") {
      const h = handles.get(m.sid);
      if (h !== undefined) {
        handles.delete(m.sid);
        ex.__kmsenv_sha384_drop(h);
      }
    }
  } catch (e) {
    // After any failure this instance is not trusted again: every later request fails.
    broken = String(e && e.message || e);
    postMessage({ op: "error", rid: m.rid, message: broken });
  }
};
`;

/** How long a starting worker may take before the caller hashes in-thread instead. */
const READY_TIMEOUT_MS = 10000;

let shared = null;

function wasmUrl() {
  // This file is `snippets/<crate>/src/wasm/hash_worker.js` inside the package; bundlers move
  // it (and rename the wasm), so anything else means "no worker".
  const here = new URL(import.meta.url);
  if (!/^https?:$/.test(here.protocol)) return null;
  if (!/\/snippets\/[^/]+\/src\/wasm\/hash_worker\.js$/.test(here.pathname)) return null;
  return new URL("../../../../kms_envelope_bg.wasm", here).href;
}

function fail(s, message) {
  s.dead = true;
  const err = new Error("hash worker: " + message);
  err.name = "HashWorkerError";
  for (const p of s.pending.values()) p.reject(err);
  s.pending.clear();
  if (s.worker) s.worker.terminate();
}

function start() {
  const s = { worker: null, dead: false, pending: new Map(), rid: 0, sid: 0, ready: null };
  s.ready = new Promise((resolve) => {
    const url = typeof Worker === "function" && typeof Blob === "function" ? wasmUrl() : null;
    if (url === null) {
      s.dead = true;
      resolve(false);
      return;
    }
    let blobUrl;
    try {
      blobUrl = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
      s.worker = new Worker(blobUrl);
    } catch {
      // CSP without blob: workers, or no Worker constructor that works here.
      s.dead = true;
      resolve(false);
      return;
    } finally {
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    }
    const timer = setTimeout(() => {
      fail(s, "did not start");
      resolve(false);
    }, READY_TIMEOUT_MS);
    s.worker.onmessage = (event) => {
      const m = event.data;
      if (m.op === "ready" || m.op === "failed") {
        clearTimeout(timer);
        if (m.op === "failed") fail(s, m.message);
        resolve(m.op === "ready");
        return;
      }
      const p = s.pending.get(m.rid);
      if (m.op === "error") {
        fail(s, m.message);
      } else if (p) {
        s.pending.delete(m.rid);
        p.resolve(m.value);
      }
    };
    s.worker.onerror = (event) => {
      event.preventDefault();
      clearTimeout(timer);
      fail(s, (event && event.message) || "the worker failed");
      resolve(false);
    };
    s.worker.onmessageerror = () => fail(s, "a message could not be read");
    s.worker.postMessage({ op: "init", url });
  });
  return s;
}

/** Start the worker if needed; resolves whether it can hash. */
export function hashWorkerWarm() {
  if (shared === null) shared = start();
  return shared.ready.then((ok) => ok && !shared.dead);
}

/** A new hashing session (a positive id), or 0 when the worker is not ready. */
export function hashWorkerOpen() {
  if (shared === null || shared.dead || shared.worker === null) return 0;
  const sid = ++shared.sid;
  shared.worker.postMessage({ op: "open", sid });
  return sid;
}

function request(message, transfer) {
  const s = shared;
  return new Promise((resolve, reject) => {
    if (s === null || s.dead) {
      const err = new Error("hash worker: not running");
      err.name = "HashWorkerError";
      reject(err);
      return;
    }
    const rid = ++s.rid;
    s.pending.set(rid, { resolve, reject });
    s.worker.postMessage({ ...message, rid }, transfer);
  });
}

/** Hash the first `len` bytes of `buf` (a Uint8Array over a whole ArrayBuffer) in session
 *  `sid`. The buffer is transferred to the worker and back: resolves with it, to fill again. */
export function hashWorkerUpdate(sid, buf, len) {
  return request({ op: "update", sid, buf, len }, [buf.buffer]);
}

/** The SHA-384 digest of session `sid` (which then ends). */
export function hashWorkerDigest(sid) {
  return request({ op: "digest", sid }, []);
}

/** End session `sid` (after an error, or when it was not used). */
export function hashWorkerClose(sid) {
  if (shared !== null && !shared.dead && shared.worker !== null) {
    shared.worker.postMessage({ op: "close", sid });
  }
}
