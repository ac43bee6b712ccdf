// Headless Chromium (Debian's /usr/bin/chromium, never a downloaded build) through
// playwright-core, with every page's console errors and uncaught exceptions recorded so a
// test can fail on them.
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { CHROMIUM, need } from './paths.mjs';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Launch a browser (its own fresh temporary profile). Close it in `after`. */
export async function launch() {
  need(CHROMIUM, 'install Debian chromium (scripts/pkg-tests.sh does)');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000 });
}

/**
 * Open `url` in a new page, wait for `window.harnessReady` (the harness pages set it once the
 * package is initialised) and collect console errors / page errors / failed requests in
 * `page.problems`. Call `assertClean(page)` at the end of each test.
 */
export async function openPage(browser, url, { ready = 'window.harnessReady === true', timeoutMs = 60000 } = {}) {
  const page = await browser.newPage();
  page.problems = [];
  page.log = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console.error: ${m.text()}`);
    else page.log.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`uncaught: ${e.stack || e}`));
  page.on('requestfailed', (r) => page.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.setDefaultTimeout(timeoutMs);
  await page.goto(url);
  await page.waitForFunction(`${ready} || window.harnessError !== undefined`, null, { timeout: timeoutMs });
  const err = await page.evaluate(() => window.harnessError);
  if (err !== undefined) throw new Error(`page failed to initialise: ${err}`);
  return page;
}

export function assertClean(page) {
  if (page.problems.length) {
    throw new Error(`the page reported errors:\n  ${page.problems.join('\n  ')}`);
  }
}

/** PIDs of this browser's renderer processes (CDP SystemInfo.getProcessInfo). */
export async function rendererPids(browser) {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
    return processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
  } finally {
    await cdp.detach();
  }
}

/** { rssKiB, hwmKiB } of a process from /proc/PID/status (hwm = peak resident set). */
export function memoryOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s) || [])[1] || 0);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** `pageTest(name, fn, timeout)` for the page `getPage()` returns: a test that also fails when
 *  that page logged a console error or threw while it ran. */
export function pageTestOf(getPage, defaultTimeout = 120000) {
  return (name, fn, timeout = defaultTimeout) =>
    test(name, { timeout }, async () => {
      const page = getPage();
      page.problems.length = 0;
      await fn();
      assert.deepEqual(page.problems, [], 'the page reported errors');
    });
}
