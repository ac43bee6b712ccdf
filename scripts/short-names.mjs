// Short names for what only the package's own glue uses: the wasm's imports from the glue module
// (`./kms_envelope_bg.js`) and its internal exports, in the .wasm, the glue and the .d.ts alike.
// wasm-bindgen names them `__wbg_<name>_<16 hex digits>`, `envelopeclient_decryptBlob`,
// `wasm_bindgen__convert__closures_____invoke__h<16 hex>`…: ~4 KB of names, most hard to
// compress, each in the wasm and again in the glue. Kept: module names, the snippets' imports,
// `memory`, the hash worker's `__kmsenv_*` exports and the few exports without a `_` (`start`,
// `parseHeader`…: short, and also the JS API's names).
// Usage: node scripts/short-names.mjs PKG_DIR   (after wasm-opt, before minifying the glue)
import fs from "node:fs";
import path from "node:path";

const dir = process.argv[2];
const wasmFile = path.join(dir, "kms_envelope_bg.wasm");
const glueModule = "./kms_envelope_bg.js";
const wasm = fs.readFileSync(wasmFile);
const read = (f) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : null);
const glue = new Map(["kms_envelope.js", "kms_envelope_bg.js"].map((f) => [f, read(f)]).filter(([, t]) => t !== null));
const types = new Map(["kms_envelope.d.ts", "kms_envelope_bg.wasm.d.ts"].map((f) => [f, read(f)]).filter(([, t]) => t !== null));
const esc = (s) => s.replace(/\$/g, "\\$");
const word = (s) => new RegExp(`(?<![\\w$])${esc(s)}(?![\\w$])`, "g");
const property = (s) => new RegExp(`(?<=\\.)${esc(s)}(?![\\w$])`, "g");
const count = (text, re) => (text.match(re) || []).length;

function leb(buf, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
  }
}
function uleb(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
const str = (s) => Buffer.concat([uleb(Buffer.byteLength(s)), Buffer.from(s)]);
const name = (buf, at) => {
  const [len, p] = leb(buf, at);
  return [buf.toString("utf8", p, p + len), p + len];
};

// The end of one import's description, from its kind byte on.
function descEnd(buf, at) {
  const kind = buf[at++];
  const limits = (p) => {
    const flags = buf[p++];
    [, p] = leb(buf, p);
    if (flags & 1) [, p] = leb(buf, p);
    return p;
  };
  switch (kind) {
    case 0: return leb(buf, at)[1]; // func: type index
    case 1: return limits(at + 1); // table: reftype, limits
    case 2: return limits(at); // memory
    case 3: return at + 2; // global: valtype, mutability
    case 4: return leb(buf, at + 1)[1]; // tag: attribute, type index
    default: throw new Error(`unknown import kind ${kind}`);
  }
}

if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${wasmFile} is not wasm`);
const allGlue = [...glue.values()].join("\n");
let next = 0;
const fresh = () => {
  for (;;) {
    const s = `$${(next++).toString(36)}`;
    if (count(allGlue, word(s)) === 0) return s;
  }
};
const imports = new Map();
const exports = new Map();
const parts = [wasm.subarray(0, 8)];
let at = 8;
while (at < wasm.length) {
  const id = wasm[at];
  const [size, body] = leb(wasm, at + 1);
  const end = body + size;
  if (id !== 2 && id !== 7) {
    parts.push(wasm.subarray(at, end));
    at = end;
    continue;
  }
  let [n, p] = leb(wasm, body);
  const out = [uleb(n)];
  for (let i = 0; i < n; i++) {
    if (id === 2) {
      let module, field;
      [module, p] = name(wasm, p);
      [field, p] = name(wasm, p);
      const desc = p;
      p = descEnd(wasm, p);
      if (module === glueModule) {
        imports.set(field, fresh());
        field = imports.get(field);
      }
      out.push(str(module), str(field), wasm.subarray(desc, p));
    } else {
      let field;
      [field, p] = name(wasm, p);
      const desc = p;
      p = leb(wasm, p + 1)[1];
      const internal = field !== "memory" && !field.startsWith("__kmsenv_");
      // wasm-bindgen's own names (all with a `_`), used as `wasm.NAME`: only those uses change
      // (a local wrapper of the same name keeps it; esbuild shortens it anyway).
      if (internal && field.includes("_") && count(allGlue, property(field)) > 0) {
        exports.set(field, fresh());
        field = exports.get(field);
      }
      out.push(str(field), wasm.subarray(desc, p));
    }
  }
  if (p !== end) throw new Error(`section ${id} not fully read`);
  const content = Buffer.concat(out);
  parts.push(Buffer.from([id]), uleb(content.length), content);
  at = end;
}
if (imports.size === 0) throw new Error(`no imports from ${glueModule} in ${wasmFile}`);

for (const [old, short] of imports) {
  let found = 0;
  for (const [f, text] of glue) glue.set(f, text.replace(word(old), () => (found++, short)));
  if (found === 0) throw new Error(`import ${old} not found in the glue`);
}
for (const [old, short] of exports) {
  for (const [f, text] of glue) glue.set(f, text.replace(property(old), short));
  // `readonly NAME:` (InitOutput) and `export const NAME:` (the wasm's own .d.ts).
  const decl = new RegExp(`(?<=(?:readonly|export const) )${esc(old)}(?=:)`, "g");
  for (const [f, text] of types) types.set(f, text.replace(decl, short));
}
for (const [f, text] of [...glue, ...types]) fs.writeFileSync(path.join(dir, f), text);
fs.writeFileSync(wasmFile, Buffer.concat(parts));
console.log(`${path.basename(dir)}: ${imports.size} imports and ${exports.size} exports renamed`);
