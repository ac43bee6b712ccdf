// 512 MiB through encryptStream → decryptStream in headless Chromium, never held whole:
// (1) generated in the page by a deterministic ReadableStream, (2) a 512 MiB File the page
// gets from an <input type=file> (a disk-backed Blob, as when a user picks a file).
// Asserts the checksum of what comes out against what went in, and that memory stays bounded;
// prints the renderer's peak memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../lib/server.mjs';
import { launch, openPage, rendererPids, memoryOf } from '../lib/browser.mjs';
import { fill, Digest } from '../pages/util.js';

const MiB = 1 << 20;
const SIZE = Number(process.env.PKG_TESTS_BIG_MIB || 512) * MiB;
const SEED = 0x5eed;
let server, tmp;

before(async () => {
  server = await serve();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pkg-tests-big-'));
});

after(async () => {
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const kib = (n) => `${(n / 1024).toFixed(0)} MiB`;

/** Run `body(page)` in a fresh browser; returns its result plus the renderers' memory figures. */
async function measured(body) {
  const browser = await launch();
  try {
    const page = await openPage(browser, `${server.url}/pages/index.html`);
    const pids = await rendererPids(browser);
    const before = Object.fromEntries(pids.map((p) => [p, memoryOf(p)]));
    const result = await body(page);
    const rows = pids.map((p) => {
      const now = memoryOf(p);
      return { pid: p, rssBeforeKiB: before[p].rssKiB, peakKiB: now.hwmKiB, growthKiB: now.hwmKiB - before[p].rssKiB };
    });
    assert.deepEqual(page.problems, [], 'the page reported errors');
    return { result, rows };
  } finally {
    await browser.close();
  }
}

function report(label, { result, rows }) {
  const top = rows.reduce((a, b) => (b.growthKiB > a.growthKiB ? b : a));
  console.log(`# ${label}: ${SIZE / MiB} MiB in ${result.seconds.toFixed(1)} s (${(2 * SIZE / MiB / result.seconds).toFixed(0)} MiB/s encrypt+decrypt+checksums); ` +
    `renderer peak RSS ${kib(top.peakKiB)} (+${kib(top.growthKiB)} over ${kib(top.rssBeforeKiB)} before); ` +
    `wasm memory ${(result.wasmMemoryBytes / MiB).toFixed(1)} MiB; max sampled JS heap ${(result.maxJsHeapBytes / MiB).toFixed(0)} MiB`);
  return top;
}

function checkBounded(result, top) {
  // Deterministic: wasm memory only grows, so buffering the stream in Rust would show here.
  assert.ok(result.wasmMemoryBytes <= 64 * MiB, `wasm memory grew to ${result.wasmMemoryBytes} bytes`);
  // GC-dependent but with a wide margin: holding the input (or output) whole would alone add
  // SIZE bytes; streaming measured ~230 MiB of garbage-in-flight growth here.
  assert.ok(top.growthKiB * 1024 < SIZE, `renderer grew by ${kib(top.growthKiB)} for a ${SIZE / MiB} MiB stream`);
}

test(`a ${SIZE / MiB} MiB generated stream survives encryptStream → decryptStream with bounded memory`, { timeout: 300000 }, async () => {
  const m = await measured((page) => page.evaluate(async ({ size, seed }) => {
    const { KE, U } = window;
    const B = await import('/pages/big.js');
    const keyring = new KE.RawAesKeyring({ keyNamespace: 'big', keyName: 'k', wrappingKey: U.gen(1, 32) });
    const client = new KE.EnvelopeClient({ keyring }); // defaults: 0x0578, 64 KiB frames, WebCrypto
    const digest = new U.Digest();
    return B.pipeline(KE, client, B.generator(seed, size, 1 << 20, digest), digest);
  }, { size: SIZE, seed: SEED }));
  const top = report('generated stream', m);
  assert.equal(m.result.output, m.result.input, 'plaintext checksum after the round trip');
  assert.equal(m.result.input.split(':')[1], String(SIZE));
  const frames = Math.floor(SIZE / 65536) + 1;
  assert.ok(m.result.ciphertextBytes > SIZE + frames * 32, 'ciphertext carries per-frame overhead');
  checkBounded(m.result, top);
});

test(`a ${SIZE / MiB} MiB File from an <input type=file> streams through and decrypts to the same checksum`, { timeout: 300000 }, async () => {
  // Write the file from the same generator the page uses, checksumming as we go.
  const file = path.join(tmp, 'big.bin');
  const fd = fs.openSync(file, 'w');
  const expected = new Digest();
  const chunk = new Uint8Array(16 * MiB);
  for (let at = 0; at < SIZE; at += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, SIZE - at));
    fill(piece, SEED, at);
    expected.update(piece);
    fs.writeSync(fd, piece);
  }
  fs.closeSync(fd);
  const m = await measured(async (page) => {
    await page.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'picker';
      document.body.append(input);
    });
    await page.setInputFiles('#picker', file);
    return page.evaluate(async () => {
      const { KE, U } = window;
      const B = await import('/pages/big.js');
      const picked = document.getElementById('picker').files[0];
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'big', keyName: 'k', wrappingKey: U.gen(1, 32) });
      const client = new KE.EnvelopeClient({ keyring, suite: 0x0478 });
      const r = await B.pipeline(KE, client, picked.stream(), { hex: () => 'n/a' });
      r.fileSize = picked.size;
      return r;
    });
  });
  fs.rmSync(file);
  const top = report('File (0x0478)', m);
  assert.equal(m.result.fileSize, SIZE);
  assert.equal(m.result.output, expected.hex(), 'plaintext checksum after the round trip');
  checkBounded(m.result, top);
});
