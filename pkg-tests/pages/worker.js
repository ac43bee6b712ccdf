// A dedicated module Worker: no window, no document. Loads the web target and runs requests.
import init, * as KE from '/pkg/web/kms_envelope.js';
import * as U from './util.js';

const ops = {
  async environment() {
    return { hasWindow: typeof window !== 'undefined', hasDocument: typeof document !== 'undefined', hasSubtle: !!(crypto && crypto.subtle) };
  },
  async roundTrips() {
    const keyring = new KE.RawAesKeyring({ keyNamespace: 'worker', keyName: 'k', wrappingKey: U.gen(7, 32) });
    const out = [];
    for (const suite of [0x0478, 0x0578]) {
      for (const backend of ['webcrypto', 'rust']) {
        const client = new KE.EnvelopeClient({ keyring, suite, backend, frameLength: 4096 });
        for (const size of [0, 1, 4096, 4097, 100000]) {
          const pt = U.gen(size, size);
          const { ciphertext } = await client.encrypt(pt, { encryptionContext: { where: 'worker' } });
          const oneShot = U.equalBytes((await client.decrypt(ciphertext)).plaintext, pt);
          const streamed = U.equalBytes(await U.readAll(client.decryptStream(client.encryptStream(U.streamOf(pt, [1000])))), pt);
          const blob = U.equalBytes(new Uint8Array(await (await client.decryptBlob(await client.encryptBlob(new Blob([pt])))).arrayBuffer()), pt);
          out.push({ suite, backend, size, oneShot, streamed, blob });
        }
      }
    }
    return out;
  },
  async encryptForPage({ size }) {
    const keyring = new KE.RawAesKeyring({ keyNamespace: 'worker', keyName: 'k', wrappingKey: U.gen(7, 32) });
    const { ciphertext } = await new KE.EnvelopeClient({ keyring }).encrypt(U.gen(size, size));
    return U.toBase64(ciphertext);
  },
  async kms({ url, keyArn }) {
    const keyring = new KE.KmsKeyring({ endpoint: url, region: 'us-east-1', generatorKeyId: keyArn });
    const client = new KE.EnvelopeClient({ keyring });
    const pt = U.gen(9, 70000);
    const { ciphertext } = await client.encrypt(pt, { encryptionContext: { where: 'worker' } });
    const d = await client.decrypt(ciphertext, { requiredEncryptionContext: { where: 'worker' } });
    return { ok: U.equalBytes(d.plaintext, pt), metrics: client.metrics() };
  },
  async errors() {
    const keyring = new KE.RawAesKeyring({ keyNamespace: 'worker', keyName: 'k', wrappingKey: U.gen(7, 32) });
    const client = new KE.EnvelopeClient({ keyring });
    const { ciphertext } = await client.encrypt(U.gen(1, 1000));
    const bad = ciphertext.slice(); bad[bad.length - 200] ^= 4;
    const ac = new AbortController(); ac.abort();
    let invalid;
    try { new KE.EnvelopeClient({ keyring, frameLength: 1.5 }); } catch (e) { invalid = U.describeError(e, KE.isEnvelopeError); }
    return {
      tamper: await U.rejection(client.decrypt(bad), KE.isEnvelopeError),
      aborted: await U.rejection(client.encrypt(U.gen(1, 10), { signal: ac.signal }), KE.isEnvelopeError),
      invalid,
    };
  },
};

self.onmessage = async (ev) => {
  const { id, op, args } = ev.data;
  try {
    self.postMessage({ id, result: await ops[op](args) });
  } catch (e) {
    self.postMessage({ id, error: `${e && e.name}: ${e && e.code} ${e && e.message}` });
  }
};

try {
  await init();
  self.postMessage({ ready: true });
} catch (e) {
  self.postMessage({ initError: String((e && e.stack) || e) });
}
