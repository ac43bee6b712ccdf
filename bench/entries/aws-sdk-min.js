// The smallest useful @aws-crypto/client-browser bundle: raw AES keyring, encrypt and decrypt.
import {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringWebCrypto,
  RawAesWrappingSuiteIdentifier,
} from "@aws-crypto/client-browser";

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

export async function keyring(rawKey) {
  const wrappingSuite = RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING;
  const masterKey = await RawAesKeyringWebCrypto.importCryptoKey(rawKey, wrappingSuite);
  return new RawAesKeyringWebCrypto({ keyNamespace: "ns", keyName: "name", masterKey, wrappingSuite });
}
export { encrypt, decrypt };
