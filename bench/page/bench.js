// The in-page half of the benchmark (bench/run.mjs is the other). Everything is measured in
// this one page load: raw WebCrypto, kms-envelope (both backends, both suites, two frame
// lengths, one-shot and streaming), the official @aws-crypto/client-browser, the raw aes-gcm
// crate in wasm, a 1 GiB streamed case and KMS round trips. Timings are medians of `runs`
// runs after a warm-up; between runs the page forces a GC. Memory is the renderer's RSS, read
// by run.mjs through `benchMem` (a Playwright binding): 'reset' clears the high-water mark and
// returns the current RSS, 'peak' returns the high-water mark since.

import init, { EnvelopeClient, RawAesKeyring, KmsKeyring } from "/pkg/web/kms_envelope.js";

const MiB = 1 << 20;
const CONTEXT = { purpose: "benchmark", department: "perf" };
const WRAPPING_KEY = new Uint8Array(32).fill(0x5a);
const SUITES = {
  0x0478: "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
  0x0578: "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
};
const STREAM_CHUNK = 64 * 1024; // what File.stream() hands out in Chromium

const log = (...a) => {
  console.log("[bench]", ...a);
  const el = document.getElementById("log");
  if (el) el.textContent = a.join(" ");
};
const gc = () => globalThis.gc?.();
const tick = () => new Promise((r) => setTimeout(r, 0));
const mem = async (what) => (globalThis.benchMem ? globalThis.benchMem(what) : null);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let wasm; // kms-envelope's wasm exports (for its memory size)
let rawAes; // the raw aes-gcm crate's exports
const plaintexts = new Map(); // size → Uint8Array

/** Deterministic pseudo-random bytes (xorshift32), fast enough for 1 GiB of chunks. */
function fill(u8, seed = 0x9e3779b9) {
  const words = new Uint32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
  let x = seed | 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return u8;
}

function equal(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const n = a.byteLength >>> 2;
    const wa = new Int32Array(a.buffer, a.byteOffset, n);
    const wb = new Int32Array(b.buffer, b.byteOffset, n);
    for (let i = 0; i < n; i++) if (wa[i] !== wb[i]) return false;
    for (let i = n * 4; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p instanceof Uint8Array ? p : new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/** A stream of views of `data`, `chunk` bytes at a time (pulled on demand). */
function sourceOf(data, chunk = STREAM_CHUNK) {
  let at = 0;
  return new ReadableStream(
    {
      pull(c) {
        if (at >= data.byteLength) return c.close();
        const end = Math.min(at + chunk, data.byteLength);
        c.enqueue(data.subarray(at, end));
        at = end;
      },
    },
    { highWaterMark: 0 },
  );
}

/** A stream of `total` fresh bytes in fresh 64 KiB buffers, as a file would arrive. */
function generated(total, pattern, gcEvery = 0) {
  let at = 0;
  return new ReadableStream(
    {
      pull(c) {
        if (at >= total) return c.close();
        // The "GC forced" rows: a full collection every `gcEvery` bytes (bench-only `gc()`).
        if (gcEvery && at > 0 && at % gcEvery === 0) gc();
        const n = Math.min(STREAM_CHUNK, total - at);
        const off = at % pattern.byteLength;
        const take = Math.min(n, pattern.byteLength - off);
        const buf = new Uint8Array(n);
        buf.set(pattern.subarray(off, off + take));
        if (take < n) buf.set(pattern.subarray(0, n - take), take);
        c.enqueue(buf);
        at += n;
      },
    },
    { highWaterMark: 0 },
  );
}

/** Drain a stream: count bytes, and keep the chunks when `keep`. */
async function drain(stream, keep = false) {
  const reader = stream.getReader();
  const parts = keep ? [] : null;
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (keep) parts.push(value);
  }
  return { bytes: n, parts };
}

// ---------------------------------------------------------------------------------------------
// Contestants. Each case: { id, group, label, suite, frame, backend, api, sizes,
//   encrypt(pt, check) → output, decrypt(ct, check) → output (contiguous when `check`),
//   check(pt, out) → true when `out` (from decrypt with check) is `pt`,
//   prepare?(dir, input) untimed before each run }.

/** Raw WebCrypto AES-256-GCM as the references use it: one fixed key, an ESDK-sized AAD and
 *  the frame number as the IV. */
async function rawGcm() {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), "AES-GCM", false, ["encrypt", "decrypt"]);
  const aad = new Uint8Array(61).fill(7);
  const params = (seq) => {
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setUint32(8, seq);
    return { name: "AES-GCM", iv, additionalData: aad, tagLength: 128 };
  };
  return {
    seal: (seq, pt) => crypto.subtle.encrypt(params(seq), key, pt),
    open: (seq, ct) => crypto.subtle.decrypt(params(seq), key, ct),
  };
}

function webcryptoCeiling(window, FRAME = 64 * 1024) {
  let gcm;
  async function pipeline(count, op) {
    const out = new Array(count);
    const inflight = [];
    for (let i = 0; i < count; i++) {
      inflight.push(op(i).then((r) => (out[i] = r)));
      if (inflight.length >= window) await inflight.shift();
    }
    await Promise.all(inflight);
    return out;
  }
  return {
    async setup() {
      gcm = await rawGcm();
    },
    async encrypt(pt) {
      const n = Math.ceil(pt.byteLength / FRAME);
      return pipeline(n, (i) => gcm.seal(i + 1, pt.subarray(i * FRAME, Math.min((i + 1) * FRAME, pt.byteLength))));
    },
    async decrypt(sealed) {
      return pipeline(sealed.length, (i) => gcm.open(i + 1, sealed[i]));
    },
    check: (pt, out) => equal(pt, concat(out)),
  };
}

/** Not a contestant: raw WebCrypto behind the leanest stream found here, with the stream cases'
 *  source and sink (64 KiB views in, every chunk kept): a ReadableStream that reads its input
 *  itself (pipeThrough a TransformStream cost about twice as much per chunk), 8 calls in flight.
 *  What Web Streams alone cost on top of the ceiling: the bound for a streaming API here. */
function webcryptoStreamCase() {
  const FRAME = 64 * 1024;
  let gcm;
  let message = null;
  // Regroups the input into `size`-byte frames (the last may be short), as any framing must,
  // and emits each result (after a frame header's worth of bytes when `headers`).
  const framed = (input, size, op, headers) => {
    const reader = input.getReader();
    // WebCrypto copies its input when called, so one scratch buffer serves every frame that
    // spans two chunks.
    const scratch = new Uint8Array(size);
    let rest = new Uint8Array(0);
    let ended = false;
    let seq = 0;
    const inflight = [];
    const nextFrame = async () => {
      let n = 0;
      let frame = null;
      for (;;) {
        if (rest.byteLength) {
          const take = Math.min(size - n, rest.byteLength);
          if (n === 0 && take === size) frame = rest.subarray(0, take);
          else {
            scratch.set(rest.subarray(0, take), n);
            frame = scratch;
          }
          n += take;
          rest = rest.subarray(take);
          if (n === size) return frame;
        }
        const { done, value } = await reader.read();
        if (done) return n ? frame.subarray(0, n) : null;
        rest = value;
      }
    };
    return new ReadableStream(
      {
        async pull(c) {
          while (!ended && inflight.length < 8) {
            const frame = await nextFrame();
            if (!frame) ended = true;
            else inflight.push(op(++seq, frame));
          }
          if (!inflight.length) return c.close();
          const r = await inflight.shift();
          if (headers) c.enqueue(new Uint8Array(16));
          c.enqueue(new Uint8Array(r));
        },
      },
      { highWaterMark: 0 },
    );
  };
  const seal = (seq, pt) => gcm.seal(seq, pt);
  const open = (seq, ct) => gcm.open(seq, ct);
  return {
    async setup() {
      gcm = await rawGcm();
    },
    async encrypt(pt, check) {
      const r = await drain(framed(sourceOf(pt), FRAME, seal, true), true);
      // The message form the decrypt side reads: sealed frames back to back, no headers.
      return check ? concat(r.parts.filter((p) => p.byteLength !== 16)) : r.parts;
    },
    // Untimed: the encrypt side's chunks (an array) become one message without the headers.
    prepare(dir, input) {
      message = dir === "decrypt" && Array.isArray(input) ? concat(input.filter((p) => p.byteLength !== 16)) : input;
    },
    async decrypt(ct, check) {
      const input = message ?? ct;
      const r = await drain(framed(sourceOf(input), FRAME + 16, open, false), true);
      return check ? concat(r.parts) : r.parts;
    },
    check: (pt, out) => equal(pt, out),
  };
}

/** Not a contestant: what returning one new contiguous buffer costs here (allocate + write). */
function freshBufferCase() {
  return {
    async encrypt(pt) {
      const out = new Uint8Array(pt.byteLength);
      out.set(pt);
      return out;
    },
    async decrypt(pt) {
      const out = new Uint8Array(pt.byteLength);
      out.set(pt);
      return out;
    },
    check: (pt, out) => equal(pt, out),
    decryptInputIsPlaintext: true,
  };
}

/** Not contestants: SHA-384 of the whole input, in wasm (sha2, as the signed suite hashes) and
 *  by WebCrypto's one-shot digest (native, off the main thread; it cannot hash a stream). */
function sha384Case(where) {
  const me = {};
  return {
    prepare(dir, input) {
      if (where === "wasm") rawAesInput(me, input);
    },
    async encrypt(pt) {
      if (where === "wasm") return rawAes.sha384(pt.byteLength, 65536 + 40);
      return crypto.subtle.digest("SHA-384", pt);
    },
    check: () => true,
    encryptOnly: true,
  };
}

// The signed pipeline's hashing thread: the raw crate's wasm (sha2, SIMD) with a running
// SHA-384 (`hash_buf` / `hash_update` / `hash_finish`); each batch is transferred in and back.
const SIGNED_WORKER = `"use strict";
let ex = null;
onmessage = async (e) => {
  const m = e.data;
  if (m.op === "init") {
    ex = (await WebAssembly.instantiate(await (await fetch(m.url)).arrayBuffer(), {})).instance.exports;
    postMessage({ op: "ready" });
  } else if (m.op === "update") {
    const at = ex.hash_buf(m.len); // may grow the memory: take its buffer after
    new Uint8Array(ex.memory.buffer, at, m.len).set(m.buf.subarray(0, m.len));
    if (ex.hash_update(m.len) !== 1) throw new Error("hash_update failed");
    postMessage({ id: m.id, value: m.buf }, [m.buf.buffer]);
  } else if (m.op === "finish") {
    postMessage({ id: m.id, value: new Uint8Array(ex.memory.buffer, ex.hash_finish(), 48).slice() });
  }
};`;
let signedWorker = null; // { worker, call(msg, transfer) }, one per page

async function startSignedWorker() {
  if (signedWorker) return signedWorker;
  const worker = new Worker(URL.createObjectURL(new Blob([SIGNED_WORKER], { type: "text/javascript" })));
  const waiting = new Map();
  let next = 0;
  const ready = new Promise((resolve, reject) => {
    // A failure fails whatever waits on the worker (and the worker is not used again).
    worker.onerror = (e) => {
      const err = new Error(`signed pipeline worker: ${e.message}`);
      reject(err);
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
      signedWorker = null;
    };
    worker.onmessage = (e) => {
      if (e.data.op === "ready") return resolve();
      waiting.get(e.data.id)?.resolve(e.data.value);
      waiting.delete(e.data.id);
    };
  });
  worker.postMessage({ op: "init", url: new URL("/bench/dist/aes_raw_bench.wasm", location.href).href });
  await ready;
  const call = (msg, transfer = []) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id }, transfer);
    });
  signedWorker = { worker, call };
  return signedWorker;
}

/** Not a contestant: the leanest signed encrypt these engines allow, what a signed suite can
 *  reach here. Raw WebCrypto in 64 KiB calls, 8 in flight, every result copied into 512 KiB
 *  batches that a Web Worker SHA-384s (sha2 in wasm, 6 batches in flight), results kept; no
 *  data key, header, frame headers, P-384 key or signature. The 0x0578 cases do all of that too. */
function signedPipelineCase() {
  const FRAME = 64 * 1024;
  const BATCH = 512 * 1024;
  const WINDOW = 6;
  let gcm;
  let hasher;
  const pool = [];
  return {
    async setup() {
      gcm = await rawGcm();
      hasher = await startSignedWorker();
    },
    async encrypt(pt, check) {
      const out = [];
      const sealing = [];
      const hashing = [];
      let batch = null;
      let len = 0;
      const send = async (n) => {
        hashing.push(hasher.call({ op: "update", buf: batch, len: n }, [batch.buffer]));
        batch = null;
        if (hashing.length >= WINDOW) pool.push(await hashing.shift());
      };
      const feed = async (sealed) => {
        const bytes = new Uint8Array(sealed);
        out.push(bytes);
        for (let at = 0; at < bytes.byteLength; ) {
          if (!batch) {
            batch = pool.pop() ?? new Uint8Array(BATCH);
            len = 0;
          }
          const n = Math.min(BATCH - len, bytes.byteLength - at);
          batch.set(bytes.subarray(at, at + n), len);
          len += n;
          at += n;
          if (len === BATCH) await send(BATCH);
        }
      };
      for (let seq = 1, at = 0; at < pt.byteLength; seq++, at += FRAME) {
        const frame = pt.subarray(at, Math.min(at + FRAME, pt.byteLength));
        sealing.push(gcm.seal(seq, frame));
        if (sealing.length >= 8) await feed(await sealing.shift());
      }
      for (const p of sealing) await feed(await p);
      if (batch) await send(len);
      for (const p of hashing) pool.push(await p);
      const digest = await hasher.call({ op: "finish" });
      if (check && !equal(digest, new Uint8Array(await crypto.subtle.digest("SHA-384", concat(out))))) {
        throw new Error("signed pipeline: the worker's SHA-384 is wrong");
      }
      return out;
    },
    check: () => true,
    encryptOnly: true,
  };
}

function envelopeCase({ suite, frame, backend, api, hashWorker }) {
  const client = new EnvelopeClient({
    keyring: new RawAesKeyring({ keyNamespace: "bench", keyName: "raw-aes", wrappingKey: WRAPPING_KEY }),
    suite: SUITES[suite],
    frameLength: frame,
    backend,
    hashWorker,
  });
  if (api === "oneshot") {
    return {
      async encrypt(pt) {
        return (await client.encrypt(pt, { encryptionContext: CONTEXT })).ciphertext;
      },
      async decrypt(ct) {
        return (await client.decrypt(ct)).plaintext;
      },
      check: (pt, out) => equal(pt, out),
      client,
    };
  }
  // The sink keeps the chunks (no concat), as the WebCrypto ceiling keeps its results.
  return {
    async encrypt(pt, check) {
      const r = await drain(client.encryptStream(sourceOf(pt), { encryptionContext: CONTEXT }), true);
      return check ? concat(r.parts) : r.parts;
    },
    async decrypt(ct, check) {
      const r = await drain(client.decryptStream(sourceOf(ct)), true);
      return check ? concat(r.parts) : r.parts;
    },
    check: (pt, out) => equal(pt, out),
    client,
  };
}

function officialCase({ suite, frame }) {
  const sdk = globalThis.AwsSdk;
  const { encrypt, decrypt } = sdk.buildClient(sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  let keyring;
  const options = { encryptionContext: CONTEXT };
  if (suite) options.suiteId = suite;
  if (frame) options.frameLength = frame;
  return {
    async setup() {
      const wrappingSuite = sdk.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING;
      const masterKey = await sdk.RawAesKeyringWebCrypto.importCryptoKey(WRAPPING_KEY, wrappingSuite);
      keyring = new sdk.RawAesKeyringWebCrypto({ keyNamespace: "bench", keyName: "raw-aes", masterKey, wrappingSuite });
    },
    async encrypt(pt) {
      return (await encrypt(keyring, pt, options)).result;
    },
    async decrypt(ct) {
      return (await decrypt(keyring, ct)).plaintext;
    },
    check: (pt, out) => equal(pt, out),
  };
}

/** The raw crate's module has one buffer: `buffer(len)` replaces it, so a case takes it over
 *  again when another case (or a larger input) had it last. Returns the input's address. */
let rawAesHeld = { owner: null, ptr: 0, cap: 0 };
function rawAesInput(owner, input) {
  if (rawAesHeld.owner !== owner || rawAesHeld.cap < input.byteLength) {
    rawAesHeld = { owner, ptr: rawAes.buffer(input.byteLength), cap: input.byteLength };
  }
  new Uint8Array(rawAes.memory.buffer, rawAesHeld.ptr, input.byteLength).set(input);
  return rawAesHeld.ptr;
}

function rawAesCase(frame) {
  const me = {};
  let ptr = 0;
  const view = (len) => new Uint8Array(rawAes.memory.buffer, ptr, len);
  return {
    // Untimed: put the input in wasm memory (plaintext to seal; for open, seal it first).
    prepare(dir, input) {
      ptr = rawAesInput(me, input);
      if (dir === "decrypt" && rawAes.seal(input.byteLength, frame) === 0) throw new Error("raw seal failed");
    },
    async encrypt(pt) {
      if (rawAes.seal(pt.byteLength, frame) === 0) throw new Error("raw seal failed");
      return pt.byteLength;
    },
    async decrypt(input) {
      if (rawAes.open(input.byteLength, frame) !== 1) throw new Error("raw open failed");
      return view(input.byteLength);
    },
    check: (pt, out) => equal(pt, out),
    // decrypt takes the plaintext (prepare seals it)
    decryptInputIsPlaintext: true,
  };
}

// ---------------------------------------------------------------------------------------------

function buildCases(cfg) {
  const cases = [];
  const add = (c) => {
    if (!cfg.only || new RegExp(cfg.only).test(c.id)) cases.push(c);
  };
  for (const window of [1, 8]) {
    add({
      id: `webcrypto-w${window}`,
      group: "ceiling",
      label: `WebCrypto AES-256-GCM, 64 KiB calls, ${window === 1 ? "one at a time" : `${window} in flight`}`,
      frame: 65536,
      sizes: cfg.sizes,
      make: () => webcryptoCeiling(window),
    });
  }
  // What 4 KiB frames cost WebCrypto itself: the bound for every 4 KiB case (the SDK's default).
  add({
    id: "webcrypto-4k-w8",
    group: "floor",
    label: "(reference) raw WebCrypto AES-256-GCM, 4 KiB calls, 8 in flight",
    frame: 4096,
    sizes: [cfg.sizes[0]],
    make: () => webcryptoCeiling(8, 4096),
  });
  add({
    id: "webcrypto-stream",
    group: "floor",
    label: "(reference) raw WebCrypto, 64 KiB frames, behind a ReadableStream (same source and sink as the stream cases)",
    frame: 65536,
    sizes: cfg.sizes,
    make: webcryptoStreamCase,
  });
  add({
    id: "fresh-buffer",
    group: "floor",
    label: "(reference) copy into a new buffer of the same size",
    sizes: cfg.sizes,
    make: freshBufferCase,
  });
  for (const suite of [0x0478, 0x0578]) {
    for (const backend of ["webcrypto", "rust"]) {
      for (const frame of [65536, 4096]) {
        for (const api of ["oneshot", "stream"]) {
          // The pure-Rust backend runs at ~60 MB/s: all its cases at the small size, and the
          // default-frame one-shot cases at every size, keep the whole run bounded.
          const sizes =
            backend === "rust" && !(frame === 65536 && api === "oneshot") ? cfg.sizes.slice(0, 1) : cfg.sizes;
          const hex = suite.toString(16).padStart(4, "0");
          add({
            id: `envelope-${hex}-${backend}-${frame === 65536 ? "64k" : "4k"}-${api}`,
            group: "envelope",
            label: `kms-envelope 0x${hex} ${backend} ${frame === 65536 ? "64 KiB" : "4 KiB"} ${api === "oneshot" ? "one-shot" : "stream"}`,
            suite,
            frame,
            backend,
            api,
            sizes,
            make: () => envelopeCase({ suite, frame, backend, api }),
          });
          // The signed suite's SHA-384 runs in a Web Worker by default: the same case with it
          // in-thread (`hashWorker: "off"`, the path before the worker) for comparison.
          if (suite === 0x0578 && backend === "webcrypto" && frame === 65536) {
            add({
              id: `envelope-${hex}-${backend}-64k-${api}-hashthread`,
              group: "envelope",
              label: `kms-envelope 0x${hex} ${backend} 64 KiB ${api === "oneshot" ? "one-shot" : "stream"}, hash in thread`,
              suite,
              frame,
              backend,
              api,
              sizes,
              make: () => envelopeCase({ suite, frame, backend, api, hashWorker: "off" }),
            });
          }
        }
      }
    }
  }
  for (const [suite, frame, label] of [
    [null, null, "defaults (0x0578, 4 KiB)"],
    [0x0478, 65536, "0x0478 64 KiB"],
    [0x0578, 65536, "0x0578 64 KiB"],
  ]) {
    add({
      id: `official-${suite ? suite.toString(16).padStart(4, "0") + "-64k" : "defaults"}`,
      group: "official",
      label: `@aws-crypto/client-browser ${label}`,
      suite: suite ?? 0x0578,
      frame: frame ?? 4096,
      sizes: cfg.sizes,
      make: () => officialCase({ suite, frame }),
    });
  }
  for (const where of ["wasm", "webcrypto"]) {
    add({
      id: `sha384-${where}`,
      group: "floor",
      label: `(reference) SHA-384 of the input, ${where === "wasm" ? "sha2 crate in wasm (SIMD)" : "WebCrypto digest (one call)"}`,
      sizes: cfg.sizes,
      make: () => sha384Case(where),
    });
  }
  add({
    id: "signed-pipeline",
    group: "floor",
    label: "(reference) leanest signed encrypt: raw WebCrypto 64 KiB calls, 8 in flight, each result SHA-384'd in a Web Worker (sha2 in wasm); no keys, header or signature",
    frame: 65536,
    sizes: cfg.sizes,
    make: signedPipelineCase,
  });
  add({
    id: "rawaes-64k",
    group: "rawaes",
    label: "raw aes-gcm crate in wasm, 64 KiB frames, in place",
    suite: 0x0478,
    frame: 65536,
    sizes: cfg.sizes.slice(0, 1),
    make: () => rawAesCase(65536),
  });
  // Run each reference right after the case it is compared with, so load drift on a shared
  // machine does not land between them.
  const after = { "rawaes-64k": "envelope-0478-rust-64k-oneshot", "sha384-wasm": "envelope-0578-webcrypto-64k-stream", "sha384-webcrypto": "sha384-wasm", "signed-pipeline": "sha384-webcrypto" };
  for (const [id, anchor] of Object.entries(after)) {
    const i = cases.findIndex((c) => c.id === id);
    if (i < 0) continue;
    const [c] = cases.splice(i, 1);
    const j = cases.findIndex((x) => x.id === anchor);
    cases.splice(j < 0 ? cases.length : j + 1, 0, c);
  }
  return cases;
}

async function measure(c, cfg) {
  const impl = c.make();
  await impl.setup?.();
  const out = { id: c.id, group: c.group, label: c.label, suite: c.suite, frame: c.frame, backend: c.backend, api: c.api, results: [] };
  const warm = plaintexts.get(cfg.sizes[0] * MiB);
  // Warm-up at the smallest size, checking the round trip.
  impl.prepare?.("encrypt", warm);
  const warmCt = await impl.encrypt(warm, true);
  if (!impl.encryptOnly) {
    const warmDecIn = impl.decryptInputIsPlaintext ? warm : warmCt;
    impl.prepare?.("decrypt", warmDecIn);
    const back = await impl.decrypt(warmDecIn, true);
    if (!impl.check(warm, back)) throw new Error(`${c.id}: round trip mismatch`);
  }
  for (const sizeMiB of c.sizes) {
    const pt = plaintexts.get(sizeMiB * MiB);
    let ct = null;
    for (const dir of impl.encryptOnly ? ["encrypt"] : ["encrypt", "decrypt"]) {
      const input = dir === "encrypt" || impl.decryptInputIsPlaintext ? pt : ct;
      if (input == null) {
        out.results.push({ dir, sizeMiB, error: "no message (encrypt failed)" });
        continue;
      }
      try {
        const times = [];
        let result = null;
        let rssBase = null;
        let peak = null;
        if (cfg.profile) await mem("profile-start");
        for (let i = 0; i < cfg.runs; i++) {
          result = null;
          impl.prepare?.(dir, input);
          gc();
          await tick();
          if (i === 0) rssBase = await mem("reset");
          const t0 = performance.now();
          result = await impl[dir](input, false);
          times.push(performance.now() - t0);
        }
        peak = await mem("peak");
        if (cfg.profile) await mem("profile-stop");
        if (dir === "encrypt") {
          // Decrypt input: the last run's output (streaming cases: a one-shot message instead).
          ct = impl.decryptInputIsPlaintext ? null : c.api === "stream" ? await c.cipher(pt) : result;
        } else if (!impl.decryptInputIsPlaintext) {
          const n = Array.isArray(result) ? result.reduce((a, p) => a + p.byteLength, 0) : result.byteLength;
          if (n !== pt.byteLength) throw new Error(`${c.id}: decrypt produced ${n} bytes`);
        }
        const bytes = sizeMiB * MiB;
        out.results.push({
          dir,
          sizeMiB,
          times,
          medianMs: median(times),
          mbps: bytes / 1e6 / (median(times) / 1000),
          minMbps: bytes / 1e6 / (Math.max(...times) / 1000),
          maxMbps: bytes / 1e6 / (Math.min(...times) / 1000),
          rssGrowth: rssBase != null && peak != null ? peak - rssBase : null,
          wasmMemory: wasm.memory.buffer.byteLength,
        });
        log(`${c.id} ${dir} ${sizeMiB} MiB: ${out.results.at(-1).mbps.toFixed(0)} MB/s`);
      } catch (e) {
        // A contestant that cannot do it (e.g. the official SDK's concatBuffers(...spread)
        // overflows the stack at 256 MiB with 4 KiB frames): recorded, not fatal.
        out.results.push({ dir, sizeMiB, error: `${e.name}: ${e.message}` });
        log(`${c.id} ${dir} ${sizeMiB} MiB: FAILED ${e.name}: ${e.message}`);
        if (dir === "encrypt") ct = null;
        gc();
      }
    }
    ct = null;
  }
  return out;
}

async function oneGiB(cfg) {
  const total = cfg.bigMiB * MiB;
  const pattern = fill(new Uint8Array(4 * MiB), 12345);
  const client = new EnvelopeClient({
    keyring: new RawAesKeyring({ keyNamespace: "bench", keyName: "raw-aes", wrappingKey: WRAPPING_KEY }),
  });
  // The floor for this harness: the same source through raw WebCrypto (8 frames in flight,
  // results dropped). Its RSS growth is garbage the GC has not collected yet, not live data.
  const key = await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), "AES-GCM", false, ["encrypt"]);
  const rawPipeline = async (gcEvery = 0) => {
    const reader = generated(total, pattern, gcEvery).getReader();
    const inflight = [];
    let n = 0;
    let seq = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const iv = new Uint8Array(12);
      new DataView(iv.buffer).setUint32(8, ++seq);
      inflight.push(crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: iv }, key, value).then((r) => (n += r.byteLength)));
      if (inflight.length >= 8) await inflight.shift();
    }
    await Promise.all(inflight);
    return n;
  };
  // With a full GC forced every 8 MiB of input, ΔRSS shows what is live, not what the GC has
  // not got round to collecting yet.
  const GC_EVERY = 8 * MiB;
  const rows = [];
  for (const [id, label, run] of [
    ["stream-1g-webcrypto", `(reference) raw WebCrypto, same source, 64 KiB calls, 8 in flight: ${cfg.bigMiB} MiB encrypt → discard`, () => rawPipeline()],
    [
      "stream-1g-encrypt",
      `kms-envelope 0x0578 webcrypto 64 KiB stream: ${cfg.bigMiB} MiB encrypt → discard`,
      async () => (await drain(client.encryptStream(generated(total, pattern), { encryptionContext: CONTEXT }))).bytes,
    ],
    [
      "stream-1g-roundtrip",
      `kms-envelope 0x0578 webcrypto 64 KiB stream: ${cfg.bigMiB} MiB encrypt → decrypt → discard`,
      async () =>
        (await drain(client.decryptStream(client.encryptStream(generated(total, pattern), { encryptionContext: CONTEXT }))))
          .bytes,
    ],
    [
      "stream-1g-webcrypto-gc",
      `(reference) raw WebCrypto, same source, 64 KiB calls, 8 in flight: ${cfg.bigMiB} MiB encrypt → discard, GC forced every 8 MiB`,
      () => rawPipeline(GC_EVERY),
    ],
    [
      "stream-1g-encrypt-gc",
      `kms-envelope 0x0578 webcrypto 64 KiB stream: ${cfg.bigMiB} MiB encrypt → discard, GC forced every 8 MiB`,
      async () => (await drain(client.encryptStream(generated(total, pattern, GC_EVERY), { encryptionContext: CONTEXT }))).bytes,
    ],
    [
      "stream-1g-roundtrip-gc",
      `kms-envelope 0x0578 webcrypto 64 KiB stream: ${cfg.bigMiB} MiB encrypt → decrypt → discard, GC forced every 8 MiB`,
      async () =>
        (
          await drain(
            client.decryptStream(client.encryptStream(generated(total, pattern, GC_EVERY), { encryptionContext: CONTEXT })),
          )
        ).bytes,
    ],
  ]) {
    const times = [];
    gc();
    await tick();
    const wasmBase = wasm.memory.buffer.byteLength;
    const rssBase = await mem("reset");
    for (let i = 0; i < cfg.bigRuns; i++) {
      gc();
      await tick();
      const t0 = performance.now();
      const n = await run();
      times.push(performance.now() - t0);
      if (id.startsWith("stream-1g-roundtrip") && n !== total) throw new Error(`${id}: ${n} bytes back`);
    }
    const peak = await mem("peak");
    rows.push({
      id,
      label,
      sizeMiB: cfg.bigMiB,
      times,
      mbps: total / 1e6 / (median(times) / 1000),
      minMbps: total / 1e6 / (Math.max(...times) / 1000),
      maxMbps: total / 1e6 / (Math.min(...times) / 1000),
      rssGrowth: rssBase != null && peak != null ? peak - rssBase : null,
      wasmMemory: wasm.memory.buffer.byteLength,
      wasmGrowth: wasm.memory.buffer.byteLength - wasmBase,
    });
    log(`${id}: ${rows.at(-1).mbps.toFixed(0)} MB/s, peak RSS growth ${((peak - rssBase) / MiB).toFixed(1)} MiB`);
  }
  return rows;
}

/** KMS: per-operation latency and calls, cache off and on, against the loopback dev KMS. */
async function kms(cfg) {
  const { endpoint, keyArn, region, messages } = cfg.kms;
  const data = fill(new Uint8Array(1024), 7);
  const credentials = { accessKeyId: "AKIDBENCHMARK", secretAccessKey: "bench-secret" };
  // The bare round trip: one GenerateDataKey by fetch, no SDK (the floor any SDK pays).
  const rawRtt = [];
  for (let i = 0; i < messages; i++) {
    const t0 = performance.now();
    const r = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.GenerateDataKey" },
      body: JSON.stringify({ KeyId: keyArn, NumberOfBytes: 32, EncryptionContext: CONTEXT }),
    });
    await r.arrayBuffer();
    rawRtt.push(performance.now() - t0);
    if (!r.ok) throw new Error(`raw GenerateDataKey: HTTP ${r.status}`);
  }
  const rows = [];
  for (const suite of [0x0478, 0x0578]) {
    for (const cache of [false, true]) {
      const keyring = new KmsKeyring({ endpoint, region, generatorKeyId: keyArn, credentials });
      const options = { keyring, suite: SUITES[suite] };
      if (cache) options.cache = { maxEntries: 16, maxAgeMs: 60000, maxMessagesPerKey: 1000 };
      let client;
      try {
        client = new EnvelopeClient(options);
      } catch (e) {
        rows.push({ suite, cache, error: String(e.message || e) });
        continue;
      }
      const row = { suite, cache, messages };
      for (const dir of ["encrypt", "decrypt"]) {
        const before = client.metrics();
        const times = [];
        const cts = row.cts || [];
        for (let i = 0; i < messages; i++) {
          const t0 = performance.now();
          if (dir === "encrypt") cts.push((await client.encrypt(data, { encryptionContext: CONTEXT })).ciphertext);
          else {
            const pt = (await client.decrypt(cts[i])).plaintext;
            if (!equal(pt, data)) throw new Error("KMS round trip mismatch");
          }
          times.push(performance.now() - t0);
        }
        row.cts = cts;
        const after = client.metrics();
        row[dir] = {
          medianMs: median(times),
          minMs: Math.min(...times),
          maxMs: Math.max(...times),
          kmsCallsPerOp: (after.kmsCalls - before.kmsCalls) / messages,
          kmsMeanLatencyMs: after.kmsMeanLatencyMs,
          cacheHits: after.cacheHits - before.cacheHits,
        };
      }
      delete row.cts;
      rows.push(row);
      log(`kms 0x${suite.toString(16)} cache ${cache ? "on" : "off"}: encrypt ${row.encrypt.medianMs.toFixed(2)} ms, decrypt ${row.decrypt.medianMs.toFixed(2)} ms`);
    }
  }
  return { rawRttMedianMs: median(rawRtt), rawRttMinMs: Math.min(...rawRtt), rawRttMaxMs: Math.max(...rawRtt), rows };
}

// ---------------------------------------------------------------------------------------------

window.benchSetup = async (cfg) => {
  wasm = await init();
  const bytes = await (await fetch("/bench/dist/aes_raw_bench.wasm")).arrayBuffer();
  rawAes = (await WebAssembly.instantiate(bytes, {})).instance.exports;
  for (const s of cfg.sizes) plaintexts.set(s * MiB, fill(new Uint8Array(s * MiB), 0x1234567 + s));
  log("setup done");
  return {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    deviceMemory: navigator.deviceMemory ?? null,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    gc: typeof globalThis.gc === "function",
  };
};

/** The comparisons the targets rest on, run round-robin: each round runs every contestant once
 *  (in a rotating order), so load drift on a shared machine hits them all alike. */
async function paired(cfg) {
  const ids = [
    "webcrypto-w8",
    "webcrypto-stream",
    "envelope-0478-webcrypto-64k-stream",
    "envelope-0478-webcrypto-64k-oneshot",
    "envelope-0578-webcrypto-64k-stream",
    "envelope-0578-webcrypto-64k-stream-hashthread",
    "envelope-0578-webcrypto-64k-oneshot",
    "envelope-0578-webcrypto-4k-oneshot",
    // What bounds the signed suite: SHA-384 over the message, alone, and the leanest signed
    // encrypt pipeline with the same engines (encrypt only).
    "sha384-wasm",
    "signed-pipeline",
    "webcrypto-4k-w8",
    "official-0478-64k",
    "official-0578-64k",
    "official-defaults",
    // The pure-Rust backend against the raw crate: the smallest size only (tens of MB/s).
    "envelope-0478-rust-64k-oneshot",
    "rawaes-64k",
  ];
  const all = buildCases({ ...cfg, only: null });
  const rows = [];
  for (const sizeMiB of cfg.sizes) {
    const pt = plaintexts.get(sizeMiB * MiB);
    // The official SDK's defaults overflow the stack above 64 MiB (see the main table).
    const cs = ids
      .map((id) => all.find((c) => c.id === id))
      .filter((c) => c && c.sizes.includes(sizeMiB) && !(c.id === "official-defaults" && sizeMiB > 64))
      .filter((c) => !/rust|rawaes/.test(c.id) || sizeMiB === cfg.sizes[0]);
    const live = [];
    for (const c of cs) {
      const impl = c.make();
      await impl.setup?.();
      const shot = c.group === "envelope" && c.api === "stream" ? envelopeCase({ ...c, api: "oneshot" }) : null;
      impl.prepare?.("encrypt", pt);
      const input = impl.decryptInputIsPlaintext ? pt : shot ? await shot.encrypt(pt) : await impl.encrypt(pt, false);
      live.push({ c, impl, input, t: { encrypt: [], decrypt: [] }, cpu: { encrypt: [], decrypt: [] } });
    }
    for (let r = 0; r < cfg.pairedRuns; r++) {
      const order = live.map((_, i) => live[(i + r) % live.length]);
      for (const x of order) {
        for (const dir of x.impl.encryptOnly ? ["encrypt"] : ["encrypt", "decrypt"]) {
          const input = dir === "encrypt" ? pt : x.input;
          x.impl.prepare?.(dir, input);
          gc();
          await tick();
          // The renderer's threads' CPU time around the run (outside the timed part).
          const w0 = performance.now();
          const c0 = await mem("cpu");
          const t0 = performance.now();
          await x.impl[dir](input, false);
          x.t[dir].push(performance.now() - t0);
          const c1 = await mem("cpu");
          if (c0 && c1) x.cpu[dir].push({ wall: performance.now() - w0, main: c1.main - c0.main, worker: c1.worker - c0.worker, other: c1.other - c0.other });
        }
      }
    }
    for (const x of live) {
      const row = { id: x.c.id, label: x.c.label, suite: x.c.suite, frame: x.c.frame, group: x.c.group, sizeMiB };
      for (const dir of ["encrypt", "decrypt"]) {
        const ts = x.t[dir];
        if (!ts.length) continue;
        // CPU share of each thread group over the rounds (1 = one core all along).
        const cs = x.cpu[dir];
        const wall = cs.reduce((a, c) => a + c.wall, 0);
        const share = (k) => cs.reduce((a, c) => a + c[k], 0) / wall;
        const cpu = cs.length ? { main: share("main"), worker: share("worker"), other: share("other") } : null;
        row[dir] = { cpu, times: ts, mbps: (sizeMiB * MiB) / 1e6 / (median(ts) / 1000), minMbps: (sizeMiB * MiB) / 1e6 / (Math.max(...ts) / 1000), maxMbps: (sizeMiB * MiB) / 1e6 / (Math.min(...ts) / 1000) };
      }
      rows.push(row);
      log(`paired ${x.c.id} ${sizeMiB} MiB: ${row.encrypt.mbps.toFixed(0)} / ${row.decrypt?.mbps.toFixed(0) ?? "–"} MB/s`);
    }
    live.length = 0;
    gc();
  }
  return rows;
}

window.runBench = async (cfg) => {
  const cases = buildCases(cfg);
  const out = { cases: [], big: [], kms: null };
  for (const c of cases) {
    // Streaming decrypt needs a message: the one-shot encrypt of the same configuration.
    const shot = c.group === "envelope" ? envelopeCase({ ...c, api: "oneshot" }) : null;
    c.cipher = shot ? (pt) => shot.encrypt(pt) : null;
    log(`case ${c.id}`);
    const t0 = performance.now();
    out.cases.push(await measure(c, cfg));
    out.cases.at(-1).wallSeconds = (performance.now() - t0) / 1000;
    gc();
  }
  if (cfg.bigMiB > 0 && (!cfg.only || new RegExp(cfg.only).test("stream-1g"))) out.big = await oneGiB(cfg);
  if (cfg.paired && !cfg.profile) out.paired = await paired(cfg);
  if (cfg.kms) out.kms = await kms(cfg);
  return out;
};

window.benchReady = true;
log("ready");
