// The web target's initialiser, as a page uses it.
import init, { EnvelopeClient, RawAesKeyring } from 'kms-envelope';

export async function start(wasmUrl: URL): Promise<EnvelopeClient> {
  await init({ module_or_path: wasmUrl });
  return new EnvelopeClient({ keyring: new RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: new Uint8Array(16) }) });
}
