// The signed suites' SHA-384 in a Web Worker (`hashWorker`, src/wasm/hash.rs): used when it can
// be, correct (messages interoperate with the in-thread path both ways), and failing exactly as
// the in-thread path does. `client.metrics().hashWorkerBytes` shows which path ran.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../lib/server.mjs';
import { launch, openPage, pageTestOf } from '../lib/browser.mjs';
import { PKG, need } from '../lib/paths.mjs';
import path from 'node:path';

need(path.join(PKG.web, 'kms_envelope_bg.wasm'), 'run `bash scripts/build-pkg.sh web`');

let server, browser, page;

before(async () => {
  server = await serve();
  browser = await launch();
  page = await openPage(browser, `${server.url}/pages/index.html`);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const pageTest = pageTestOf(() => page, 180000);

const MIB = 1 << 20;

describe('SHA-384 in a Web Worker (hashWorker)', () => {
  pageTest('0x0578 one-shot and streams hash in the worker and interoperate with hashWorker "off" both ways', async () => {
    const r = await page.evaluate(async (MIB) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'hw', wrappingKey: U.gen(11, 32) });
      const out = [];
      for (const frameLength of [65536, 4096]) {
        const auto = new KE.EnvelopeClient({ keyring, frameLength });
        const off = new KE.EnvelopeClient({ keyring, frameLength, hashWorker: 'off' });
        for (const size of [3 * MIB + 5, 2 * MIB]) {
          const pt = U.gen(size, size);
          const before = auto.metrics().hashWorkerBytes;
          const a = (await auto.encrypt(pt)).ciphertext;
          const afterEncrypt = auto.metrics().hashWorkerBytes;
          const hashed = afterEncrypt - before;
          const b = (await off.encrypt(pt)).ciphertext;
          const aStream = await U.readAll(auto.encryptStream(U.streamOf(pt, [100000, 65536, 7])));
          const afterStream = auto.metrics().hashWorkerBytes;
          const row = {
            frameLength, size,
            // The worker hashed header and body: everything but the footer (2 + ~103 bytes).
            encryptHashed: hashed >= a.length - 110 && hashed < a.length,
            autoToOff: U.equalBytes((await off.decrypt(a)).plaintext, pt),
            offToAuto: U.equalBytes((await auto.decrypt(b)).plaintext, pt),
            streamAutoToOff: U.equalBytes(await U.readAll(off.decryptStream(U.streamOf(aStream, [65536 * 3 + 1]))), pt),
            streamOffToAuto: U.equalBytes(await U.readAll(auto.decryptStream(U.streamOf(b, [5000, 70000]))), pt),
            oneShotAutoToAuto: U.equalBytes((await auto.decrypt(aStream)).plaintext, pt),
            offHashedNothing: off.metrics().hashWorkerBytes === 0,
          };
          // Decrypt (one-shot and stream) hashed in the worker too: 3 decrypts by `auto`.
          row.streamHashed = afterStream - afterEncrypt >= aStream.length - 110;
          row.decryptHashed = auto.metrics().hashWorkerBytes - afterStream >= aStream.length + b.length + b.length - 3 * 110;
          out.push(row);
        }
      }
      return out;
    }, MIB);
    for (const x of r) {
      const { frameLength, size, ...checks } = x;
      for (const [k, v] of Object.entries(checks)) assert.equal(v, true, `${k}: frame ${frameLength} size ${size}`);
    }
  });

  pageTest('signed regions ending just before, at and just after a hash batch boundary (footer in the next batch) decrypt and encrypt alike', async () => {
    const r = await page.evaluate(async (MIB) => {
      const { KE, U } = window;
      const BATCH = 512 << 10; // src/wasm/hash.rs: bytes per message to the worker
      const FOOTER = 2 + 103; // signature length field and the static-length P-384 signature
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'hw', wrappingKey: U.gen(11, 32) });
      const auto = new KE.EnvelopeClient({ keyring });
      const off = new KE.EnvelopeClient({ keyring, hashWorker: 'off' });
      const out = [];
      for (const target of [BATCH - 1, 0, 1, BATCH - FOOTER + 3]) {
        // Find a plaintext size whose signed region (all but the footer) ends at `target`
        // modulo BATCH (a few steps: crossing a frame adds frame overhead).
        let size = 2 * MIB + 7, ct;
        for (let i = 0; i < 8; i++) {
          ct = (await off.encrypt(U.gen(3, size))).ciphertext;
          const delta = (target - ((ct.length - FOOTER) % BATCH) + BATCH) % BATCH;
          if (delta === 0) break;
          size += delta > BATCH / 2 ? delta - BATCH : delta;
        }
        const pt = U.gen(3, size);
        const before = auto.metrics().hashWorkerBytes;
        const mine = (await auto.encrypt(pt)).ciphertext;
        out.push({
          target,
          found: (ct.length - FOOTER) % BATCH === target,
          oneShot: U.equalBytes((await auto.decrypt(ct)).plaintext, pt),
          stream: U.equalBytes(await U.readAll(auto.decryptStream(U.streamOf(ct, [BATCH - 1, 3, BATCH + 1]))), pt),
          encrypted: U.equalBytes((await off.decrypt(mine)).plaintext, pt),
          // Everything but the footer went to the worker: 2 decrypts and 1 encrypt.
          hashed: auto.metrics().hashWorkerBytes - before === 3 * (ct.length - FOOTER),
        });
      }
      return out;
    }, MIB);
    for (const x of r) {
      const { target, ...checks } = x;
      for (const [k, v] of Object.entries(checks)) assert.equal(v, true, `${k}: signed length ≡ ${target} mod batch`);
    }
  });

  pageTest('small one-shot messages and 0x0478 hash in-thread; a bad hashWorker value is INVALID_ARGUMENT', async () => {
    const r = await page.evaluate(async (MIB) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'hw', wrappingKey: U.gen(11, 32) });
      const signed = new KE.EnvelopeClient({ keyring });
      const small = U.gen(1, MIB - 1000);
      const ct = (await signed.encrypt(small)).ciphertext;
      const ok = U.equalBytes((await signed.decrypt(ct)).plaintext, small);
      const smallBytes = signed.metrics().hashWorkerBytes;
      const unsigned = new KE.EnvelopeClient({ keyring, suite: 0x0478 });
      const big = U.gen(2, 2 * MIB);
      const ok2 = U.equalBytes((await unsigned.decrypt((await unsigned.encrypt(big)).ciphertext)).plaintext, big);
      const ok3 = U.equalBytes(await U.readAll(unsigned.decryptStream(unsigned.encryptStream(U.streamOf(big)))), big);
      let bad;
      try { new KE.EnvelopeClient({ keyring, hashWorker: 'yes' }); } catch (e) { bad = U.describeError(e, KE.isEnvelopeError); }
      return { ok, ok2, ok3, smallBytes, unsignedBytes: unsigned.metrics().hashWorkerBytes, bad };
    }, MIB);
    assert.deepEqual({ ok: r.ok, ok2: r.ok2, ok3: r.ok3 }, { ok: true, ok2: true, ok3: true });
    assert.equal(r.smallBytes, 0, 'under 1 MiB one-shot stays in-thread');
    assert.equal(r.unsignedBytes, 0, '0x0478 has nothing to hash');
    assert.equal(r.bad.code, 'INVALID_ARGUMENT');
    assert.match(r.bad.message, /hashWorker/);
  });

  pageTest('a flipped body byte or signature byte fails as in-thread, and the final frame is never released', async () => {
    const r = await page.evaluate(async (MIB) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'hw', wrappingKey: U.gen(11, 32) });
      const frameLength = 65536;
      const pt = U.gen(5, 3 * MIB + 1234); // 48 full frames and a final one of 1234 bytes
      const out = [];
      for (const backend of ['webcrypto', 'rust']) {
        const auto = new KE.EnvelopeClient({ keyring, frameLength, backend });
        const off = new KE.EnvelopeClient({ keyring, frameLength, backend, hashWorker: 'off' });
        const { ciphertext } = await off.encrypt(pt);
        for (const [what, at] of [['signature', ciphertext.length - 20], ['body', ciphertext.length - 200000]]) {
          const bad = ciphertext.slice();
          bad[at] ^= 0x10;
          const before = auto.metrics().hashWorkerBytes;
          const oneShot = await U.rejection(auto.decrypt(bad), KE.isEnvelopeError);
          const inThread = await U.rejection(off.decrypt(bad), KE.isEnvelopeError);
          const reader = auto.decryptStream(U.streamOf(bad, [300000])).getReader();
          let released = 0, error;
          try {
            for (;;) { const { done, value } = await reader.read(); if (done) break; released += value.length; }
          } catch (e) { error = U.describeError(e, KE.isEnvelopeError); }
          out.push({
            backend, what, oneShot: oneShot.code, inThread: inThread.code, stream: error && error.code,
            usedWorker: auto.metrics().hashWorkerBytes > before,
            released, finalFrameHeld: released <= pt.length - 1234,
          });
        }
      }
      return out;
    }, MIB);
    for (const x of r) {
      const what = `${x.backend} ${x.what}`;
      assert.equal(x.usedWorker, true, `${what}: the worker hashed`);
      assert.ok(['AUTHENTICATION_FAILED', 'MALFORMED_MESSAGE'].includes(x.oneShot), `${what}: ${x.oneShot}`);
      assert.equal(x.oneShot, x.inThread, `${what}: same code as in-thread`);
      assert.equal(x.stream, x.inThread, `${what}: stream, same code as in-thread`);
      assert.equal(x.finalFrameHeld, true, `${what}: released ${x.released} bytes`);
    }
  });
});
