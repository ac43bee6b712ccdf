// The `bundler` target bundled by esbuild for the browser, with no Node shims, then run in
// headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';
import { HERE, PKG, need } from '../lib/paths.mjs';
import { serve } from '../lib/server.mjs';
import { launch, openPage } from '../lib/browser.mjs';
import { wasmEsmIntegration } from '../lib/esbuild-wasm-esm.mjs';

let outdir, build;

before(async () => {
  need(path.join(PKG.bundler, 'kms_envelope_bg.wasm'), 'run `bash scripts/build-pkg.sh bundler`');
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pkg-tests-bundle-'));
  build = await esbuild.build({
    entryPoints: [path.join(HERE, 'bundle', 'entry.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    outfile: path.join(outdir, 'app.js'),
    alias: { 'kms-envelope': PKG.bundler },
    plugins: [wasmEsmIntegration()],
    metafile: true,
    logLevel: 'silent',
  });
  fs.copyFileSync(path.join(HERE, 'bundle', 'index.html'), path.join(outdir, 'index.html'));
});

after(() => {
  if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
});

test('esbuild bundles the bundler target for the browser without warnings or Node built-ins', () => {
  assert.deepEqual(build.errors, []);
  assert.deepEqual(build.warnings.map((w) => w.text), []);
  const inputs = Object.keys(build.metafile.inputs);
  assert.ok(inputs.some((i) => i.includes('kms_envelope_bg.js')), 'the package glue is in the bundle');
  for (const i of inputs) assert.ok(!/^node:|^(fs|path|util|crypto|buffer|process)$/.test(i), `node built-in ${i}`);
});

test('the bundle references no Node shims (Buffer, process, require, __dirname)', () => {
  const js = fs.readFileSync(path.join(outdir, 'app.js'), 'utf8');
  for (const [what, re] of [['Buffer', /\bBuffer\b/], ['process', /\bprocess\s*\./], ['require(', /\brequire\s*\(/],
    ['__dirname', /__dirname/], ['node: imports', /["']node:/], ['global.', /\bglobal\./]]) {
    assert.ok(!re.test(js), `bundle mentions ${what}`);
  }
  const wasm = fs.readFileSync(path.join(outdir, 'kms_envelope_bg.wasm'));
  console.log(`# esbuild bundle: app.js ${js.length} B (gzip ${zlib.gzipSync(js, { level: 9 }).length} B) + wasm ${wasm.length} B (gzip ${zlib.gzipSync(wasm, { level: 9 }).length} B)`);
});

test('the esbuild bundle runs in Chromium: round trip and tamper detection with both backends', { timeout: 120000 }, async () => {
  const server = await serve({ '/bundle/': outdir });
  const browser = await launch();
  try {
    const page = await openPage(browser, `${server.url}/bundle/index.html`);
    const r = await page.evaluate(() => window.bundleResult);
    assert.deepEqual(r, { webcrypto: { ok: true, tamper: 'AUTHENTICATION_FAILED' }, rust: { ok: true, tamper: 'AUTHENTICATION_FAILED' } });
    assert.deepEqual(page.problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
