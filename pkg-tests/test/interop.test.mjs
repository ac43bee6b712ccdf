// Interop with the real Python AWS Encryption SDK (4.0.7, .venv): messages encrypted by the
// package in Node decrypt in Python; messages made by Python decrypt in headless Chromium.
// Raw AES keys and, through the dev KMS on loopback, KMS keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { HERE, PKG, PYTHON, need } from '../lib/paths.mjs';
import { startDevKms } from '../lib/devkms.mjs';
import { serve } from '../lib/server.mjs';
import { launch, openPage } from '../lib/browser.mjs';
import { gen, streamOf, readAll } from '../pages/util.js';

const require = createRequire(import.meta.url);
const ESDK_PY = path.join(HERE, 'interop', 'esdk.py');
let KE, kms, keyArn, tmp;

before(async () => {
  need(PYTHON, 'run `source scripts/setup.sh && ensure_venv` (scripts/pkg-tests.sh does)');
  need(path.join(PKG.nodejs, 'kms_envelope_bg.wasm'), 'run `bash scripts/build-pkg.sh nodejs`');
  KE = require(PKG.nodejs);
  kms = await startDevKms({ seed: ['interop'] });
  keyArn = await kms.keyArn('interop');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pkg-tests-interop-'));
});

after(async () => {
  await kms?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function python(...args) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  Object.assign(env, {
    AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: kms.region,
    AWS_ENDPOINT_URL_KMS: kms.url, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  const r = spawnSync(PYTHON, [ESDK_PY, ...args], { encoding: 'utf8', timeout: 180000, env });
  assert.equal(r.status, 0, `esdk.py ${args[0]} failed (${r.status} ${r.signal}):\n${r.stderr}`);
  return r.stdout;
}

test('messages encrypted by the package in Node decrypt in the Python ESDK', { timeout: 240000 }, async () => {
  const dir = path.join(tmp, 'from-node');
  fs.mkdirSync(dir);
  const keys = { 'node-key-1': gen(1, 32), 'node-key-2': gen(2, 24) };
  const namespace = 'pkg-tests-node';
  const manifest = { namespace, keys: Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, Buffer.from(v).toString('hex')])), messages: [] };
  const context = { 'made-by': 'kms-envelope', 'ключ': 'значение', 'emoji 🔑': '✓', a: '' };
  const ring = (name) => new KE.RawAesKeyring({ keyNamespace: namespace, keyName: name, wrappingKey: keys[name] });
  const write = (name, pt, ct, entry) => {
    fs.writeFileSync(path.join(dir, `${name}.pt`), pt);
    fs.writeFileSync(path.join(dir, `${name}.ct`), ct);
    manifest.messages.push({ name, plaintext: `${name}.pt`, ciphertext: `${name}.ct`, ...entry });
  };
  for (const suite of ['0478', '0578']) {
    for (const backend of ['webcrypto', 'rust']) {
      for (const frameLength of [1, 4096, 65536]) {
        const client = new KE.EnvelopeClient({ keyring: ring('node-key-1'), suite: parseInt(suite, 16), frameLength, backend });
        for (const size of frameLength === 1 ? [0, 1, 3] : [0, 1, frameLength - 1, frameLength, frameLength + 1, 3 * frameLength]) {
          const pt = gen(size + frameLength, size);
          const { ciphertext } = await client.encrypt(pt, { encryptionContext: context });
          write(`${suite}-${backend}-f${frameLength}-${size}`, pt, ciphertext, { key: 'node-key-1', suite, frameLength, context });
        }
      }
    }
  }
  // Streamed output, a subarray input, a two-key message opened with the second key only.
  const big = gen(77, 300000);
  const streamed = await readAll(new KE.EnvelopeClient({ keyring: ring('node-key-1') }).encryptStream(streamOf(big, [1000, 65537]), { encryptionContext: context }));
  write('streamed', big, streamed, { key: 'node-key-1', suite: '0578', frameLength: 65536, context });
  const view = big.subarray(12345, 12345 + 5000);
  write('subarray', view, (await new KE.EnvelopeClient({ keyring: ring('node-key-1') }).encrypt(view)).ciphertext, { key: 'node-key-1' });
  const multi = new KE.MultiKeyring({ generator: ring('node-key-1'), children: [ring('node-key-2')] });
  write('two-keys', big, (await new KE.EnvelopeClient({ keyring: multi }).encrypt(big, { encryptionContext: context })).ciphertext, { key: 'node-key-2', context });
  // A KMS keyring message (dev KMS), opened by Python's strict KMS provider.
  const kmsClient = new KE.EnvelopeClient({ keyring: new KE.KmsKeyring({ endpoint: kms.url, region: kms.region, generatorKeyId: keyArn }) });
  write('kms', big, (await kmsClient.encrypt(big, { encryptionContext: context })).ciphertext, { kms: keyArn, context });
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));

  const results = JSON.parse(python('decrypt', dir));
  assert.equal(results.length, manifest.messages.length);
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], 'messages the Python ESDK could not decrypt');
  console.log(`# Python ESDK decrypted ${results.length} messages made by the package in Node`);
});

test('messages made by the Python ESDK decrypt in the browser (both backends, one-shot and stream) and in Node', { timeout: 240000 }, async () => {
  const dir = path.join(tmp, 'from-python');
  python('encrypt', dir, keyArn);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.ok(manifest.messages.length >= 33);
  assert.ok(manifest.messages.some((m) => m.frameLength === 0), 'a non-framed message is among them');
  const messages = manifest.messages.map((m) => ({
    ...m,
    ct: fs.readFileSync(path.join(dir, m.ciphertext)).toString('base64'),
    pt: fs.readFileSync(path.join(dir, m.plaintext)).toString('base64'),
  }));

  // Node first (cheap), then the browser.
  for (const m of messages) {
    const keyring = m.kms
      ? new KE.KmsKeyring({ endpoint: kms.url, region: kms.region, generatorKeyId: m.kms })
      : new KE.RawAesKeyring({ keyNamespace: manifest.namespace, keyName: m.key, wrappingKey: Buffer.from(manifest.keys[m.key], 'hex') });
    const d = await new KE.EnvelopeClient({ keyring }).decrypt(Buffer.from(m.ct, 'base64'), { requiredEncryptionContext: m.context });
    assert.ok(Buffer.from(d.plaintext).equals(Buffer.from(m.pt, 'base64')), `node: ${m.name}`);
  }

  const server = await serve();
  const browser = await launch();
  try {
    const page = await openPage(browser, `${server.url}/pages/index.html`);
    const results = await page.evaluate(async ({ manifest, messages, kmsUrl, region }) => {
      const { KE, U } = window;
      const out = [];
      for (const m of messages) {
        for (const backend of ['webcrypto', 'rust']) {
          const keyring = m.kms
            ? new KE.KmsKeyring({ endpoint: kmsUrl, region, generatorKeyId: m.kms })
            : new KE.RawAesKeyring({ keyNamespace: manifest.namespace, keyName: m.key, wrappingKey: Uint8Array.from(m.key && manifest.keys[m.key].match(/../g).map((h) => parseInt(h, 16))) });
          const client = new KE.EnvelopeClient({ keyring, backend });
          const ct = U.fromBase64(m.ct), pt = U.fromBase64(m.pt);
          const r = { name: m.name, backend };
          try {
            const d = await client.decrypt(ct, { requiredEncryptionContext: m.context });
            r.oneShot = U.equalBytes(d.plaintext, pt);
            r.context = Object.entries(m.context).every(([k, v]) => d.encryptionContext[k] === v);
            r.suite = d.header.suiteId.toString(16).padStart(4, '0') === m.suite;
            r.frameLength = d.header.frameLength === m.frameLength || m.frameLength === undefined;
            r.stream = U.equalBytes(await U.readAll(client.decryptStream(U.streamOf(ct, [100, 4096]))), pt);
          } catch (e) {
            r.error = `${e.code}: ${e.message}`;
          }
          out.push(r);
        }
      }
      return out;
    }, { manifest, messages, kmsUrl: kms.url, region: kms.region });
    assert.equal(results.length, 2 * messages.length);
    for (const r of results) {
      assert.deepEqual({ error: r.error, oneShot: r.oneShot, stream: r.stream, context: r.context, suite: r.suite, frameLength: r.frameLength },
        { error: undefined, oneShot: true, stream: true, context: true, suite: true, frameLength: true }, `${r.name} (${r.backend})`);
    }
    assert.deepEqual(page.problems, []);
    console.log(`# the browser decrypted ${messages.length} Python-made messages with each backend`);
  } finally {
    await browser.close();
    await server.close();
  }
});
