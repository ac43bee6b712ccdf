// Every error code in words a person understands. `explain(error, ctx)` returns
// { title, detail, code, hint? }; ctx adds what the page knows (the KMS URL, the key's state).

const MESSAGES = {
  CONTEXT_MISMATCH: [
    "The encryption context doesn't match",
    "This file was encrypted with a different encryption context than the one you require. Keys and values are case-sensitive. Nothing was decrypted.",
  ],
  AUTHENTICATION_FAILED: [
    "This file has been altered or damaged",
    "Its integrity check failed: a byte was changed, the file was corrupted, or it belongs to another key. Nothing was saved.",
  ],
  MALFORMED_MESSAGE: [
    "This isn't an encrypted file this app can open",
    "It doesn't start with an AWS Encryption SDK message header. Choose a .encrypted file made by kms-envelope or an AWS Encryption SDK.",
  ],
  TRUNCATED: [
    "The encrypted file is incomplete",
    "It ends before the message does, for example after an interrupted copy or download. Nothing was saved.",
  ],
  UNSUPPORTED_SUITE: [
    "This file uses an algorithm suite this app doesn't accept",
    "Only the key-committing suites (0x0478, 0x0578) are accepted, as the AWS Encryption SDK recommends.",
  ],
  COMMITMENT_POLICY: [
    "This file was encrypted without key commitment",
    "The security policy requires key-committing suites, so it is refused.",
  ],
  NO_DECRYPTABLE_KEY: [
    "None of your KMS keys can unlock this file",
    "The file's data key is wrapped only by keys this KMS doesn't have.",
  ],
  TOO_MANY_ENCRYPTED_DATA_KEYS: [
    "This file names too many keys",
    "It carries more wrapped data keys than the safety limit (16) allows.",
  ],
  LIMIT_EXCEEDED: ["This file goes beyond a safety limit", "A header field or frame is larger than allowed."],
  INVALID_ARGUMENT: ["Something in the request is not valid", ""],
  ABORTED: ["Cancelled", "The operation was stopped. Nothing was saved."],
  IO_ERROR: ["The file couldn't be read or written", "Check that it still exists and that there is space on the disk."],
  KMS_ACCESS_DENIED: ["The KMS refused access", "Your credentials are not allowed to use this key."],
  KMS_INVALID_CIPHERTEXT: [
    "The KMS couldn't unwrap the file's data key",
    "The wrapped key was made by another KMS, for a different context, or was altered.",
  ],
  KMS_INCORRECT_KEY: ["The file's data key belongs to a different KMS key", ""],
  KMS_KEY_UNAVAILABLE: [
    "The KMS key is disabled or pending deletion",
    "A key that is disabled or scheduled for deletion can't be used. Re-enable it (or cancel the deletion) in Keys.",
  ],
  KMS_NOT_FOUND: ["The KMS key doesn't exist", "It may have been deleted, or it belongs to another account or region."],
  KMS_THROTTLED: ["The KMS is busy", "Too many requests at once. Try again in a moment."],
  KMS_UNAVAILABLE: ["The KMS is temporarily unavailable", "Try again in a moment."],
  KMS_VALIDATION: ["The KMS rejected the request", ""],
  KMS_MALFORMED_RESPONSE: ["The KMS answered with something unexpected", "Is the endpoint really a KMS?"],
  KMS_KEY_ID_MISMATCH: ["The KMS answered for a different key than asked", ""],
  KMS_NETWORK: ["Can't reach the KMS", "The KMS didn't answer. Check that it is running (bash scripts/demo.sh) and try again."],
  KMS_TIMEOUT: ["The KMS took too long to answer", "Check that it is running and not overloaded, then try again."],
  KMS_ERROR: ["The KMS reported an error", ""],
  // The page's own codes.
  TOO_LARGE_FOR_DOWNLOAD: [
    "This file is too large for this browser's download method",
    "Without the File System Access API and without a service worker, results are held in memory. Use Chrome or Edge to stream multi-GB files straight to disk.",
  ],
  SAVE_FAILED: ["The result couldn't be saved", ""],
  WORKER_FAILED: ["The encryption engine failed to start", "Reload the page. If it happens again, the WebAssembly module may be missing."],
};

export function explain(error, ctx = {}) {
  const code = error?.code || "IO_ERROR";
  const [title, detail] = MESSAGES[code] || ["Something went wrong", ""];
  const out = { code, title, detail: detail || error?.message || "", technical: error?.message || "" };
  if (code === "KMS_KEY_UNAVAILABLE" && ctx.key) {
    const name = ctx.key.aliases?.[0] || ctx.key.arn;
    const st = ctx.key.meta?.KeyState;
    if (st === "Disabled") {
      out.title = "The KMS key is disabled";
      out.detail = `${name} is disabled, so KMS refuses to use it. Enable it in Keys, then try again.`;
    } else if (st === "PendingDeletion") {
      const when = ctx.key.meta.DeletionDate ? new Date(ctx.key.meta.DeletionDate * 1000).toLocaleDateString() : "soon";
      out.title = "The KMS key is scheduled for deletion";
      out.detail = `${name} will be deleted on ${when} and can't be used meanwhile. Cancel the deletion and enable it in Keys to use it again.`;
    }
  }
  if ((code === "KMS_NETWORK" || code === "KMS_TIMEOUT") && ctx.endpoint) {
    out.detail = `The KMS at ${ctx.endpoint} didn't answer. Check that it is running (bash scripts/demo.sh) and try again.`;
  }
  if ((code === "AUTHENTICATION_FAILED" || code === "KMS_INVALID_CIPHERTEXT") && ctx.missingRequired?.length) {
    const names = ctx.missingRequired.map((k) => `“${k}”`).join(", ");
    out.title = "The context you require doesn't match this file";
    out.detail = `The file doesn't store ${names}. Pairs it doesn't store can only be checked cryptographically (by KMS and the file's authentication tag), and that check failed: ${names} ${ctx.missingRequired.length > 1 ? "were" : "was"} not part of the context when the file was encrypted, or had another value.`;
  }
  return out;
}
