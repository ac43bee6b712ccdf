// Runs tests/web.rs in headless Chromium through `wasm-pack test --headless --chrome`, with the
// loopback servers it needs: a dev KMS (alias web-rs), a server that never answers, a closed
// port. Their URLs reach the test at compile time (option_env!). Everything started here is
// stopped on exit. Exit status: wasm-pack's.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './paths.mjs';
import { startDevKms } from './devkms.mjs';
import { hangingServer, closedPortUrl } from './hang.mjs';

const kms = await startDevKms({ seed: ['web-rs'] });
const hang = await hangingServer();
const closed = await closedPortUrl();
let child;
const stop = async () => { await kms.stop(); await hang.close(); };
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { child?.kill('SIGTERM'); stop().then(() => process.exit(130)); });

const env = {
  ...process.env,
  KMS_MOCK_URL: kms.url,
  KMS_HANG_URL: hang.url,
  KMS_CLOSED_URL: closed,
  CHROMEDRIVER: process.env.CHROMEDRIVER || '/usr/bin/chromedriver',
  CARGO_TARGET_DIR: process.env.WEB_RS_TARGET_DIR || path.join(ROOT, 'target', 'web-rs'),
  WASM_BINDGEN_TEST_TIMEOUT: process.env.WASM_BINDGEN_TEST_TIMEOUT || '120',
};
child = spawn('wasm-pack', ['test', '--headless', '--chrome', path.join(ROOT, 'pkg-tests', 'web-rs')], { env, stdio: 'inherit', cwd: ROOT });
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stop();
process.exit(code);
