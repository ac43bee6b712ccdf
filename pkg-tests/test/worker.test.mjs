// The `web` target inside a dedicated module Worker (no window): one-shot, streams, blobs,
// the KMS keyring over fetch, errors; and a message made in the worker opens in the page.
import { test as nodeTest, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../lib/server.mjs';
import { launch, openPage } from '../lib/browser.mjs';
import { startDevKms } from '../lib/devkms.mjs';

let server, browser, page, kms;

before(async () => {
  server = await serve();
  kms = await startDevKms({ seed: ['worker-tests'] });
  browser = await launch();
  page = await openPage(browser, `${server.url}/pages/worker.html`);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await kms?.stop();
});

const inWorker = (op, args) => page.evaluate(([op, args]) => window.inWorker(op, args), [op, args]);

/** Every test here also fails on a console error or uncaught exception in the page or worker. */
function test(name, fn) {
  nodeTest(name, { timeout: 120000 }, async () => {
    page.problems.length = 0;
    await fn();
    assert.deepEqual(page.problems, [], 'the page or worker reported errors');
  });
}

test('the worker has no window and no document, but has crypto.subtle', async () => {
  assert.deepEqual(await inWorker('environment'), { hasWindow: false, hasDocument: false, hasSubtle: true });
});

test('one-shot, stream and blob round trips work in a Worker with both suites and backends', async () => {
  const r = await inWorker('roundTrips');
  assert.equal(r.length, 2 * 2 * 5);
  for (const x of r) {
    assert.deepEqual({ oneShot: x.oneShot, streamed: x.streamed, blob: x.blob }, { oneShot: true, streamed: true, blob: true },
      `suite ${x.suite.toString(16)} ${x.backend} size ${x.size}`);
  }
  assert.deepEqual(page.problems, []);
});

test('a message encrypted in the Worker decrypts in the page', async () => {
  const ct = await inWorker('encryptForPage', { size: 123457 });
  const page2 = await openPage(browser, `${server.url}/pages/index.html`);
  try {
    const ok = await page2.evaluate(async (ct) => {
      const { KE, U } = window;
      const keyring = new KE.RawAesKeyring({ keyNamespace: 'worker', keyName: 'k', wrappingKey: U.gen(7, 32) });
      return U.equalBytes((await new KE.EnvelopeClient({ keyring }).decrypt(U.fromBase64(ct))).plaintext, U.gen(123457, 123457));
    }, ct);
    assert.equal(ok, true);
    assert.deepEqual(page2.problems, []);
  } finally {
    await page2.close();
  }
});

test('the KMS keyring works from a Worker (global fetch, dev KMS on loopback)', async () => {
  const keyArn = await kms.keyArn('worker-tests');
  const r = await inWorker('kms', { url: kms.url, keyArn });
  assert.equal(r.ok, true);
  assert.equal(r.metrics.kmsCalls, 2);
  assert.equal(r.metrics.kmsFailures, 0);
});

test('errors thrown in a Worker are EnvelopeErrors with codes', async () => {
  const r = await inWorker('errors');
  assert.equal(r.tamper.code, 'AUTHENTICATION_FAILED');
  assert.equal(r.aborted.code, 'ABORTED');
  assert.equal(r.invalid.code, 'INVALID_ARGUMENT');
  assert.match(r.invalid.message, /frameLength/);
  for (const e of Object.values(r)) assert.deepEqual([e.isError, e.name, e.guard], [true, 'EnvelopeError', true]);
  assert.deepEqual(page.problems, []);
});
