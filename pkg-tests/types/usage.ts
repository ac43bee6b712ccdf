// A typed user of the package: everything here must type-check under `strict`, and every
// `@ts-expect-error` line must really be an error (so the types are neither missing nor `any`).
import {
  EnvelopeClient,
  KmsKeyring,
  MultiKeyring,
  RawAesKeyring,
  errorCodes,
  isEnvelopeError,
  parseHeader,
} from 'kms-envelope';
import type {
  DecryptResult,
  EncryptResult,
  EnvelopeError,
  EnvelopeErrorCode,
  EnvelopeMetrics,
  KmsKeyringOptions,
  MessageHeader,
} from 'kms-envelope';

export async function usage(file: File, bytes: Uint8Array): Promise<void> {
  const raw = new RawAesKeyring({ keyNamespace: 'ns', keyName: 'name', wrappingKey: new Uint8Array(32) });
  const kmsOptions: KmsKeyringOptions = {
    endpoint: 'http://127.0.0.1:4599',
    region: 'us-east-1',
    generatorKeyId: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000',
    keyIds: [],
    credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 's', sessionToken: 't' }),
    timeoutMs: 5000,
    retry: { maxAttempts: 3, baseDelayMs: 50 },
  };
  const kms = new KmsKeyring(kmsOptions);
  new KmsKeyring({ region: 'us-east-1', discovery: true, discoveryFilter: { accountIds: ['111122223333'] } });
  new KmsKeyring({ region: 'us-east-1', generatorKeyId: 'alias/x', credentials: { accessKeyId: 'a', secretAccessKey: 's' } });
  new KmsKeyring({ region: 'us-east-1', generatorKeyId: 'alias/x', headers: { Authorization: 'Bearer t' }, fetchCredentials: 'include' });
  const multi = new MultiKeyring({ generator: kms, children: [raw] });
  const client = new EnvelopeClient({ keyring: multi, suite: 0x0578, frameLength: 65536, commitmentPolicy: 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT', maxEncryptedDataKeys: 4 });
  new EnvelopeClient({ keyring: raw, suite: 'AES_256_GCM_HKDF_SHA512_COMMIT_KEY', backend: 'rust' });

  const controller = new AbortController();
  const plain: EncryptResult = await client.encrypt(bytes, undefined);
  const enc: EncryptResult = await client.encrypt(bytes, {
    encryptionContext: { purpose: 'test' },
    signal: controller.signal,
    onProgress: (p) => { const n: number = p.bytes; void n; },
  });
  const ct: Uint8Array = enc.ciphertext;
  const header: MessageHeader = enc.header;
  const id: string = header.messageId;
  const version: 1 | 2 = header.version;
  const dec: DecryptResult = await client.decrypt(ct, { requiredEncryptionContext: { purpose: 'test' } });
  const pt: Uint8Array = dec.plaintext;
  const ctx: Record<string, string> = dec.encryptionContext;
  await client.decrypt(plain.ciphertext, undefined);
  const out: ReadableStream<Uint8Array> = client.decryptStream(client.encryptStream(file.stream(), { encryptionContext: ctx }), {});
  client.encryptStream(file.stream(), {});
  const blob: Blob = await client.encryptBlob(file, undefined);
  await client.decryptBlob(blob, {});
  const parsed: MessageHeader = parseHeader(ct);
  const metrics: EnvelopeMetrics = client.metrics();
  const calls: number = metrics.kmsCalls;
  const codes: EnvelopeErrorCode[] = errorCodes();
  void [id, version, pt, out, parsed, calls, codes];

  try {
    await client.decrypt(ct, {});
  } catch (e: unknown) {
    if (isEnvelopeError(e)) {
      const err: EnvelopeError = e;
      const code: EnvelopeErrorCode = err.code;
      const isError: Error = err;
      if (code === 'AUTHENTICATION_FAILED' || code === 'KMS_TIMEOUT') void isError;
      // @ts-expect-error: not a code
      if (err.code === 'NOT_A_CODE') void 0;
    }
  }

  // @ts-expect-error: wrappingKey must be bytes
  new RawAesKeyring({ keyNamespace: 'ns', keyName: 'name', wrappingKey: 'secret' });
  // @ts-expect-error: keyring is required
  new EnvelopeClient({ suite: 0x0578 });
  // @ts-expect-error: not a suite id
  new EnvelopeClient({ keyring: raw, suite: 0x1234 });
  // @ts-expect-error: a backend that does not exist
  new EnvelopeClient({ keyring: raw, backend: 'gpu' });
  // @ts-expect-error: region is required
  new KmsKeyring({ generatorKeyId: 'alias/x' });
  // @ts-expect-error: context values are strings
  await client.encrypt(bytes, { encryptionContext: { n: 1 } });
  // @ts-expect-error: the result has no plaintext
  void enc.plaintext;
}
