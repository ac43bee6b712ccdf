// An app that imports the `bundler` target the way a bundler user does (bare ESM import;
// the wasm arrives through the ESM-integration import in the package's own glue).
import { EnvelopeClient, RawAesKeyring, isEnvelopeError } from 'kms-envelope';

async function selfTest() {
  const keyring = new RawAesKeyring({ keyNamespace: 'bundle', keyName: 'k', wrappingKey: new Uint8Array(32).fill(3) });
  const pt = new TextEncoder().encode('bundled with esbuild, no Node shims'.repeat(1000));
  const out = {};
  for (const backend of ['webcrypto', 'rust']) {
    const client = new EnvelopeClient({ keyring, backend, frameLength: 1024 });
    const { ciphertext } = await client.encrypt(pt, {});
    const { plaintext } = await client.decrypt(ciphertext, {});
    const bad = ciphertext.slice();
    bad[bad.length - 10] ^= 1;
    let code;
    try { await client.decrypt(bad, {}); } catch (e) { code = isEnvelopeError(e) ? e.code : String(e); }
    out[backend] = { ok: plaintext.length === pt.length && plaintext.every((b, i) => b === pt[i]), tamper: code };
  }
  return out;
}

selfTest().then((r) => { window.bundleResult = r; window.harnessReady = true; }, (e) => { window.harnessError = String((e && e.stack) || e); });
