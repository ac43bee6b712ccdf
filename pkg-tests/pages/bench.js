// Throughput in the page: the package's one-shot encrypt/decrypt of `size` bytes per suite and
// backend, and raw WebCrypto AES-GCM over the same bytes in 64 KiB calls. Information only.
import { gen, equalBytes } from './util.js';

const now = () => performance.now();

async function rawWebCrypto(data, inFlight) {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(32).fill(1), 'AES-GCM', false, ['encrypt']);
  const iv = new Uint8Array(12);
  const t0 = now();
  const pending = [];
  for (let at = 0; at < data.length; at += 65536) {
    pending.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: iv }, key, data.subarray(at, at + 65536)));
    if (pending.length >= inFlight) await pending.shift();
  }
  await Promise.all(pending);
  return (now() - t0) / 1000;
}

export async function bench(KE, size) {
  const data = gen(42, size);
  const keyring = new KE.RawAesKeyring({ keyNamespace: 'bench', keyName: 'k', wrappingKey: new Uint8Array(32).fill(2) });
  const rows = [];
  const mbps = (s) => +(size / 1e6 / s).toFixed(1);
  for (const suite of [0x0478, 0x0578]) {
    for (const backend of ['webcrypto', 'rust']) {
      const client = new KE.EnvelopeClient({ keyring, suite, backend });
      await client.decrypt((await client.encrypt(data.subarray(0, 1 << 20))).ciphertext); // warm-up
      let t0 = now();
      const { ciphertext } = await client.encrypt(data);
      const enc = (now() - t0) / 1000;
      t0 = now();
      const { plaintext } = await client.decrypt(ciphertext);
      const dec = (now() - t0) / 1000;
      if (!equalBytes(plaintext, data)) throw new Error(`round trip failed: ${suite} ${backend}`);
      rows.push({ what: `suite 0x0${suite.toString(16)} ${backend}`, encryptMBps: mbps(enc), decryptMBps: mbps(dec) });
    }
  }
  await rawWebCrypto(data.subarray(0, 1 << 20), 8); // warm-up
  rows.push({ what: 'raw WebCrypto AES-GCM, 64 KiB calls, 1 in flight', encryptMBps: mbps(await rawWebCrypto(data, 1)), decryptMBps: null });
  rows.push({ what: 'raw WebCrypto AES-GCM, 64 KiB calls, 8 in flight', encryptMBps: mbps(await rawWebCrypto(data, 8)), decryptMBps: null });
  return rows;
}
