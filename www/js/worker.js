// The crypto worker: every encrypt/decrypt runs here, with the kms-envelope package, so the page
// stays responsive. Messages in: { id, op, ...args }. Messages out: { id, type: "result" | "error"
// | "progress", ... }. Errors cross as plain { name, code, message } (structured clone would drop
// `code`).
import init, { EnvelopeClient, KmsKeyring, parseHeader, errorCodes } from "../pkg/kms_envelope.js";

const ready = init();
let config = null;
const clients = new Map(); // "encrypt|suite|arn" or "decrypt|arn,arn" → EnvelopeClient
const running = new Map(); // job id → AbortController
const BATCH = 4 << 20;

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
const plainError = (e) => ({
  name: e?.name || "Error",
  code: e?.code || (e?.name === "AbortError" ? "ABORTED" : "IO_ERROR"),
  message: String(e?.message || e),
});

function clientFor(kind, keyIds, suite) {
  const id = `${kind}|${suite || ""}|${keyIds.join(",")}`;
  let c = clients.get(id);
  if (!c) {
    const common = {
      endpoint: config.kmsEndpoint,
      region: config.region,
      timeoutMs: 4000,
      retry: { maxAttempts: 2, baseDelayMs: 100, maxTotalMs: 6000 },
    };
    const keyring =
      kind === "encrypt"
        ? new KmsKeyring({ ...common, generatorKeyId: keyIds[0] })
        : keyIds.length
          ? new KmsKeyring({ ...common, keyIds })
          : new KmsKeyring({ ...common, discovery: true, discoveryFilter: { accountIds: [config.account] } });
    c = new EnvelopeClient({ keyring, ...(suite ? { suite } : {}) });
    clients.set(id, c);
  }
  return c;
}

function metrics() {
  const sum = { kmsCalls: 0, kmsSuccesses: 0, kmsFailures: 0, kmsMaxLatencyMs: 0, cacheHits: 0, cacheMisses: 0, errorsByCode: {} };
  let latencyTotal = 0;
  for (const c of clients.values()) {
    const m = c.metrics();
    for (const k of ["kmsCalls", "kmsSuccesses", "kmsFailures", "cacheHits", "cacheMisses"]) sum[k] += m[k];
    sum.kmsMaxLatencyMs = Math.max(sum.kmsMaxLatencyMs, m.kmsMaxLatencyMs);
    if (m.kmsMeanLatencyMs != null) latencyTotal += m.kmsMeanLatencyMs * m.kmsCalls;
    for (const [code, n] of Object.entries(m.errorsByCode || {})) sum.errorsByCode[code] = (sum.errorsByCode[code] || 0) + n;
  }
  sum.kmsMeanLatencyMs = sum.kmsCalls ? latencyTotal / sum.kmsCalls : null;
  sum.clients = clients.size;
  return sum;
}

// Run one encrypt/decrypt. `sink` is { handle } (a file to write, File System Access API), a
// WritableStream (a streamed download, or a file written by the page), or "memory" (collect
// into a Blob, returned only when everything verified).
async function run(id, { kind, file, keyIds, suite, context, sink }) {
  const ac = new AbortController();
  running.set(id, ac);
  const started = performance.now();
  let lastPost = 0;
  const onProgress = ({ bytes }) => {
    const now = performance.now();
    if (now - lastPost >= 80) {
      lastPost = now;
      post({ id, type: "progress", bytes, total: file.size });
    }
  };
  try {
    const client = clientFor(kind, keyIds, suite);
    const opts = { signal: ac.signal, onProgress };
    if (kind === "encrypt") opts.encryptionContext = context;
    else opts.requiredEncryptionContext = context;
    const input = file.stream();
    const out = kind === "encrypt" ? client.encryptStream(input, opts) : client.decryptStream(input, opts);
    let blob = null, written = 0;
    if (sink === "memory") {
      const parts = [];
      const reader = out.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        written += value.byteLength;
      }
      blob = new Blob(parts, { type: "application/octet-stream" });
    } else {
      // Frames come out 64 KiB at a time; every write to a file (or across threads) has a fixed
      // cost, so hand the sink 4 MiB pieces. Memory stays bounded by one piece.
      let buf = new Uint8Array(BATCH), n = 0;
      const batch = new TransformStream({
        transform(chunk, c) {
          written += chunk.byteLength;
          if (n + chunk.byteLength > BATCH && n) {
            c.enqueue(buf.subarray(0, n));
            buf = new Uint8Array(BATCH);
            n = 0;
          }
          if (chunk.byteLength >= BATCH) return c.enqueue(chunk);
          buf.set(chunk, n);
          n += chunk.byteLength;
        },
        flush(c) { if (n) c.enqueue(buf.subarray(0, n)); },
      }, undefined, { highWaterMark: 2 }); // encrypt the next pieces while one is being written
      // A file handle (File System Access API) is written right here in the worker; a failed
      // job aborts the write, which leaves the file as it was.
      const dest = sink.handle ? await sink.handle.createWritable() : sink;
      await out.pipeThrough(batch).pipeTo(dest);
    }
    post({ id, type: "progress", bytes: file.size, total: file.size });
    return { blob, bytesIn: file.size, bytesOut: written, ms: performance.now() - started };
  } finally {
    running.delete(id);
  }
}

const ops = {
  async init(msg) {
    await ready;
    config = msg.config;
    return { codes: errorCodes(), writesFiles: typeof self.FileSystemFileHandle?.prototype?.createWritable === "function" };
  },
  async parseHeader({ bytes }) {
    await ready;
    return parseHeader(new Uint8Array(bytes));
  },
  encrypt: (msg) => run(msg.id, { ...msg, kind: "encrypt" }),
  decrypt: (msg) => run(msg.id, { ...msg, kind: "decrypt" }),
  async cancel({ job }) {
    running.get(job)?.abort();
    return true;
  },
  async metrics() {
    await ready;
    return metrics();
  },
};

self.onmessage = async ({ data }) => {
  const { id, op } = data;
  try {
    if (!ops[op]) throw Object.assign(new Error(`unknown op ${op}`), { code: "INVALID_ARGUMENT" });
    post({ id, type: "result", value: await ops[op](data) });
  } catch (e) {
    post({ id, type: "error", error: plainError(e) });
  }
};
