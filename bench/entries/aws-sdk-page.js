// The official SDK as the benchmark page uses it (bundled by run.mjs into an IIFE global).
import {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringWebCrypto,
  RawAesWrappingSuiteIdentifier,
  AlgorithmSuiteIdentifier,
} from "@aws-crypto/client-browser";

globalThis.AwsSdk = {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringWebCrypto,
  RawAesWrappingSuiteIdentifier,
  AlgorithmSuiteIdentifier,
};
