// Streaming a large input through encryptStream → decryptStream without ever holding it whole.
import { fill, Digest } from './util.js';

/** A deterministic ReadableStream of `size` bytes in `chunk`-byte pieces, digesting what it emits. */
export function generator(seed, size, chunk, digest) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= size) { c.close(); return; }
      const n = Math.min(chunk, size - at);
      const piece = fill(new Uint8Array(n), seed, at);
      digest.update(piece);
      at += n;
      c.enqueue(piece);
    },
  }, { highWaterMark: 1 });
}

/** A Blob of the generator's bytes, built a piece at a time (never all in JS memory). */
export async function generatedBlob(seed, size, chunk, digest) {
  const reader = generator(seed, size, chunk, digest).getReader();
  const blobs = [];
  let parts = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    if (parts.length === 16) { blobs.push(new Blob(parts)); parts = []; }
  }
  return new Blob([...blobs, ...parts]);
}

/**
 * source → encryptStream → decryptStream → digest. Returns the digests of the input and of the
 * output, the ciphertext length, the wasm memory size and the JS heap figure Chrome exposes.
 */
export async function pipeline(KE, client, source, inputDigest, { sampleEvery = 64 << 20 } = {}) {
  let ctBytes = 0;
  const countCt = new TransformStream({ transform(chunk, c) { ctBytes += chunk.length; c.enqueue(chunk); } });
  const out = client.decryptStream(client.encryptStream(source, { encryptionContext: { big: 'yes' } }).pipeThrough(countCt), { requiredEncryptionContext: { big: 'yes' } });
  const outDigest = new Digest();
  const reader = out.getReader();
  let nextSample = sampleEvery, maxHeap = 0;
  const t0 = performance.now();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    outDigest.update(value);
    if (outDigest.length >= nextSample) {
      nextSample += sampleEvery;
      if (performance.memory) maxHeap = Math.max(maxHeap, performance.memory.usedJSHeapSize);
    }
  }
  return {
    seconds: (performance.now() - t0) / 1000,
    input: inputDigest.hex(), output: outDigest.hex(), ciphertextBytes: ctBytes,
    wasmMemoryBytes: window.wasmMemory.buffer.byteLength, maxJsHeapBytes: maxHeap,
  };
}
