// The `cache` option of EnvelopeClient (a data-key cache) is part of the typed API.
import { EnvelopeClient, RawAesKeyring } from 'kms-envelope';

export function cached(): EnvelopeClient {
  const keyring = new RawAesKeyring({ keyNamespace: 'n', keyName: 'k', wrappingKey: new Uint8Array(32) });
  return new EnvelopeClient({ keyring, cache: { maxEntries: 16, maxAgeMs: 60000, maxMessagesPerKey: 100, maxBytesPerKey: 1 << 30 } });
}
