/** Every `code` an `EnvelopeError` can carry. */
export type EnvelopeErrorCode =
  | "AUTHENTICATION_FAILED"
  | "MALFORMED_MESSAGE"
  | "TRUNCATED"
  | "UNSUPPORTED_SUITE"
  | "COMMITMENT_POLICY"
  | "CONTEXT_MISMATCH"
  | "NO_DECRYPTABLE_KEY"
  | "TOO_MANY_ENCRYPTED_DATA_KEYS"
  | "LIMIT_EXCEEDED"
  | "INVALID_ARGUMENT"
  | "ABORTED"
  | "IO_ERROR"
  | "KMS_ACCESS_DENIED"
  | "KMS_INVALID_CIPHERTEXT"
  | "KMS_INCORRECT_KEY"
  | "KMS_KEY_UNAVAILABLE"
  | "KMS_NOT_FOUND"
  | "KMS_THROTTLED"
  | "KMS_UNAVAILABLE"
  | "KMS_VALIDATION"
  | "KMS_MALFORMED_RESPONSE"
  | "KMS_KEY_ID_MISMATCH"
  | "KMS_NETWORK"
  | "KMS_TIMEOUT"
  | "KMS_ERROR";

/** The errors this library throws: real `Error`s with a stable `code`. */
export interface EnvelopeError extends Error {
  name: "EnvelopeError";
  code: EnvelopeErrorCode;
}

/** Whether `e` is an `EnvelopeError`. */
export function isEnvelopeError(e: unknown): e is EnvelopeError;

/** Non-secret key/value pairs bound to the message (and sent to KMS). */
export type EncryptionContext = Record<string, string>;

export type AlgorithmSuiteName =
  | "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
  | "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384";

export type CommitmentPolicyName =
  | "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"
  | "REQUIRE_ENCRYPT_ALLOW_DECRYPT"
  | "FORBID_ENCRYPT_ALLOW_DECRYPT";

export interface RawAesKeyringOptions {
  keyNamespace: string;
  keyName: string;
  /** 16, 24 or 32 bytes. */
  wrappingKey: Uint8Array;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RetryOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxTotalMs?: number;
}

export interface KmsKeyringOptions {
  /** KMS-compatible endpoint URL; default `https://kms.<region>.amazonaws.com`. */
  endpoint?: string;
  region: string;
  /** Key that generates the data key (use a key ARN to decrypt: aliases never match). */
  generatorKeyId?: string;
  /** More keys that also wrap the data key. */
  keyIds?: string[];
  /** Decrypt with whatever key ARN the message names (decrypt only). */
  discovery?: boolean;
  discoveryFilter?: { partition?: string; accountIds: string[] };
  /** SigV4 credentials, or a function returning them (called before each request). */
  credentials?: AwsCredentials | (() => AwsCredentials | Promise<AwsCredentials>);
  /** Proxy mode (no credentials): extra headers, e.g. `{ Authorization: "Bearer …" }`. */
  headers?: Record<string, string>;
  /** Proxy mode: the fetch `credentials` mode. Default `omit`. */
  fetchCredentials?: "omit" | "same-origin" | "include";
  /** Proxy mode: send a SigV4-shaped (unsigned) Authorization header, for emulators like moto. */
  sigv4ShapedAuthorization?: boolean;
  /** Per-request timeout; default 5000. */
  timeoutMs?: number;
  retry?: RetryOptions;
  grantTokens?: string[];
}

export type Keyring = RawAesKeyring | KmsKeyring | MultiKeyring;

export interface MultiKeyringOptions {
  generator?: Keyring;
  children?: Keyring[];
}

export interface EnvelopeClientOptions {
  keyring: Keyring;
  /** Default `AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384` (0x0578). */
  suite?: AlgorithmSuiteName | 0x0478 | 0x0578;
  /** Plaintext bytes per frame; default 65536. */
  frameLength?: number;
  /** Default `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`. */
  commitmentPolicy?: CommitmentPolicyName;
  /** Default 16. */
  maxEncryptedDataKeys?: number;
  /** Frame AES-GCM: WebCrypto when available (`auto`, the default), or pure Rust. */
  backend?: "auto" | "webcrypto" | "rust";
  /** Reuse data keys across messages (one-shot encrypt, and decrypt); off by default. */
  cache?: CacheOptions;
  /** Signed suites: SHA-384 of the message in a Web Worker, on another core (`auto`, the
   *  default, when a worker can start: not in Node, bundles or under a CSP without `blob:`
   *  workers; known inputs under 1 MiB stay in-thread), or always in-thread (`off`). */
  hashWorker?: "auto" | "off";
}

/** Limits of the data-key cache (`EnvelopeClientOptions.cache`). */
export interface CacheOptions {
  /** Default 16. */
  maxEntries?: number;
  /** Default 60000. */
  maxAgeMs?: number;
  /** Messages per cached data key; default the ESDK's limit (2^32). */
  maxMessagesPerKey?: number;
  /** Plaintext bytes per cached data key; default the ESDK's limit. */
  maxBytesPerKey?: number;
}

export interface Progress {
  bytes: number;
  total?: number;
}

export interface EncryptOptions {
  encryptionContext?: EncryptionContext;
  /** Keys of `encryptionContext` bound but not stored: decrypt must supply them. */
  requiredEncryptionContextKeys?: string[];
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface DecryptOptions {
  /** Pairs the message must carry (or bind, for pairs it does not store). */
  requiredEncryptionContext?: EncryptionContext;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface EncryptedDataKeyInfo {
  providerId: string;
  /** UTF-8 provider info (a KMS key ARN), or null when binary (raw AES). */
  providerInfo: string | null;
  providerInfoHex: string;
  ciphertextLength: number;
}

export interface MessageHeader {
  version: 1 | 2;
  suiteId: number;
  suiteName: string;
  messageId: string;
  encryptionContext: EncryptionContext;
  encryptedDataKeys: EncryptedDataKeyInfo[];
  contentType: "framed" | "non-framed";
  frameLength: number;
  headerLength: number;
  /** False from `parseHeader`: nothing is verified before decryption. */
  authenticated: boolean;
}

export interface EncryptResult {
  ciphertext: Uint8Array;
  header: MessageHeader;
}

export interface DecryptResult {
  plaintext: Uint8Array;
  encryptionContext: EncryptionContext;
  header: MessageHeader;
}

export interface EnvelopeMetrics {
  kmsCalls: number;
  kmsSuccesses: number;
  kmsFailures: number;
  kmsMeanLatencyMs: number | null;
  kmsMaxLatencyMs: number;
  errorsByCode: Partial<Record<EnvelopeErrorCode, number>>;
  cacheHits: number;
  cacheMisses: number;
  /** Bytes of signed messages hashed in the Web Worker (`hashWorker`). */
  hashWorkerBytes: number;
}
