// Pure helpers shared by the pages, the worker and the Node tests (no DOM, no Node APIs).

/** `n` deterministic pseudo-random bytes for `seed` (xorshift32), starting at byte `offset`
 * of the sequence (offset must be a multiple of 4). */
export function gen(seed, n, offset = 0) {
  const out = new Uint8Array(n);
  fill(out, seed, offset);
  return out;
}

/** Fill `buf` with the sequence of `seed` from byte `offset` (a multiple of 4). */
export function fill(buf, seed, offset = 0) {
  const words = Math.ceil(buf.length / 4);
  const w = new Uint32Array(words);
  // Word i of the sequence is a hash of (seed, i): position-independent, so any window can be made.
  const base = offset / 4;
  for (let i = 0; i < words; i++) {
    let x = (Math.imul(base + i, 0x9e3779b1) ^ seed) >>> 0;
    x ^= x >>> 16; x = Math.imul(x, 0x85ebca6b); x ^= x >>> 13; x = Math.imul(x, 0xc2b2ae35); x ^= x >>> 16;
    w[i] = x;
  }
  buf.set(new Uint8Array(w.buffer, 0, buf.length));
  return buf;
}

/** A running 64-bit checksum of a byte stream, independent of how it is chunked: two
 * FNV-1a-style 32-bit lanes (different offsets and multipliers) plus the length. */
export class Digest {
  constructor() { this.a = 0x811c9dc5; this.b = 0x050c5d1f; this.length = 0; }
  update(bytes) {
    let a = this.a, b = this.b;
    for (let i = 0; i < bytes.length; i++) {
      const x = bytes[i];
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul(b ^ x, 0x2c1b3c6d);
    }
    this.a = a; this.b = b; this.length += bytes.length;
    return this;
  }
  hex() {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0') + ':' + this.length;
  }
}

export function equalBytes(x, y) {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** A ReadableStream over `bytes` cut into pieces of the given sizes (cycled), each piece a
 * subarray view (non-zero byteOffset) of one shared buffer. */
export function streamOf(bytes, sizes = [65536]) {
  let at = 0, k = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) { c.close(); return; }
      const n = Math.max(1, sizes[k++ % sizes.length]);
      c.enqueue(bytes.subarray(at, Math.min(at + n, bytes.length)));
      at += n;
    },
  });
}

export async function readAll(readable) {
  const reader = readable.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) throw new Error(`stream chunk is not a Uint8Array: ${Object.prototype.toString.call(value)}`);
    chunks.push(value);
  }
  return concat(chunks);
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** { name, code, message, isError } of a thrown value (for assertions across page boundaries). */
export function describeError(e, isEnvelopeError) {
  return {
    isError: e instanceof Error,
    name: e && e.name,
    code: e && e.code,
    message: e && e.message,
    guard: isEnvelopeError ? isEnvelopeError(e) : undefined,
    stack: e && typeof e.stack === 'string',
  };
}

/** Await `promise` and return describeError of its rejection, or { resolved: true }. */
export async function rejection(promise, isEnvelopeError) {
  try {
    await promise;
    return { resolved: true };
  } catch (e) {
    return describeError(e, isEnvelopeError);
  }
}
