// The `web` target in headless Chromium, imported like a user would (an ES module from a page on
// http://127.0.0.1, a secure context). Every test fails if the page logged a console error.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../lib/server.mjs';
import { launch, openPage, pageTestOf } from '../lib/browser.mjs';
import { startDevKms } from '../lib/devkms.mjs';
import { PKG, need } from '../lib/paths.mjs';
import path from 'node:path';

need(path.join(PKG.web, 'kms_envelope_bg.wasm'), 'run `bash scripts/build-pkg.sh web`');

let server, browser, page, kms, keyArn;

before(async () => {
  server = await serve();
  kms = await startDevKms({ seed: ['browser-tests', 'browser-other'] });
  keyArn = await kms.keyArn('browser-tests');
  browser = await launch();
  page = await openPage(browser, `${server.url}/pages/index.html`);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await kms?.stop();
});

/** A test that also fails when the page logged a console error or threw while it ran. */
const pageTest = pageTestOf(() => page);

const SUITES = [0x0478, 0x0578];
const BACKENDS = ['webcrypto', 'rust'];

describe('round trips in the browser', () => {
  pageTest('0 B, 1 B and frame-boundary sizes round-trip with both suites and both backends', async () => {
    const results = await page.evaluate(async ({ SUITES, BACKENDS }) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const frame = 4096;
      const sizes = [0, 1, frame - 1, frame, frame + 1, 2 * frame, 3 * frame + 17, 65536 + 5];
      const out = [];
      for (const suite of SUITES) {
        for (const backend of BACKENDS) {
          const client = new KE.EnvelopeClient({ keyring, suite, frameLength: frame, backend });
          for (const size of sizes) {
            const pt = U.gen(size + 1, size);
            const ctx = { purpose: 'pkg-tests', size: String(size) };
            const { ciphertext, header } = await client.encrypt(pt, { encryptionContext: ctx });
            const d = await client.decrypt(ciphertext, { requiredEncryptionContext: ctx });
            // Frames: ceil(size/frame) full or partial frames plus a final frame; each frame adds
            // 4 (seq) + 12 (iv) + 16 (tag) bytes, the final frame 4 more (content length).
            out.push({
              suite, backend, size,
              ok: U.equalBytes(d.plaintext, pt),
              ptIsU8: d.plaintext instanceof Uint8Array,
              ctIsU8: ciphertext instanceof Uint8Array,
              suiteId: header.suiteId,
              frameLength: header.frameLength,
              ctxOk: d.encryptionContext.purpose === 'pkg-tests' && d.encryptionContext.size === String(size),
              authenticated: d.header.authenticated,
              parsedId: KE.parseHeader(ciphertext).messageId === header.messageId,
            });
          }
        }
      }
      return out;
    }, { SUITES, BACKENDS });
    assert.equal(results.length, 2 * 2 * 8);
    for (const r of results) {
      const what = `suite ${r.suite.toString(16)} backend ${r.backend} size ${r.size}`;
      assert.equal(r.ok, true, `plaintext differs: ${what}`);
      assert.equal(r.ptIsU8 && r.ctIsU8, true, what);
      assert.equal(r.suiteId, r.suite, what);
      assert.equal(r.frameLength, 4096, what);
      assert.equal(r.ctxOk, true, what);
      assert.equal(r.authenticated, true, what);
      assert.equal(r.parsedId, true, what);
    }
  });

  // One-shot results are written into one array sized up front; signed inputs of 1 MiB and
  // more hash in the worker. Exact arrays, the stream API's bytes, the same failures.
  pageTest('one-shot results are exact arrays matching the stream API (hash worker included)', async () => {
    const { out: results, workerBytes } = await page.evaluate(async ({ SUITES, BACKENDS }) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const code = (p) => p.then(() => 'resolved', (e) => e.code);
      const out = [];
      let workerBytes = 0;
      for (const suite of SUITES) {
        for (const backend of BACKENDS) {
          for (const frameLength of [1024, 65536]) {
            const client = new KE.EnvelopeClient({ keyring, suite, frameLength, backend });
            for (const size of [0, 1, 3 * frameLength, 3 * frameLength + 1, 32 * 65536, 32 * 65536 + 1]) {
              const pt = U.gen(size + 5, size);
              const { ciphertext: ct } = await client.encrypt(pt);
              const streamed = await U.readAll(client.encryptStream(U.streamOf(pt, [100000])));
              const d = (await client.decrypt(ct)).plaintext;
              const d2 = (await client.decrypt(streamed)).plaintext;
              const longer = new Uint8Array(ct.length + 1);
              longer.set(ct);
              out.push({
                what: `suite ${suite.toString(16)} ${backend} frame ${frameLength} size ${size}`,
                exact: ct.byteOffset === 0 && ct.buffer.byteLength === ct.length
                  && d.byteOffset === 0 && d.buffer.byteLength === size,
                lengthOk: suite === 0x0578 || streamed.length === ct.length,
                ok: U.equalBytes(d, pt) && U.equalBytes(d2, pt)
                  && U.equalBytes(await U.readAll(client.decryptStream(U.streamOf(ct, [70000]))), pt),
                codes: [await code(client.decrypt(ct.subarray(0, ct.length - 1))), await code(client.decrypt(longer)),
                  await code(U.readAll(client.decryptStream(U.streamOf(longer, [70000]))))],
              });
            }
            workerBytes += client.metrics().hashWorkerBytes;
          }
        }
      }
      return { out, workerBytes };
    }, { SUITES, BACKENDS });
    assert.ok(workerBytes > 0, 'the 0x0578 one-shot calls of 1 MiB and more hashed in the worker');
    assert.equal(results.length, 2 * 2 * 2 * 6);
    for (const r of results) {
      assert.deepEqual([r.exact, r.lengthOk, r.ok], [true, true, true], r.what);
      assert.deepEqual(r.codes, ['TRUNCATED', 'MALFORMED_MESSAGE', 'MALFORMED_MESSAGE'], r.what);
    }
  });

  pageTest('messages from the WebCrypto backend decrypt with the Rust backend and vice versa', async () => {
    const results = await page.evaluate(async ({ SUITES }) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const out = [];
      for (const suite of SUITES) {
        const web = new KE.EnvelopeClient({ keyring, suite, frameLength: 1000, backend: 'webcrypto' });
        const rust = new KE.EnvelopeClient({ keyring, suite, frameLength: 1000, backend: 'rust' });
        for (const size of [0, 999, 1000, 12345]) {
          const pt = U.gen(size, size);
          const a = (await web.encrypt(pt)).ciphertext;
          const b = (await rust.encrypt(pt)).ciphertext;
          out.push({
            suite, size,
            // Same layout (0x0578's DER signature varies by a byte or two, so only 0x0478).
            sameLength: suite === 0x0578 || a.length === b.length,
            webToRust: U.equalBytes((await rust.decrypt(a)).plaintext, pt),
            rustToWeb: U.equalBytes((await web.decrypt(b)).plaintext, pt),
            webStreamToRust: U.equalBytes(await U.readAll(rust.decryptStream(web.encryptStream(U.streamOf(pt, [333, 4096])))), pt),
          });
        }
      }
      return out;
    }, { SUITES });
    for (const r of results) {
      const what = `suite ${r.suite.toString(16)} size ${r.size}`;
      assert.deepEqual(
        { sameLength: r.sameLength, webToRust: r.webToRust, rustToWeb: r.rustToWeb, webStreamToRust: r.webStreamToRust },
        { sameLength: true, webToRust: true, rustToWeb: true, webStreamToRust: true }, what);
    }
  });

  pageTest('the WebCrypto backend keeps several frames (at most 128) in flight in crypto.subtle; the Rust backend never calls it', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const proto = SubtleCrypto.prototype;
      const original = { encrypt: proto.encrypt, decrypt: proto.decrypt };
      const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
      for (const op of ['encrypt', 'decrypt']) {
        proto[op] = function (...args) {
          stats.calls++; stats.inFlight++; stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
          return original[op].apply(this, args).finally(() => { stats.inFlight--; });
        };
      }
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const pt = U.gen(8, 512 * 1024);
      const out = {};
      try {
        for (const backend of ['webcrypto', 'rust', 'auto']) {
          const client = new KE.EnvelopeClient({ keyring, frameLength: 1024, backend });
          Object.assign(stats, { calls: 0, inFlight: 0, maxInFlight: 0 });
          const { ciphertext } = await client.encrypt(pt);
          const enc = { ...stats };
          Object.assign(stats, { calls: 0, inFlight: 0, maxInFlight: 0 });
          const ok = U.equalBytes((await client.decrypt(ciphertext)).plaintext, pt);
          out[backend] = { enc, dec: { ...stats }, ok };
        }
      } finally {
        Object.assign(proto, original);
      }
      return out;
    });
    // 512 frames of 1 KiB + an empty final frame; awaited in batches of 64 frames, two out.
    for (const backend of ['webcrypto', 'auto']) {
      assert.equal(r[backend].ok, true);
      assert.ok(r[backend].enc.calls >= 513, `${backend}: ${JSON.stringify(r[backend].enc)}`);
      assert.ok(r[backend].dec.calls >= 513, `${backend}: ${JSON.stringify(r[backend].dec)}`);
      for (const dir of ['enc', 'dec']) {
        const n = r[backend][dir].maxInFlight;
        assert.ok(n > 1 && n <= 128, `${backend}: ${dir} frames in flight ${n}`);
      }
    }
    assert.equal(r.rust.ok, true);
    assert.deepEqual([r.rust.enc.calls, r.rust.dec.calls], [0, 0], 'the Rust backend does not use crypto.subtle for frames');
  });

  pageTest('encryptStream/decryptStream round-trip odd chunkings and yield Uint8Array chunks', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const res = [];
      for (const backend of ['webcrypto', 'rust']) {
        const client = new KE.EnvelopeClient({ keyring, frameLength: 4096, backend });
        for (const [size, sizes] of [[0, [1]], [1, [1]], [4096 * 5, [1, 4095, 4097, 7]], [300000, [65536, 1, 100000]]]) {
          const pt = U.gen(size + 3, size);
          const ct = await U.readAll(client.encryptStream(U.streamOf(pt, sizes), { encryptionContext: { a: 'b' } }));
          const oneShot = await client.decrypt(ct, { requiredEncryptionContext: { a: 'b' } });
          const streamed = await U.readAll(client.decryptStream(U.streamOf(ct, sizes.slice().reverse()), { requiredEncryptionContext: { a: 'b' } }));
          res.push({ backend, size, oneShot: U.equalBytes(oneShot.plaintext, pt), streamed: U.equalBytes(streamed, pt) });
        }
      }
      return res;
    });
    for (const x of r) assert.deepEqual({ oneShot: x.oneShot, streamed: x.streamed }, { oneShot: true, streamed: true }, `${x.backend} ${x.size}`);
  });

  pageTest('streams read their input only when read, pass cancel and source errors through, and cancel the input on their own errors', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      // A source that counts pulls, remembers its cancel reason, and can error or yield junk.
      const source = (chunks, { failAt = -1, junkAt = -1 } = {}) => {
        const s = { pulls: 0, cancelled: undefined };
        s.stream = new ReadableStream({
          pull(c) {
            const k = s.pulls++;
            if (k === failAt) return c.error(s.failure = new Error('disk gone'));
            if (k === junkAt) return c.enqueue('not bytes');
            if (k >= chunks.length) return c.close();
            c.enqueue(chunks[k]);
          },
          cancel(reason) { s.cancelled = reason; },
        }, { highWaterMark: 0 });
        return s;
      };
      const tick = () => new Promise((res) => setTimeout(res, 20));
      const pieces = [U.gen(1, 5000), U.gen(2, 5000), U.gen(3, 5000)];
      const out = {};
      for (const backend of ['webcrypto', 'rust']) {
        const client = new KE.EnvelopeClient({ keyring, frameLength: 4096, backend });
        const row = {};
        // Nothing is read before the consumer asks.
        const idle = source(pieces);
        const idleStream = client.encryptStream(idle.stream);
        await tick();
        row.pullsBeforeRead = idle.pulls;
        // Cancel: the reason reaches the input.
        const reader = idleStream.getReader();
        await reader.read();
        const reason = new Error('user navigated away');
        await reader.cancel(reason);
        row.cancelPassedOn = idle.cancelled === reason;
        // The input errors: the same error comes out, and nothing cancels the input.
        const failing = source(pieces, { failAt: 2 });
        try { await U.readAll(client.encryptStream(failing.stream)); row.sourceError = 'resolved'; }
        catch (e) { row.sourceError = e === failing.failure ? 'same' : String(e); }
        row.failingCancelled = failing.cancelled !== undefined;
        // Our error (a chunk that is not bytes): typed, and the input is cancelled with it.
        const junk = source(pieces, { junkAt: 1 });
        try { await U.readAll(client.encryptStream(junk.stream)); row.junk = { resolved: true }; }
        catch (e) { row.junk = U.describeError(e, KE.isEnvelopeError); row.junkCancelledWithIt = junk.cancelled === e; }
        // Decrypt the same: a message cut short by its source, the source's error comes out.
        const ct = (await client.encrypt(U.gen(4, 20000))).ciphertext;
        const ctSource = source([ct.subarray(0, 9000), ct.subarray(9000)], { failAt: 1 });
        try { await U.readAll(client.decryptStream(ctSource.stream)); row.decryptSourceError = 'resolved'; }
        catch (e) { row.decryptSourceError = e === ctSource.failure ? 'same' : String(e); }
        out[backend] = row;
      }
      return out;
    });
    for (const backend of ['webcrypto', 'rust']) {
      const x = r[backend];
      assert.equal(x.pullsBeforeRead, 0, `${backend}: read ahead of the consumer`);
      assert.equal(x.cancelPassedOn, true, `${backend}: cancel reason`);
      assert.equal(x.sourceError, 'same', `${backend}: source error`);
      assert.equal(x.failingCancelled, false, `${backend}: errored source cancelled`);
      assert.equal(x.junk.code, 'INVALID_ARGUMENT', `${backend}: ${JSON.stringify(x.junk)}`);
      assert.equal(x.junk.guard, true);
      assert.equal(x.junkCancelledWithIt, true, `${backend}: input not cancelled with our error`);
      assert.equal(x.decryptSourceError, 'same', `${backend}: decrypt source error`);
    }
  });

  pageTest('encryptBlob/decryptBlob round-trip a File and produce Blobs', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const client = new KE.EnvelopeClient({ keyring, frameLength: 65536 });
      const pt = U.gen(99, 1_000_003);
      const file = new File([pt.subarray(0, 500_000), pt.subarray(500_000)], 'report.bin');
      const enc = await client.encryptBlob(file, { encryptionContext: { file: 'report.bin' } });
      const dec = await client.decryptBlob(enc, { requiredEncryptionContext: { file: 'report.bin' } });
      const back = new Uint8Array(await dec.arrayBuffer());
      return { encIsBlob: enc instanceof Blob, decIsBlob: dec instanceof Blob, ok: U.equalBytes(back, pt), encType: enc.type, encSize: enc.size };
    });
    assert.equal(r.encIsBlob, true);
    assert.equal(r.decIsBlob, true);
    assert.equal(r.ok, true);
    assert.ok(r.encSize > 1_000_003);
  });

  pageTest('onProgress reports growing byte counts up to the input length', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const client = new KE.EnvelopeClient({ keyring });
      const pt = U.gen(5, 9 << 20);
      const enc = [], dec = [], stream = [];
      const { ciphertext } = await client.encrypt(pt, { onProgress: (p) => enc.push([p.bytes, p.total]) });
      await client.decrypt(ciphertext, { onProgress: (p) => dec.push([p.bytes, p.total]) });
      await U.readAll(client.encryptStream(U.streamOf(pt, [1 << 20]), { onProgress: (p) => stream.push([p.bytes, p.total]) }));
      return { enc, dec, stream, ptLen: pt.length, ctLen: ciphertext.length };
    });
    const check = (list, total, what) => {
      assert.ok(list.length >= 2, `${what}: several progress calls`);
      for (let i = 1; i < list.length; i++) assert.ok(list[i][0] >= list[i - 1][0], `${what}: non-decreasing`);
      assert.equal(list.at(-1)[0], total, `${what}: ends at the total`);
    };
    check(r.enc, r.ptLen, 'encrypt');
    assert.equal(r.enc[0][1], r.ptLen, 'encrypt total');
    check(r.dec, r.ctLen, 'decrypt');
    check(r.stream, r.ptLen, 'encryptStream');
  });
});

describe('typed-array views', () => {
  pageTest('a subarray, a DataView and an offset Int16Array encrypt exactly their own bytes', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const out = {};
      for (const backend of ['webcrypto', 'rust']) {
        const client = new KE.EnvelopeClient({ keyring, frameLength: 128, backend });
        const big = U.gen(11, 10000);
        const view = big.subarray(1234, 1234 + 777);
        const dv = new DataView(big.buffer, 100, 300);
        const i16 = new Int16Array(big.buffer, 2000, 150);
        const pt = async (x) => (await client.decrypt((await client.encrypt(x)).ciphertext)).plaintext;
        // A ciphertext inside a larger buffer, surrounded by junk, decrypts from its view.
        const { ciphertext } = await client.encrypt(view);
        const padded = new Uint8Array(ciphertext.length + 64).fill(0xee);
        padded.set(ciphertext, 32);
        const fromView = (await client.decrypt(padded.subarray(32, 32 + ciphertext.length))).plaintext;
        const fromStreamViews = await U.readAll(client.decryptStream(U.streamOf(padded.subarray(32, 32 + ciphertext.length), [5, 50])));
        out[backend] = {
          subarray: U.equalBytes(await pt(view), big.slice(1234, 1234 + 777)),
          dataView: U.equalBytes(await pt(dv), big.slice(100, 400)),
          int16: U.equalBytes(await pt(i16), big.slice(2000, 2300)),
          arrayBuffer: U.equalBytes(await pt(big.buffer.slice(10, 20)), big.slice(10, 20)),
          ciphertextView: U.equalBytes(fromView, big.slice(1234, 1234 + 777)),
          streamViews: U.equalBytes(fromStreamViews, big.slice(1234, 1234 + 777)),
          // The input buffer is left untouched.
          inputUnchanged: U.equalBytes(big, U.gen(11, 10000)),
        };
      }
      // A wrapping key given as a view: only its own 32 bytes are the key.
      const keyBuf = U.gen(3, 100);
      const k1 = new KE.RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: keyBuf.subarray(50, 82) });
      const k2 = new KE.RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: keyBuf.slice(50, 82) });
      const ct = (await new KE.EnvelopeClient({ keyring: k1 }).encrypt(new Uint8Array([1, 2, 3]))).ciphertext;
      out.wrappingKeyView = U.equalBytes((await new KE.EnvelopeClient({ keyring: k2 }).decrypt(ct)).plaintext, new Uint8Array([1, 2, 3]));
      return out;
    });
    for (const backend of ['webcrypto', 'rust']) {
      assert.deepEqual(r[backend], {
        subarray: true, dataView: true, int16: true, arrayBuffer: true, ciphertextView: true, streamViews: true, inputUnchanged: true,
      }, backend);
    }
    assert.equal(r.wrappingKeyView, true);
  });
});

describe('failures', () => {
  pageTest('a flipped byte anywhere is AUTHENTICATION_FAILED (one-shot, stream, blob; both backends) and decrypt returns nothing', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const out = [];
      for (const suite of [0x0478, 0x0578]) {
        for (const backend of ['webcrypto', 'rust']) {
          const client = new KE.EnvelopeClient({ keyring, suite, frameLength: 512, backend });
          const pt = U.gen(1, 5000);
          const { ciphertext, header } = await client.encrypt(pt);
          // In a frame body, in the last frame, and (0x0578) in the signature.
          for (const at of [header.headerLength + 100, ciphertext.length - 150, ciphertext.length - 5]) {
            const bad = ciphertext.slice();
            bad[at] ^= 0x01;
            const oneShot = await U.rejection(client.decrypt(bad), KE.isEnvelopeError);
            const stream = await U.rejection(U.readAll(client.decryptStream(U.streamOf(bad, [700]))), KE.isEnvelopeError);
            const blob = await U.rejection(client.decryptBlob(new Blob([bad])), KE.isEnvelopeError);
            out.push({ suite, backend, at, oneShot, stream, blob });
          }
        }
      }
      return out;
    });
    for (const x of r) {
      for (const kind of ['oneShot', 'stream', 'blob']) {
        const e = x[kind];
        const what = `${kind} suite ${x.suite.toString(16)} ${x.backend} byte ${x.at}`;
        assert.notEqual(e.resolved, true, `${what}: must reject`);
        // A flip in the signature of 0x0578 may surface as MALFORMED_MESSAGE (a DER error) —
        // what matters is that it is refused with a code; in frames it must be the opaque code.
        assert.ok(['AUTHENTICATION_FAILED', 'MALFORMED_MESSAGE'].includes(e.code), `${what}: ${e.code} ${e.message}`);
        assert.deepEqual({ isError: e.isError, name: e.name, guard: e.guard, stack: e.stack },
          { isError: true, name: 'EnvelopeError', guard: true, stack: true }, what);
      }
    }
    assert.ok(r.filter((x) => x.at !== r[0].at).length > 0);
  });

  pageTest('a 0x0578 stream with a bad signature errors without releasing its final frame', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const out = {};
      for (const backend of ['webcrypto', 'rust']) {
        const client = new KE.EnvelopeClient({ keyring, suite: 0x0578, frameLength: 1000, backend });
        const pt = U.gen(4, 2500); // frames of 1000, 1000 and a final 500
        const { ciphertext } = await client.encrypt(pt);
        const bad = ciphertext.slice();
        bad[bad.length - 20] ^= 0x10; // inside the signature
        const reader = client.decryptStream(U.streamOf(bad, [bad.length])).getReader();
        let released = 0, error;
        try {
          for (;;) { const { done, value } = await reader.read(); if (done) break; released += value.length; }
        } catch (e) { error = U.describeError(e, KE.isEnvelopeError); }
        out[backend] = { released, error };
      }
      return out;
    });
    for (const backend of ['webcrypto', 'rust']) {
      const x = r[backend];
      assert.ok(x.error, `${backend}: the stream must error`);
      assert.ok(['AUTHENTICATION_FAILED', 'MALFORMED_MESSAGE'].includes(x.error.code), `${backend}: ${x.error.code}`);
      assert.ok(x.released <= 2000, `${backend}: released ${x.released} bytes; the final frame must wait for the signature`);
    }
  });

  pageTest('truncated messages are TRUNCATED and a wrong wrapping key is NO_DECRYPTABLE_KEY', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const other = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(8, 32) });
      const client = new KE.EnvelopeClient({ keyring, frameLength: 512 });
      const { ciphertext } = await client.encrypt(U.gen(1, 3000));
      return {
        truncated: await U.rejection(client.decrypt(ciphertext.subarray(0, ciphertext.length - 1)), KE.isEnvelopeError),
        truncatedStream: await U.rejection(U.readAll(client.decryptStream(U.streamOf(ciphertext.subarray(0, 1000)))), KE.isEnvelopeError),
        headerOnly: await U.rejection(client.decrypt(ciphertext.subarray(0, 20)), KE.isEnvelopeError),
        parseTruncated: (() => { try { KE.parseHeader(ciphertext.subarray(0, 20)); return { resolved: true }; } catch (e) { return U.describeError(e, KE.isEnvelopeError); } })(),
        wrongKey: await U.rejection(new KE.EnvelopeClient({ keyring: other }).decrypt(ciphertext), KE.isEnvelopeError),
        notAMessage: await U.rejection(client.decrypt(new TextEncoder().encode('hello, this is not a message at all')), KE.isEnvelopeError),
      };
    });
    assert.equal(r.truncated.code, 'TRUNCATED');
    assert.equal(r.truncatedStream.code, 'TRUNCATED');
    assert.equal(r.headerOnly.code, 'TRUNCATED');
    assert.equal(r.parseTruncated.code, 'TRUNCATED');
    assert.equal(r.wrongKey.code, 'NO_DECRYPTABLE_KEY');
    assert.equal(r.notAMessage.code, 'MALFORMED_MESSAGE');
    for (const e of Object.values(r)) assert.equal(e.guard, true);
  });

  pageTest('a required encryption context that does not match is CONTEXT_MISMATCH', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const client = new KE.EnvelopeClient({ keyring });
      const { ciphertext } = await client.encrypt(U.gen(1, 10), { encryptionContext: { tenant: 'a', doc: '1' }, requiredEncryptionContextKeys: ['doc'] });
      return {
        wrong: await U.rejection(client.decrypt(ciphertext, { requiredEncryptionContext: { tenant: 'b', doc: '1' } }), KE.isEnvelopeError),
        missingBound: await U.rejection(client.decrypt(ciphertext, { requiredEncryptionContext: { tenant: 'a' } }), KE.isEnvelopeError),
        right: (await client.decrypt(ciphertext, { requiredEncryptionContext: { tenant: 'a', doc: '1' } })).encryptionContext,
        headerCtx: KE.parseHeader(ciphertext).encryptionContext,
      };
    });
    assert.equal(r.wrong.code, 'CONTEXT_MISMATCH');
    assert.notEqual(r.missingBound.resolved, true);
    assert.equal(r.right.tenant, 'a');
    assert.equal(r.right.doc, '1');
    assert.equal(r.headerCtx.doc, undefined, 'a required-only key is not stored in the header');
  });

  pageTest('an aborted signal rejects encrypt, decrypt and streams with ABORTED', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
      const out = {};
      for (const backend of ['webcrypto', 'rust']) {
        const client = new KE.EnvelopeClient({ keyring, backend });
        const pt = U.gen(1, 20 << 20);
        const { ciphertext } = await client.encrypt(pt.subarray(0, 100000));
        const pre = new AbortController(); pre.abort();
        // Aborted mid-way: from the first progress callback.
        const mid = new AbortController();
        let progressAfterAbort = 0;
        const midResult = await U.rejection(client.encrypt(pt, {
          signal: mid.signal,
          onProgress: () => { if (mid.signal.aborted) progressAfterAbort++; mid.abort(); },
        }), KE.isEnvelopeError);
        // A stream aborted after its first chunk came out.
        const sc = new AbortController();
        const reader = client.encryptStream(U.streamOf(pt, [1 << 20]), { signal: sc.signal }).getReader();
        await reader.read();
        sc.abort();
        let streamErr;
        try { for (;;) { const { done } = await reader.read(); if (done) break; } } catch (e) { streamErr = U.describeError(e, KE.isEnvelopeError); }
        out[backend] = {
          encrypt: await U.rejection(client.encrypt(pt, { signal: pre.signal }), KE.isEnvelopeError),
          decrypt: await U.rejection(client.decrypt(ciphertext, { signal: pre.signal }), KE.isEnvelopeError),
          decryptStream: await U.rejection(U.readAll(client.decryptStream(U.streamOf(ciphertext), { signal: pre.signal })), KE.isEnvelopeError),
          mid: midResult,
          progressAfterAbort,
          stream: streamErr || { resolved: true },
        };
      }
      return out;
    });
    for (const backend of ['webcrypto', 'rust']) {
      for (const k of ['encrypt', 'decrypt', 'decryptStream', 'mid', 'stream']) {
        assert.equal(r[backend][k].code, 'ABORTED', `${backend} ${k}: ${JSON.stringify(r[backend][k])}`);
        assert.equal(r[backend][k].guard, true);
      }
      assert.ok(r[backend].progressAfterAbort <= 1, `${backend}: stops promptly after abort`);
    }
  });

  pageTest('bad options throw INVALID_ARGUMENT naming the field', async () => {
    const r = await page.evaluate(() => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: U.gen(7, 32) });
      const attempt = (f) => { try { f(); return { resolved: true }; } catch (e) { return U.describeError(e, KE.isEnvelopeError); } };
      return {
        wrappingKey: attempt(() => new KE.RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: new Uint8Array(31) })),
        keyName: attempt(() => new KE.RawAesKeyring({ keyNamespace: 'n', wrappingKey: new Uint8Array(32) })),
        keyring: attempt(() => new KE.EnvelopeClient({})),
        keyringType: attempt(() => new KE.EnvelopeClient({ keyring: { not: 'a keyring' } })),
        suite: attempt(() => new KE.EnvelopeClient({ keyring, suite: 'AES_128_NOPE' })),
        frameLength: attempt(() => new KE.EnvelopeClient({ keyring, frameLength: -5 })),
        commitmentPolicy: attempt(() => new KE.EnvelopeClient({ keyring, commitmentPolicy: 'YOLO' })),
        backend: attempt(() => new KE.EnvelopeClient({ keyring, backend: 'gpu' })),
        region: attempt(() => new KE.KmsKeyring({ endpoint: 'http://127.0.0.1:9', generatorKeyId: 'alias/x' })),
        endpoint: attempt(() => new KE.KmsKeyring({ endpoint: 'not a url', region: 'us-east-1', generatorKeyId: 'alias/x' })),
        timeoutMs: attempt(() => new KE.KmsKeyring({ region: 'us-east-1', generatorKeyId: 'alias/x', timeoutMs: 'soon' })),
        children: attempt(() => new KE.MultiKeyring({ generator: keyring, children: [keyring, 42] })),
        encryptionContext: null, // filled below (async)
      };
    });
    const asyncR = await page.evaluate(async () => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: U.gen(7, 32) });
      const client = new KE.EnvelopeClient({ keyring });
      return {
        encryptionContext: await U.rejection(client.encrypt(new Uint8Array(1), { encryptionContext: { n: 5 } }), KE.isEnvelopeError),
        data: await U.rejection(client.encrypt('a string', {}), KE.isEnvelopeError),
        onProgress: await U.rejection(client.encrypt(new Uint8Array(1), { onProgress: 'yes' }), KE.isEnvelopeError),
        requiredEncryptionContext: await U.rejection(client.decrypt(new Uint8Array(1), { requiredEncryptionContext: [1] }), KE.isEnvelopeError),
      };
    });
    Object.assign(r, asyncR);
    const fields = {
      wrappingKey: 'wrappingKey', keyName: 'keyName', keyring: 'keyring', keyringType: 'keyring', suite: 'suite',
      frameLength: 'frameLength', commitmentPolicy: 'commitmentPolicy', backend: 'backend', region: 'region',
      endpoint: 'endpoint', timeoutMs: 'timeoutMs', children: 'children[1]', encryptionContext: 'encryptionContext',
      data: 'data', onProgress: 'onProgress', requiredEncryptionContext: 'requiredEncryptionContext',
    };
    for (const [k, field] of Object.entries(fields)) {
      const e = r[k];
      assert.equal(e.code, 'INVALID_ARGUMENT', `${k}: ${JSON.stringify(e)}`);
      assert.equal(e.isError && e.name === 'EnvelopeError' && e.guard, true, k);
      assert.ok(e.message.includes(field), `${k}: message names ${field}: ${e.message}`);
    }
  });

  pageTest('isEnvelopeError rejects look-alikes and errorCodes lists every code', async () => {
    const r = await page.evaluate(() => {
      const { KE } = window;
      const fake = new Error('x'); fake.name = 'EnvelopeError';
      const plain = { name: 'EnvelopeError', code: 'ABORTED', message: 'x' };
      return {
        fake: KE.isEnvelopeError(fake), plain: KE.isEnvelopeError(plain), nul: KE.isEnvelopeError(null),
        str: KE.isEnvelopeError('EnvelopeError'), codes: KE.errorCodes(),
      };
    });
    assert.deepEqual([r.fake, r.plain, r.nul, r.str], [false, false, false, false]);
    for (const c of ['AUTHENTICATION_FAILED', 'TRUNCATED', 'INVALID_ARGUMENT', 'ABORTED', 'KMS_NETWORK', 'KMS_TIMEOUT']) {
      assert.ok(r.codes.includes(c), c);
    }
  });
});

describe('the Rust fallback when crypto.subtle is absent', () => {
  pageTest('backend auto falls back to Rust, webcrypto is refused, and the bytes interoperate', async () => {
    const p2 = await openPage(browser, `${server.url}/pages/nosubtle.html`);
    try {
      const made = await p2.evaluate(async () => {
        const { KE, U } = window;
        const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
        const auto = new KE.EnvelopeClient({ keyring, frameLength: 1024 });
        const pt = U.gen(42, 50000);
        const { ciphertext } = await auto.encrypt(pt);
        const back = await auto.decrypt(ciphertext);
        const streamed = await U.readAll(auto.decryptStream(auto.encryptStream(U.streamOf(pt, [3000]))));
        let webcrypto;
        try { await new KE.EnvelopeClient({ keyring, backend: 'webcrypto' }).encrypt(pt); webcrypto = { resolved: true }; } catch (e) { webcrypto = U.describeError(e, KE.isEnvelopeError); }
        return { removed: window.subtleRemoved, ok: U.equalBytes(back.plaintext, pt), streamed: U.equalBytes(streamed, pt), ct: U.toBase64(ciphertext), webcrypto };
      });
      assert.equal(made.removed, true, 'the page really has no crypto.subtle');
      assert.equal(made.ok, true);
      assert.equal(made.streamed, true);
      assert.equal(made.webcrypto.code, 'INVALID_ARGUMENT');
      assert.match(made.webcrypto.message, /backend/);
      // The fallback's message decrypts with WebCrypto in a normal page.
      const ok = await page.evaluate(async (ct) => {
        const { KE, U } = window;
        const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: U.gen(7, 32) });
        const d = await new KE.EnvelopeClient({ keyring, backend: 'webcrypto' }).decrypt(U.fromBase64(ct));
        return U.equalBytes(d.plaintext, U.gen(42, 50000));
      }, made.ct);
      assert.equal(ok, true);
      assert.deepEqual(p2.problems, []);
    } finally {
      await p2.close();
    }
  });
});

describe('KMS keyring from the page (dev KMS on loopback)', () => {
  pageTest('encrypt with GenerateDataKey and decrypt with Decrypt (strict and discovery), counting calls', async () => {
    const r = await page.evaluate(async ({ url, keyArn }) => {
      const { KE, U } = window;
      const out = {};
      for (const backend of ['webcrypto', 'rust']) {
        const keyring = new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', generatorKeyId: keyArn });
        const client = new KE.EnvelopeClient({ keyring, backend });
        const pt = U.gen(77, 200000);
        const { ciphertext, header } = await client.encrypt(pt, { encryptionContext: { app: 'browser' } });
        const d = await client.decrypt(ciphertext, { requiredEncryptionContext: { app: 'browser' } });
        const disco = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', discovery: true }), backend });
        const d2 = await disco.decrypt(ciphertext);
        out[backend] = {
          ok: U.equalBytes(d.plaintext, pt), discovery: U.equalBytes(d2.plaintext, pt),
          edk: header.encryptedDataKeys.map((e) => [e.providerId, e.providerInfo]), metrics: client.metrics(),
        };
      }
      return out;
    }, { url: kms.url, keyArn });
    for (const backend of ['webcrypto', 'rust']) {
      const x = r[backend];
      assert.equal(x.ok, true, backend);
      assert.equal(x.discovery, true, backend);
      assert.deepEqual(x.edk, [['aws-kms', keyArn]]);
      assert.equal(x.metrics.kmsCalls, 2, `${backend}: one GenerateDataKey and one Decrypt`);
      assert.equal(x.metrics.kmsSuccesses, 2);
      assert.equal(x.metrics.kmsFailures, 0);
    }
    const audit = (await kms.audit(100)).filter((a) => a.key_arn === keyArn);
    const ops = audit.map((a) => a.operation);
    assert.ok(ops.filter((o) => o === 'GenerateDataKey').length >= 2, JSON.stringify(ops));
    assert.ok(ops.filter((o) => o === 'Decrypt').length >= 4, JSON.stringify(ops));
    // The encryption context went to KMS with every call; no Authorization header in proxy mode.
    for (const a of audit.filter((x) => x.operation !== 'DescribeKey')) {
      assert.equal(a.encryption_context?.app, 'browser', JSON.stringify(a));
      assert.equal(a.auth, 'none');
      assert.equal(a.outcome, 'ok');
    }
  });

  pageTest('a message for one KMS key is NO_DECRYPTABLE_KEY for a strict keyring on another key', async () => {
    const otherArn = await kms.keyArn('browser-other');
    const r = await page.evaluate(async ({ url, keyArn, otherArn }) => {
      const { KE, U } = window;
      const client = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', generatorKeyId: keyArn }) });
      const other = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', generatorKeyId: otherArn }) });
      const { ciphertext } = await client.encrypt(U.gen(1, 100));
      return { e: await U.rejection(other.decrypt(ciphertext), KE.isEnvelopeError), calls: other.metrics().kmsCalls };
    }, { url: kms.url, keyArn, otherArn });
    assert.equal(r.e.code, 'NO_DECRYPTABLE_KEY');
    assert.equal(r.calls, 0, 'no KMS call for a key the keyring does not hold');
  });

  pageTest('a multi-keyring (KMS generator + raw AES child) decrypts with either keyring alone', async () => {
    const r = await page.evaluate(async ({ url, keyArn }) => {
      const { KE, U } = window;
      const kmsRing = new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', generatorKeyId: keyArn });
      const raw = new KE.RawAesKeyring({ keyNamespace: 'backup', keyName: 'offline', wrappingKey: U.gen(9, 32) });
      const multi = new KE.MultiKeyring({ generator: kmsRing, children: [raw] });
      const pt = U.gen(3, 4321);
      const { ciphertext, header } = await new KE.EnvelopeClient({ keyring: multi }).encrypt(pt);
      return {
        edks: header.encryptedDataKeys.map((e) => e.providerId),
        viaKms: U.equalBytes((await new KE.EnvelopeClient({ keyring: kmsRing }).decrypt(ciphertext)).plaintext, pt),
        viaRaw: U.equalBytes((await new KE.EnvelopeClient({ keyring: raw }).decrypt(ciphertext)).plaintext, pt),
      };
    }, { url: kms.url, keyArn });
    assert.deepEqual(r.edks, ['aws-kms', 'backup']);
    assert.equal(r.viaKms, true);
    assert.equal(r.viaRaw, true);
  });
});

describe('no key bytes reachable from JS', () => {
  pageTest('results, headers, streams, blobs, metrics, keyrings, clients and errors hold no wrapping, data or frame key', async () => {
    const r = await page.evaluate(async () => {
      const { KE, U } = window;
      const S = await import('/pages/secrets.js');
      const wrappingKey = U.gen(1234, 32);
      const out = [];
      for (const suite of [0x0478, 0x0578]) {
        for (const backend of ['webcrypto', 'rust']) {
          const keyring = new KE.RawAesKeyring({ keyNamespace: 'secrets', keyName: 'the-key', wrappingKey: wrappingKey.slice() });
          const client = new KE.EnvelopeClient({ keyring, suite, frameLength: 256, backend });
          const pt = U.gen(5, 3000);
          const ctx = { purpose: 'scan' };
          const enc = await client.encrypt(pt, { encryptionContext: ctx });
          // What an attacker holding the wrapping key can compute — and what must not leak.
          const { dataKey, frameKey } = await S.recoverKeys(enc.ciphertext, 'the-key', wrappingKey);
          const needles = { wrappingKey, dataKey, frameKey };
          const dec = await client.decrypt(enc.ciphertext, { requiredEncryptionContext: ctx });
          const streamed = [];
          const reader = client.decryptStream(U.streamOf(enc.ciphertext, [100])).getReader();
          for (;;) { const { done, value } = await reader.read(); if (done) break; streamed.push(value); }
          const blob = await client.encryptBlob(new Blob([pt]));
          const bad = enc.ciphertext.slice(); bad[bad.length - 40] ^= 1;
          const errors = {};
          for (const [name, p] of Object.entries({
            tamper: client.decrypt(bad),
            wrongKey: new KE.EnvelopeClient({ keyring: new KE.RawAesKeyring({ keyNamespace: 'secrets', keyName: 'the-key', wrappingKey: U.gen(1, 32) }) }).decrypt(enc.ciphertext),
            badContext: client.decrypt(enc.ciphertext, { requiredEncryptionContext: { purpose: 'other' } }),
          })) { try { await p; } catch (e) { errors[name] = e; } }
          try { new KE.RawAesKeyring({ keyNamespace: 'secrets', keyName: 'the-key', wrappingKey: wrappingKey.subarray(0, 31) }); } catch (e) { errors.shortKey = e; }
          try { new KE.RawAesKeyring({ keyNamespace: 'secrets', keyName: 'the-key', wrappingKey: Array.from(wrappingKey) }); } catch (e) { errors.arrayKey = e; }
          const roots = {
            keyring, client, enc, dec, streamed, blob, errors, metrics: client.metrics(),
            parsed: KE.parseHeader(enc.ciphertext), codes: KE.errorCodes(), module: { ...KE },
          };
          const findings = await S.scan(roots, { ...needles, shortKey: wrappingKey.subarray(0, 31) });
          // The scanner finds keys when they are there, in every form it claims to check.
          const control = await S.scan({ a: { b: [dataKey.slice()] }, c: U.toHex(frameKey), d: new Error(`x ${U.toBase64(wrappingKey)}`), e: Array.from(dataKey) }, needles);
          // Once the message is done, the data key and frame key are gone from wasm memory too.
          const inMemory = { dataKey: S.inMemory(window.wasmMemory, dataKey), frameKey: S.inMemory(window.wasmMemory, frameKey) };
          out.push({ suite, backend, findings, control: control.map((f) => `${f.key}:${f.form}`), errorCodes: Object.fromEntries(Object.entries(errors).map(([k, e]) => [k, e.code])), inMemory });
        }
      }
      return out;
    });
    for (const x of r) {
      const what = `suite ${x.suite.toString(16)} ${x.backend}`;
      assert.deepEqual(x.findings, [], `${what}: key bytes reachable from JS`);
      assert.deepEqual(x.errorCodes, { tamper: 'AUTHENTICATION_FAILED', wrongKey: 'NO_DECRYPTABLE_KEY', badContext: 'CONTEXT_MISMATCH', shortKey: 'INVALID_ARGUMENT', arrayKey: 'INVALID_ARGUMENT' }, what);
      for (const want of ['dataKey:bytes', 'frameKey:hex', 'wrappingKey:base64', 'dataKey:numbers']) assert.ok(x.control.includes(want), `scanner self-check ${want}: ${x.control}`);
      assert.deepEqual(x.inMemory, { dataKey: false, frameKey: false }, `${what}: key bytes left in wasm memory after the message`);
    }
  });
});
