// Loads the `web` target like a user would, and exposes it to the tests as window.KE.
import init, * as KE from '/pkg/web/kms_envelope.js';
import * as U from './util.js';

try {
  const exports = await init();
  window.KE = KE;
  window.U = U;
  window.wasmMemory = exports.memory;
  window.harnessReady = true;
} catch (e) {
  window.harnessError = String((e && e.stack) || e);
}
