// Like aws-sdk-min.js plus the KMS keyring and its AWS SDK v3 KMS client (SigV4 included):
// the same feature set as kms-envelope's package.
import {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringWebCrypto,
  RawAesWrappingSuiteIdentifier,
  KmsKeyringBrowser,
  KMS,
} from "@aws-crypto/client-browser";

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

export async function keyring(rawKey) {
  const wrappingSuite = RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING;
  const masterKey = await RawAesKeyringWebCrypto.importCryptoKey(rawKey, wrappingSuite);
  return new RawAesKeyringWebCrypto({ keyNamespace: "ns", keyName: "name", masterKey, wrappingSuite });
}
export function kmsKeyring(generatorKeyId, region, credentials) {
  const clientProvider = () => new KMS({ region, credentials });
  return new KmsKeyringBrowser({ clientProvider, generatorKeyId });
}
export { encrypt, decrypt };
