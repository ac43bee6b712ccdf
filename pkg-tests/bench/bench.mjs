// Prints (never asserts) the package's size and throughput:
//   - gzip -9 size of wasm + JS glue for each target;
//   - MB/s (10^6 bytes/s) of one-shot encrypt/decrypt of PKG_BENCH_MIB (default 64) MiB in headless
//     Chromium, suites 0x0478/0x0578 × backends webcrypto/rust, next to raw WebCrypto AES-GCM
//     (64 KiB calls) measured in the same page.
// Usage: node pkg-tests/bench/bench.mjs
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { PKG } from '../lib/paths.mjs';
import { serve } from '../lib/server.mjs';
import { launch, openPage } from '../lib/browser.mjs';

const MiB = 1 << 20;
const size = Number(process.env.PKG_BENCH_MIB || 64) * MiB;

console.log('package size (gzip -9):');
for (const [target, dir] of Object.entries(PKG)) {
  const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(dir, f)), { level: 9 }).length;
  const raw = (f) => fs.statSync(path.join(dir, f)).size;
  const glue = fs.readdirSync(dir).filter((f) => f.endsWith('.js'));
  const wasm = 'kms_envelope_bg.wasm';
  const glueRaw = glue.reduce((n, f) => n + raw(f), 0), glueGz = glue.reduce((n, f) => n + gz(f), 0);
  console.log(`  ${target.padEnd(8)} wasm ${raw(wasm)} B (gzip ${gz(wasm)} B) + glue ${glue.join('+')} ${glueRaw} B (gzip ${glueGz} B) = gzip ${gz(wasm) + glueGz} B`);
}

const server = await serve();
const browser = await launch();
try {
  const page = await openPage(browser, `${server.url}/pages/index.html`, { timeoutMs: 600000 });
  const rows = await page.evaluate(async (size) => (await import('/pages/bench.js')).bench(window.KE, size), size);
  console.log(`\nthroughput, ${size / MiB} MiB one-shot, headless Chromium (${browser.version()}), MB/s:`);
  console.log(`  ${'what'.padEnd(52)} ${'encrypt'.padStart(8)} ${'decrypt'.padStart(8)}`);
  for (const r of rows) console.log(`  ${r.what.padEnd(52)} ${String(r.encryptMBps).padStart(8)} ${String(r.decryptMBps ?? '-').padStart(8)}`);
  if (page.problems.length) throw new Error(page.problems.join('\n'));
} finally {
  await browser.close();
  await server.close();
}
