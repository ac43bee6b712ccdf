// The options argument of encrypt/decrypt/streams/blobs is optional (`client.encrypt(data)`),
// as in the documented API.
import { EnvelopeClient } from 'kms-envelope';

export async function optionless(client: EnvelopeClient, bytes: Uint8Array, blob: Blob): Promise<void> {
  const { ciphertext } = await client.encrypt(bytes);
  await client.decrypt(ciphertext);
  client.decryptStream(client.encryptStream(blob.stream()));
  await client.decryptBlob(await client.encryptBlob(blob));
}
