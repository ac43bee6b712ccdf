// The `nodejs` target in Node 20 (global fetch, crypto, Web Streams, Blob), required like a user
// would: `require('kms-envelope')` from the built package. Plus the shape of all three targets.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { PKG, ROOT, need } from '../lib/paths.mjs';
import { spawnSync } from 'node:child_process';
import { startDevKms } from '../lib/devkms.mjs';
import { hangingServer, closedPortUrl } from '../lib/hang.mjs';
import { gen, equalBytes, streamOf, readAll, Digest } from '../pages/util.js';

need(path.join(PKG.nodejs, 'kms_envelope_bg.wasm'), 'run `bash scripts/build-pkg.sh nodejs`');
const require = createRequire(import.meta.url);
const KE = require(PKG.nodejs);

const rawKeyring = (seed = 7, name = 'k1') =>
  new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: name, wrappingKey: gen(seed, 32) });

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({ message: 'expected a rejection' });
}

function throwsSync(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({ message: 'expected a throw' });
}

function assertEnvelopeError(e, code, what = '') {
  assert.ok(e instanceof Error, `${what}: an Error`);
  assert.equal(e.name, 'EnvelopeError', what);
  assert.equal(e.code, code, `${what}: ${e.code} ${e.message}`);
  assert.equal(KE.isEnvelopeError(e), true, what);
  assert.equal(typeof e.stack, 'string', what);
}

describe('the three package targets', () => {
  for (const [target, dir] of Object.entries(PKG)) {
    test(`pkg/${target} is an npm package named kms-envelope with wasm, glue and types`, () => {
      const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      assert.equal(pj.name, 'kms-envelope');
      assert.ok(pj.types && fs.existsSync(path.join(dir, pj.types)), 'types file');
      assert.ok(fs.existsSync(path.join(dir, pj.main || pj.module)), 'entry point');
      for (const f of pj.files) assert.ok(fs.existsSync(path.join(dir, f)), `listed file ${f} exists`);
      assert.ok(pj.files.some((f) => f.endsWith('.wasm')), 'the wasm is published');
      const dts = fs.readFileSync(path.join(dir, pj.types), 'utf8');
      for (const s of ['export type EnvelopeErrorCode', 'export function isEnvelopeError(e: unknown): e is EnvelopeError',
        'export class EnvelopeClient', 'export class RawAesKeyring', 'export class KmsKeyring', 'export class MultiKeyring',
        'export function parseHeader', 'encryptStream', 'decryptBlob']) {
        assert.ok(dts.includes(s), `d.ts has ${s}`);
      }
    });
  }

  // wasm-pack runs `cargo build --lib --message-format=json` at the root and takes the LAST
  // compiler artifact as the module; any other default-member library can come last (the order
  // is not fixed) and the build fails with "Expected exactly one .wasm file ... found []".
  test('a plain `wasm-pack build` at the root selects only the kms-envelope library', () => {
    const r = spawnSync('cargo', ['metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const meta = JSON.parse(r.stdout);
    const defaults = new Set(meta.workspace_default_members);
    const libs = meta.packages
      .filter((p) => defaults.has(p.id) && p.targets.some((t) => t.kind.some((k) => ['lib', 'rlib', 'cdylib'].includes(k))))
      .map((p) => p.name);
    assert.deepEqual(libs, ['kms-envelope']);
  });

  test('errorCodes() is exactly the EnvelopeErrorCode union of the .d.ts', () => {
    const dts = fs.readFileSync(path.join(PKG.nodejs, 'kms_envelope.d.ts'), 'utf8');
    const union = /export type EnvelopeErrorCode =([^;]+);/.exec(dts)[1];
    const declared = [...union.matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]).sort();
    assert.ok(declared.length > 10);
    assert.deepEqual([...KE.errorCodes()].sort(), declared);
  });
});

describe('round trips in Node', () => {
  test('0 B, 1 B and frame-boundary sizes round-trip with both suites and both backends', async () => {
    const keyring = rawKeyring();
    for (const suite of [0x0478, 0x0578, 'AES_256_GCM_HKDF_SHA512_COMMIT_KEY']) {
      for (const backend of ['webcrypto', 'rust', 'auto']) {
        const client = new KE.EnvelopeClient({ keyring, suite, frameLength: 1024, backend });
        for (const size of [0, 1, 1023, 1024, 1025, 2048, 5000]) {
          const pt = gen(size, size);
          const { ciphertext, header } = await client.encrypt(pt, { encryptionContext: { n: String(size) } });
          const d = await client.decrypt(ciphertext, { requiredEncryptionContext: { n: String(size) } });
          const what = `suite ${suite} ${backend} ${size}`;
          assert.ok(equalBytes(d.plaintext, pt), what);
          assert.equal(header.frameLength, 1024, what);
          assert.equal(header.suiteId, suite === 0x0578 ? 0x0578 : 0x0478, what);
          assert.equal(d.encryptionContext.n, String(size), what);
        }
      }
    }
  });

  // The one-shot calls write into one result array sized up front (or fall back to pieces):
  // check it is exact (users read `.buffer`), equals the stream API, and fails as it does.
  test('one-shot results are exact arrays matching the stream API; truncated/extended input fails alike', async () => {
    const keyring = rawKeyring();
    const code = async (p) => (await rejection(p)).code;
    for (const suite of [0x0478, 0x0578]) {
      for (const backend of ['webcrypto', 'rust']) {
        for (const frameLength of [1024, 4096, 65536]) {
          const client = new KE.EnvelopeClient({ keyring, suite, frameLength, backend });
          for (const size of [0, 1, frameLength, 3 * frameLength, 3 * frameLength + 1]) {
            const what = `suite ${suite.toString(16)} ${backend} frame ${frameLength} size ${size}`;
            const pt = gen(size + 3, size);
            const { ciphertext } = await client.encrypt(pt);
            assert.equal(ciphertext.byteOffset, 0, what);
            assert.equal(ciphertext.buffer.byteLength, ciphertext.length, what);
            const streamed = await readAll(client.encryptStream(streamOf(pt, [1000])));
            if (suite === 0x0478) {
              // Unsigned: the length is a function of the sizes alone.
              assert.equal(streamed.length, ciphertext.length, what);
            } else {
              assert.ok(Math.abs(streamed.length - ciphertext.length) <= 100, what);
            }
            for (const ct of [ciphertext, streamed]) {
              const { plaintext } = await client.decrypt(ct);
              assert.ok(equalBytes(plaintext, pt), what);
              assert.equal(plaintext.byteOffset, 0, what);
              assert.equal(plaintext.buffer.byteLength, size, what);
              assert.ok(equalBytes(await readAll(client.decryptStream(streamOf(ct, [777]))), pt), what);
            }
            const longer = new Uint8Array(ciphertext.length + 1);
            longer.set(ciphertext);
            for (const [bad, want] of [[ciphertext.subarray(0, ciphertext.length - 1), 'TRUNCATED'], [longer, 'MALFORMED_MESSAGE']]) {
              assert.equal(await code(client.decrypt(bad)), want, what);
              assert.equal(await code(readAll(client.decryptStream(streamOf(bad, [777])))), want, what);
            }
          }
        }
      }
    }
  });

  // A signed one-shot decrypt sizes its result for the 103-byte signature the ESDKs write; the
  // frozen messages (tests/frozen) carry 102-, 103- and 104-byte signatures: every one must
  // still come back exact.
  test('signed one-shot decrypt is exact whatever the signature length (frozen 0x0578 messages)', async () => {
    const dir = path.join(ROOT, 'tests', 'frozen');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
    const key = manifest.keys['key-a'];
    const keyring = new KE.RawAesKeyring({ keyNamespace: key.namespace, keyName: key.name, wrappingKey: hex(key.key) });
    const lengths = new Set();
    for (const m of manifest.messages.filter((x) => x.file.startsWith('0578'))) {
      const ct = new Uint8Array(fs.readFileSync(path.join(dir, m.file)));
      lengths.add((ct[ct.length - 105 + 0] << 8 | ct[ct.length - 105 + 1]) === 103 ? 103 : 'other');
      const client = new KE.EnvelopeClient({ keyring, frameLength: m.frame_length });
      const options = { requiredEncryptionContext: m.reproduced_context };
      const { plaintext } = await client.decrypt(ct, options);
      assert.ok(equalBytes(plaintext, hex(m.plaintext)), m.file);
      assert.equal(plaintext.byteOffset, 0, m.file);
      assert.equal(plaintext.buffer.byteLength, m.plaintext.length / 2, m.file);
      assert.ok(equalBytes(await readAll(client.decryptStream(streamOf(ct, [7]), options)), hex(m.plaintext)), m.file);
    }
    // Both the sized-right and the sized-wrong paths ran.
    assert.deepEqual([...lengths].sort(), [103, 'other'].sort());
  });

  test('Buffer inputs from the shared pool (non-zero byteOffset) encrypt only their own bytes', async () => {
    const client = new KE.EnvelopeClient({ keyring: rawKeyring(), frameLength: 64 });
    const pooled = Buffer.from('only these bytes');
    assert.notEqual(pooled.byteOffset, 0, 'Node pools small Buffers, so this one is a view');
    const d = await client.decrypt((await client.encrypt(pooled)).ciphertext);
    assert.equal(Buffer.from(d.plaintext).toString(), 'only these bytes');
    // A ciphertext handed over as a pooled-Buffer-like view inside a bigger buffer.
    const { ciphertext } = await client.encrypt(Buffer.from('x'.repeat(300)));
    const big = Buffer.alloc(ciphertext.length + 100, 0xab);
    Buffer.from(ciphertext).copy(big, 50);
    const view = big.subarray(50, 50 + ciphertext.length);
    assert.equal(Buffer.from((await client.decrypt(view)).plaintext).toString(), 'x'.repeat(300));
    // The wrapping key as a Buffer view.
    const keyBytes = Buffer.concat([Buffer.alloc(9, 1), Buffer.from(gen(7, 32)), Buffer.alloc(5, 2)]);
    const viaView = new KE.RawAesKeyring({ keyNamespace: 'pkg-tests', keyName: 'k1', wrappingKey: keyBytes.subarray(9, 41) });
    const ct = (await new KE.EnvelopeClient({ keyring: viaView }).encrypt(new Uint8Array([9]))).ciphertext;
    assert.deepEqual([...(await new KE.EnvelopeClient({ keyring: rawKeyring() }).decrypt(ct)).plaintext], [9]);
  });

  test('Web Streams and Blobs work in Node (encryptStream, decryptStream, encryptBlob, decryptBlob)', async () => {
    for (const backend of ['webcrypto', 'rust']) {
      const client = new KE.EnvelopeClient({ keyring: rawKeyring(), frameLength: 4096, backend });
      const pt = gen(3, 200_000);
      const ct = await readAll(client.encryptStream(streamOf(pt, [1, 4095, 70000])));
      assert.ok(equalBytes(await readAll(client.decryptStream(streamOf(ct, [17, 9999]))), pt), backend);
      const blob = await client.encryptBlob(new Blob([pt]));
      assert.ok(blob instanceof Blob);
      const back = await client.decryptBlob(blob);
      assert.ok(equalBytes(new Uint8Array(await back.arrayBuffer()), pt), backend);
      assert.ok(equalBytes((await client.decrypt(ct)).plaintext, pt));
    }
  });

  test('hashWorker "auto" falls back to hashing in-thread in Node (no Worker) and interoperates with "off"', async () => {
    const auto = new KE.EnvelopeClient({ keyring: rawKeyring(), hashWorker: 'auto' });
    const off = new KE.EnvelopeClient({ keyring: rawKeyring(), hashWorker: 'off' });
    const pt = gen(9, 2 * 1024 * 1024 + 3);
    const a = (await auto.encrypt(pt)).ciphertext;
    assert.ok(equalBytes((await off.decrypt(a)).plaintext, pt));
    const s = await readAll(auto.encryptStream(streamOf(pt, [70000])));
    assert.ok(equalBytes(await readAll(auto.decryptStream(streamOf(s, [100000]))), pt));
    assert.ok(equalBytes((await auto.decrypt((await off.encrypt(pt)).ciphertext)).plaintext, pt));
    assert.equal(auto.metrics().hashWorkerBytes, 0);
  });

  test('a 64 MiB stream round-trips in Node with a matching checksum', { timeout: 120000 }, async () => {
    const client = new KE.EnvelopeClient({ keyring: rawKeyring() });
    const size = 64 << 20;
    const inD = new Digest(), outD = new Digest();
    let at = 0;
    const source = new ReadableStream({
      pull(c) {
        if (at >= size) { c.close(); return; }
        const piece = gen(11, 1 << 20, at);
        inD.update(piece);
        at += piece.length;
        c.enqueue(piece);
      },
    });
    const reader = client.decryptStream(client.encryptStream(source)).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      outD.update(value);
    }
    assert.equal(outD.hex(), inD.hex());
  });

  test('tampering is AUTHENTICATION_FAILED and the one-shot decrypt returns nothing', async () => {
    for (const backend of ['webcrypto', 'rust']) {
      const client = new KE.EnvelopeClient({ keyring: rawKeyring(), frameLength: 100, backend, suite: 0x0478 });
      const { ciphertext } = await client.encrypt(gen(1, 1000));
      for (const at of [ciphertext.length - 1, ciphertext.length - 300, 300]) {
        const bad = ciphertext.slice();
        bad[at] ^= 0x80;
        assertEnvelopeError(await rejection(client.decrypt(bad)), 'AUTHENTICATION_FAILED', `${backend} byte ${at}`);
      }
    }
  });

  test('parseHeader reads the header without keys and reports it unauthenticated', async () => {
    const client = new KE.EnvelopeClient({ keyring: rawKeyring(), frameLength: 777 });
    const { ciphertext, header } = await client.encrypt(gen(1, 10), { encryptionContext: { who: 'me' } });
    const h = KE.parseHeader(ciphertext);
    assert.equal(h.messageId, header.messageId);
    assert.equal(h.frameLength, 777);
    assert.equal(h.authenticated, false);
    assert.equal(header.authenticated, true, 'the header encrypt() returns is the one it wrote');
    assert.equal(h.encryptionContext.who, 'me');
    assert.deepEqual(h.encryptedDataKeys.map((e) => e.providerId), ['pkg-tests']);
    assertEnvelopeError(throwsSync(() => KE.parseHeader(new Uint8Array([0x99, 1, 2, 3]))), 'MALFORMED_MESSAGE');
    assertEnvelopeError(throwsSync(() => KE.parseHeader('nope')), 'INVALID_ARGUMENT');
  });

  test('commitmentPolicy and maxEncryptedDataKeys are enforced on decrypt', async () => {
    const a = rawKeyring(1, 'a'), b = rawKeyring(2, 'b'), c = rawKeyring(3, 'c');
    const multi = new KE.MultiKeyring({ generator: a, children: [b, c] });
    const { ciphertext } = await new KE.EnvelopeClient({ keyring: multi }).encrypt(gen(1, 10));
    assertEnvelopeError(await rejection(new KE.EnvelopeClient({ keyring: a, maxEncryptedDataKeys: 2 }).decrypt(ciphertext)),
      'TOO_MANY_ENCRYPTED_DATA_KEYS');
    assert.equal((await new KE.EnvelopeClient({ keyring: c, maxEncryptedDataKeys: 3 }).decrypt(ciphertext)).plaintext.length, 10);
    // FORBID_ENCRYPT writes a legacy non-committing suite (0x0378 by default, as the ESDKs do),
    // which REQUIRE_DECRYPT refuses and ALLOW_DECRYPT reads; it still reads committing messages.
    const forbid = new KE.EnvelopeClient({ keyring: c, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' });
    const legacy = await forbid.encrypt(gen(1, 10));
    assert.equal(legacy.header.suiteId, 0x0378);
    assertEnvelopeError(await rejection(new KE.EnvelopeClient({ keyring: c }).decrypt(legacy.ciphertext)), 'COMMITMENT_POLICY');
    const allow = new KE.EnvelopeClient({ keyring: c, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' });
    assert.equal((await allow.decrypt(legacy.ciphertext)).plaintext.length, 10);
    assert.equal((await forbid.decrypt(ciphertext)).plaintext.length, 10);
  });
});

describe('KMS keyring from Node (global fetch) against the dev KMS on loopback', () => {
  let kms, signed, bearer, keyArn, signedArn, hang;
  before(async () => {
    [kms, signed, bearer, hang] = await Promise.all([
      startDevKms({ seed: ['node-tests'] }),
      startDevKms({ seed: ['node-signed'], flags: ['--access-key', 'AKIDPKGTESTS:pkg-tests-secret:pkg-tests-token'] }),
      startDevKms({ seed: ['node-bearer'], flags: ['--bearer-token', 'pkg-tests-bearer'] }),
      hangingServer(),
    ]);
    keyArn = await kms.keyArn('node-tests');
    const sig = { accessKeyId: 'AKIDPKGTESTS', secretAccessKey: 'pkg-tests-secret', sessionToken: 'pkg-tests-token' };
    const probe = new KE.KmsKeyring({ endpoint: signed.url, region: 'us-east-1', generatorKeyId: 'alias/node-signed', credentials: sig });
    const { ciphertext } = await new KE.EnvelopeClient({ keyring: probe }).encrypt(new Uint8Array(1));
    signedArn = KE.parseHeader(ciphertext).encryptedDataKeys[0].providerInfo;
  });
  after(async () => {
    await Promise.all([kms?.stop(), signed?.stop(), bearer?.stop(), hang?.close()]);
  });

  test('encrypt and decrypt through GenerateDataKey/Decrypt, binding the encryption context', async () => {
    const keyring = new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: keyArn });
    const client = new KE.EnvelopeClient({ keyring });
    const pt = gen(5, 100_000);
    const { ciphertext } = await client.encrypt(pt, { encryptionContext: { tenant: 'node' } });
    assert.ok(equalBytes((await client.decrypt(ciphertext)).plaintext, pt));
    const m = client.metrics();
    assert.deepEqual([m.kmsCalls, m.kmsSuccesses, m.kmsFailures], [2, 2, 0]);
    assert.equal(typeof m.kmsMeanLatencyMs, 'number');
    const audit = (await kms.audit(20)).filter((a) => a.key_arn === keyArn && a.operation !== 'DescribeKey');
    assert.deepEqual(audit.map((a) => a.operation), ['GenerateDataKey', 'Decrypt']);
    for (const a of audit) assert.equal(a.encryption_context?.tenant, 'node', JSON.stringify(a));
    assert.equal(audit[0].auth, 'none', 'proxy mode sends no Authorization header');
  });

  test('SigV4 with static credentials and with an async credentials function (called per request)', async () => {
    let calls = 0;
    const creds = async () => {
      calls++;
      return { accessKeyId: 'AKIDPKGTESTS', secretAccessKey: 'pkg-tests-secret', sessionToken: 'pkg-tests-token' };
    };
    for (const credentials of [{ accessKeyId: 'AKIDPKGTESTS', secretAccessKey: 'pkg-tests-secret', sessionToken: 'pkg-tests-token' }, creds]) {
      const keyring = new KE.KmsKeyring({ endpoint: signed.url, region: 'us-east-1', generatorKeyId: signedArn, credentials });
      const client = new KE.EnvelopeClient({ keyring });
      const { ciphertext } = await client.encrypt(gen(1, 1000));
      assert.equal((await client.decrypt(ciphertext)).plaintext.length, 1000);
    }
    // This server accepts only valid signatures (the next test shows a wrong secret is refused).
    assert.equal(calls, 2, 'the credentials function runs before each request');
  });

  test('a wrong secret is KMS_ACCESS_DENIED, recorded in errorsByCode, with no secret in the message', async () => {
    const keyring = new KE.KmsKeyring({
      endpoint: signed.url, region: 'us-east-1', generatorKeyId: signedArn, retry: { maxAttempts: 1 },
      credentials: { accessKeyId: 'AKIDPKGTESTS', secretAccessKey: 'wrong-secret-value', sessionToken: 'pkg-tests-token' },
    });
    const client = new KE.EnvelopeClient({ keyring });
    const e = await rejection(client.encrypt(gen(1, 10)));
    assertEnvelopeError(e, 'KMS_ACCESS_DENIED');
    assert.ok(!e.message.includes('wrong-secret-value') && !e.stack.includes('wrong-secret-value'));
    assert.equal(client.metrics().errorsByCode.KMS_ACCESS_DENIED, 1);
    // A credentials function that throws is also an access failure, not a crash.
    const broken = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: signed.url, region: 'us-east-1', generatorKeyId: signedArn, credentials: () => { throw new Error('no creds'); } }) });
    assertEnvelopeError(await rejection(broken.encrypt(gen(1, 10))), 'KMS_ACCESS_DENIED');
  });

  test('proxy mode sends the configured headers (bearer token)', async () => {
    const arn = (await bearer.call('DescribeKey', { KeyId: 'alias/node-bearer' }, { authorization: 'Bearer pkg-tests-bearer' })).json.KeyMetadata.Arn;
    const good = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: bearer.url, region: 'us-east-1', generatorKeyId: arn, headers: { Authorization: 'Bearer pkg-tests-bearer' } }) });
    const { ciphertext } = await good.encrypt(gen(1, 10));
    assert.equal((await good.decrypt(ciphertext)).plaintext.length, 10);
    const bad = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: bearer.url, region: 'us-east-1', generatorKeyId: arn, headers: { Authorization: 'Bearer nope' }, retry: { maxAttempts: 1 } }) });
    // The only key's KMS refused: its error comes through (not a generic NO_DECRYPTABLE_KEY).
    assertEnvelopeError(await rejection(bad.decrypt(ciphertext)), 'KMS_ACCESS_DENIED', 'decrypt');
    assertEnvelopeError(await rejection(bad.encrypt(gen(1, 10))), 'KMS_ACCESS_DENIED', 'encrypt');
  });

  test('a KMS that never answers is KMS_TIMEOUT after timeoutMs, not a hang', async () => {
    const client = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: hang.url, region: 'us-east-1', generatorKeyId: keyArn, timeoutMs: 300, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 } }) });
    const t0 = Date.now();
    assertEnvelopeError(await rejection(client.encrypt(gen(1, 10))), 'KMS_TIMEOUT');
    console.log(`# KMS_TIMEOUT after ${Date.now() - t0} ms (timeoutMs 300, 2 attempts)`);
    assert.equal(client.metrics().kmsFailures >= 1, true);
  });

  test('a refused connection is KMS_NETWORK', async () => {
    const url = await closedPortUrl();
    const client = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', generatorKeyId: keyArn, retry: { maxAttempts: 1 } }) });
    assertEnvelopeError(await rejection(client.encrypt(gen(1, 10))), 'KMS_NETWORK');
  });

  test('aborting while a KMS request hangs rejects with ABORTED before the KMS timeout', async () => {
    const client = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: hang.url, region: 'us-east-1', generatorKeyId: keyArn, timeoutMs: 5000, retry: { maxAttempts: 1 } }) });
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 200);
    const e = await rejection(client.encrypt(gen(1, 10), { signal: ac.signal }));
    const ms = Date.now() - t0;
    console.log(`# abort during a hanging KMS call settled after ${ms} ms with ${e.code}`);
    assertEnvelopeError(e, 'ABORTED');
    assert.ok(ms < 4000, `settled after ${ms} ms (timeoutMs 5000)`);
  });

  test('keyIds wrap the data key under more KMS keys; each key alone decrypts', async () => {
    const second = (await kms.call('CreateKey', {})).json.KeyMetadata.Arn;
    const both = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: keyArn, keyIds: [second] }) });
    const { ciphertext, header } = await both.encrypt(gen(2, 3000));
    assert.deepEqual(header.encryptedDataKeys.map((e) => e.providerInfo), [keyArn, second]);
    assert.deepEqual(both.metrics().kmsCalls, 2, 'GenerateDataKey + Encrypt');
    const onlySecond = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: second }) });
    assert.equal((await onlySecond.decrypt(ciphertext)).plaintext.length, 3000);
  });

  test('the cache option reuses data keys: one GenerateDataKey and one Decrypt for repeated messages', async () => {
    const keyring = new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: keyArn });
    const cached = new KE.EnvelopeClient({ keyring, suite: 0x0478, cache: { maxEntries: 4, maxAgeMs: 60000 } });
    const ctx = { doc: 'cached' };
    const cts = [];
    for (let i = 0; i < 3; i++) cts.push((await cached.encrypt(gen(i, 1000), { encryptionContext: ctx })).ciphertext);
    for (const ct of cts) assert.equal((await cached.decrypt(ct)).plaintext.length, 1000);
    const m = cached.metrics();
    assert.equal(m.kmsCalls, 2, `one GenerateDataKey + one Decrypt: ${JSON.stringify(m)}`);
    assert.equal(m.cacheHits, 4);
    // A per-key message limit of 1 makes every encrypt go to KMS again.
    const once = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: keyArn }), suite: 0x0478, cache: { maxMessagesPerKey: 1 } });
    for (let i = 0; i < 3; i++) await once.encrypt(gen(i, 10), { encryptionContext: ctx });
    assert.equal(once.metrics().kmsCalls, 3);
    // Without the option nothing is cached.
    const plain = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: keyArn }), suite: 0x0478 });
    for (let i = 0; i < 2; i++) await plain.encrypt(gen(i, 10), { encryptionContext: ctx });
    assert.equal(plain.metrics().kmsCalls, 2);
    const bad = throwsSync(() => new KE.EnvelopeClient({ keyring, cache: { maxEntries: -1 } }));
    assertEnvelopeError(bad, 'INVALID_ARGUMENT');
    assert.match(bad.message, /maxEntries/);
  });

  test('discovery with a filter for another account makes no KMS call and finds no key', async () => {
    const { ciphertext } = await new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', generatorKeyId: keyArn }) }).encrypt(gen(1, 10));
    const filtered = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', discovery: true, discoveryFilter: { accountIds: ['999999999999'] } }) });
    assertEnvelopeError(await rejection(filtered.decrypt(ciphertext)), 'NO_DECRYPTABLE_KEY');
    assert.equal(filtered.metrics().kmsCalls, 0);
    const mine = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: 'us-east-1', discovery: true, discoveryFilter: { accountIds: [kms.account] } }) });
    assert.equal((await mine.decrypt(ciphertext)).plaintext.length, 10);
  });
});
