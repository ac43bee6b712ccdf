// Recovering a message's plaintext data key the way an attacker with the wrapping key would (to
// know what to look for), and scanning everything the package hands to JS for key bytes.
import { toHex, toBase64 } from './util.js';

const u16 = (b, at) => (b[at] << 8) | b[at + 1];
const u32 = (b, at) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** Parse a v2 message header (digest §2): what the key-recovery below needs. */
export function parseV2Header(msg) {
  let at = 0;
  if (msg[at++] !== 2) throw new Error('not a v2 message');
  const suiteId = u16(msg, at); at += 2;
  const messageId = msg.slice(at, at + 32); at += 32;
  const aadLen = u16(msg, at); at += 2;
  const aad = msg.slice(at, at + aadLen); at += aadLen;
  const count = u16(msg, at); at += 2;
  const edks = [];
  for (let i = 0; i < count; i++) {
    const field = () => { const n = u16(msg, at); const v = msg.slice(at + 2, at + 2 + n); at += 2 + n; return v; };
    edks.push({ providerId: new TextDecoder().decode(field()), providerInfo: field(), ciphertext: field() });
  }
  const contentType = msg[at++];
  const frameLength = u32(msg, at); at += 4;
  const commitment = msg.slice(at, at + 32); at += 32;
  const body = msg.slice(0, at);
  const authTag = msg.slice(at, at + 16);
  return { suiteId, messageId, aad, edks, contentType, frameLength, commitment, body, authTag };
}

/** Unwrap a raw AES keyring EDK with the wrapping key (WebCrypto): the message's data key. */
export async function unwrapRawAes(edk, keyName, wrappingKey, aad) {
  const nameLen = new TextEncoder().encode(keyName).length;
  const info = edk.providerInfo;
  const tagBits = u32(info, nameLen), ivLen = u32(info, nameLen + 4);
  if (tagBits !== 128 || ivLen !== 12) throw new Error(`unexpected raw AES provider info ${toHex(info)}`);
  const iv = info.slice(nameLen + 8, nameLen + 8 + ivLen);
  const k = await crypto.subtle.importKey('raw', wrappingKey, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, k, edk.ciphertext));
}

async function hkdf(ikm, salt, info, len) {
  const k = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-512', salt, info }, k, len * 8));
}

/**
 * The data key and the derived frame key of a raw-AES message (no required-only context keys),
 * checked against the header's key commitment and authentication tag so a wrong recovery
 * cannot pass unnoticed.
 */
export async function recoverKeys(msg, keyName, wrappingKey) {
  const h = parseV2Header(msg);
  const dataKey = await unwrapRawAes(h.edks[0], keyName, wrappingKey, h.aad);
  const label = (s) => new TextEncoder().encode(s);
  const info = new Uint8Array([h.suiteId >> 8, h.suiteId & 0xff, ...label('DERIVEKEY')]);
  const frameKey = await hkdf(dataKey, h.messageId, info, 32);
  const commitment = await hkdf(dataKey, h.messageId, label('COMMITKEY'), 32);
  if (toHex(commitment) !== toHex(h.commitment)) throw new Error('recovered data key does not match the commitment');
  const fk = await crypto.subtle.importKey('raw', frameKey, 'AES-GCM', false, ['encrypt']);
  const tag = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12), additionalData: h.body }, fk, new Uint8Array(0)));
  if (toHex(tag) !== toHex(h.authTag)) throw new Error('recovered frame key does not verify the header');
  return { dataKey, frameKey };
}

function indexOfBytes(hay, needle) {
  const first = needle[0];
  outer: for (let i = hay.indexOf(first); i !== -1 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The textual forms a key could leak in. */
function forms(bytes) {
  const b64 = toBase64(bytes);
  return {
    hex: toHex(bytes), HEX: toHex(bytes).toUpperCase(), base64: b64.replace(/=+$/, ''),
    base64url: b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    numbers: Array.from(bytes).join(','), latin1: String.fromCharCode(...bytes),
  };
}

const BUILTIN_PROTOS = new Set([
  Object.prototype, Function.prototype, Array.prototype, Error.prototype, Promise.prototype,
  Object.getPrototypeOf(Uint8Array.prototype), Uint8Array.prototype, ArrayBuffer.prototype,
  DataView.prototype, Blob.prototype, Map.prototype, Set.prototype, String.prototype,
  typeof ReadableStream !== 'undefined' ? ReadableStream.prototype : Object.prototype,
]);

/**
 * Walk `roots` (name → value): own and inherited properties (calling getters of non-builtin
 * prototypes), arrays, typed arrays, ArrayBuffers, Blobs, strings, error messages and stacks.
 * Returns findings `{ path, key, form }` for each `needles` (name → bytes) found.
 */
export async function scan(roots, needles) {
  const findings = [];
  const seen = new Set();
  const textForms = Object.entries(needles).map(([k, v]) => [k, forms(v)]);
  const checkBytes = (bytes, path) => {
    for (const [k, v] of Object.entries(needles)) if (indexOfBytes(bytes, v) !== -1) findings.push({ path, key: k, form: 'bytes' });
  };
  const checkString = (s, path) => {
    for (const [k, f] of textForms) for (const [form, text] of Object.entries(f)) if (s.includes(text)) findings.push({ path, key: k, form });
  };
  const queue = Object.entries(roots).map(([k, v]) => [v, k, 0]);
  let visited = 0;
  while (queue.length) {
    const [v, path, depth] = queue.shift();
    if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint') continue;
    if (typeof v === 'string') { checkString(v, path); continue; }
    if (typeof v === 'symbol' || typeof v === 'function') continue;
    if (seen.has(v) || depth > 10 || ++visited > 200000) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) { checkBytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), path); continue; }
    if (v instanceof ArrayBuffer) { checkBytes(new Uint8Array(v), path); continue; }
    if (v instanceof Blob) { checkBytes(new Uint8Array(await v.arrayBuffer()), path); continue; }
    if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'number')) {
      checkBytes(Uint8Array.from(v, (x) => x & 0xff), path);
      checkString(v.join(','), path);
      continue;
    }
    if (v instanceof Error) {
      checkString(String(v.message), `${path}.message`);
      checkString(String(v.stack), `${path}.stack`);
      checkString(String(v), `${path}.toString()`);
    }
    try { checkString(JSON.stringify(v) ?? '', `JSON(${path})`); } catch { /* cyclic or BigInt */ }
    // Own properties, then non-builtin prototypes (wasm-bindgen classes keep getters there).
    for (let o = v; o && !BUILTIN_PROTOS.has(o); o = Object.getPrototypeOf(o)) {
      for (const key of Reflect.ownKeys(o)) {
        const d = Object.getOwnPropertyDescriptor(o, key);
        const name = `${path}.${String(key)}`;
        if (typeof key === 'string') checkString(key, `${name} (name)`);
        if ('value' in d) queue.push([d.value, name, depth + 1]);
        else if (d.get) { try { queue.push([d.get.call(v), name, depth + 1]); } catch { /* throws for this receiver */ } }
      }
    }
  }
  return findings;
}

/** Whether `needle` occurs in the bytes of `memory` (a WebAssembly.Memory). */
export function inMemory(memory, needle) {
  return indexOfBytes(new Uint8Array(memory.buffer), needle) !== -1;
}
