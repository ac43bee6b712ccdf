// End-to-end test of the demo page against the real dev KMS, in Debian's Chromium driven by
// playwright-core. It starts the main command itself (scripts/demo.sh on free ports with a fresh
// data dir), drives the page like a person, and checks the results outside the browser with the
// CLI and the Python AWS Encryption SDK. Screenshots of each state: test-output/e2e/*.png.
//
// Run: bash scripts/e2e.sh (builds and installs first), or `node --test e2e/demo.test.mjs` once
// target/release/{kms-envelope,kms-dev-server}, pkg/web and .venv exist.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = process.env.E2E_OUTPUT || join(ROOT, "test-output", "e2e");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CLI = join(ROOT, "target", "release", "kms-envelope");
const PYTHON = join(ROOT, ".venv", "bin", "python");
const TIMEOUT = 30_000;

const tmp = mkdtempSync(join(tmpdir(), "kms-envelope-e2e-"));
let demo, web, kms, kmsPid, browser, page;
let step = "startup";
const consoleErrors = []; // { step, text, url }
let shotNo = 0;

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

async function shot(name) {
  shotNo += 1;
  const path = join(OUT, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

function startDemo() {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, KMS_PORT: "0", WEB_PORT: "0", DEMO_DATA_DIR: join(tmp, "kms-data"), DEMO_SKIP_BUILD: process.env.DEMO_SKIP_BUILD ?? "1" };
    const child = spawn("bash", [join(ROOT, "scripts", "demo.sh")], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    const timer = setTimeout(() => reject(new Error(`demo.sh not ready after 10 min\n${out}\n${err}`)), 600_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/demo ready: web=(\S+) kms=(\S+) kms_pid=(\d+) seconds=(\S+)/);
      if (m) { clearTimeout(timer); resolve({ child, web: m[1], kms: m[2], kmsPid: Number(m[3]), seconds: Number(m[4]) }); }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`demo.sh exited (${code}) before ready\n${out}\n${err}`)); });
  });
}

// Browser console errors are failures, except the browser's own network lines for KMS refusals
// that a step provokes on purpose (a disabled key answers 400; a stopped KMS refuses connections).
const EXPECTED = {
  "disabled-key": /status of 400/,
  "pending-deletion": /status of 400/,
  "kms-unreachable": /ERR_CONNECTION_REFUSED|Failed to fetch/,
};

before(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  ({ child: demo, web, kms, kmsPid } = await startDemo());
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1360, height: 1000 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const onConsole = (where) => (m) => { if (m.type() === "error") consoleErrors.push({ step, where, text: m.text(), url: m.location()?.url }); };
  page.on("console", onConsole("page"));
  page.on("worker", (w) => w.on("console", onConsole(`worker ${w.url()}`)));
  page.on("pageerror", (e) => consoleErrors.push({ step, text: `pageerror: ${e.message}` }));
  page.on("crash", () => consoleErrors.push({ step, text: "page crashed" }));
});

after(async () => {
  await browser?.close().catch(() => {});
  if (demo && demo.exitCode === null) {
    try { process.kill(-demo.pid, "SIGTERM"); } catch { /* already gone */ }
    await new Promise((r) => { demo.once("exit", r); setTimeout(r, 5000); });
  }
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- page helpers

const keyLi = (arn) => page.locator(`#keys-list li[data-arn="${arn}"]`);

async function waitJob(list) {
  const job = page.locator(`${list} li.job`).first();
  await page.waitForFunction((sel) => {
    const li = document.querySelector(`${sel} li.job`);
    return li && ["done", "error", "cancelled"].includes(li.dataset.state);
  }, list, { timeout: TIMEOUT });
  const state = await job.getAttribute("data-state");
  const code = state === "error" ? await job.locator(".error-box").getAttribute("data-code") : null;
  return { job, state, code };
}

async function saveDownload(job, dest) {
  const link = job.locator("a[data-save]");
  const [dl] = await Promise.all([page.waitForEvent("download"), link.click()]);
  await dl.saveAs(dest);
  return dl.suggestedFilename();
}

async function encrypt(path) {
  await page.setInputFiles("#enc-files", path);
  await page.click("#enc-go");
  return waitJob("#enc-jobs");
}

async function openEncrypted(path) {
  await page.setInputFiles("#dec-file", path);
  await page.locator("#dec-header").waitFor({ state: "visible" });
}

async function setRequired(pairs) {
  for (;;) {
    const remove = page.locator("#dec-ctx .ctx-row button");
    if (!(await remove.count())) break;
    await remove.first().click();
  }
  for (const [k, v] of Object.entries(pairs)) {
    await page.click("#dec-ctx [data-add]");
    await page.locator("#dec-ctx .ctx-row .ctx-key").last().fill(k);
    await page.locator("#dec-ctx .ctx-row .ctx-val").last().fill(v);
  }
}

async function decrypt(path, pairs = {}) {
  await openEncrypted(path);
  await setRequired(pairs);
  await page.click("#dec-go");
  return waitJob("#dec-jobs");
}

async function keyAction(arn, action, expectState) {
  await keyLi(arn).locator(`[data-action="${action}"]`).click();
  if (action === "schedule-deletion") await keyLi(arn).locator('[data-action="confirm-deletion"]').click();
  await page.locator(`#keys-list li[data-arn="${arn}"][data-state="${expectState}"]`).waitFor();
}

// ---------------------------------------------------------------- the scenario

const plain = join(tmp, "quarterly report.bin");
const encrypted = join(tmp, "quarterly report.bin.encrypted");
const CONTEXT = { department: "finance", purpose: "quarterly-report" };
let arn;

test("the page loads and shows the seeded key", async () => {
  step = "load";
  await page.goto(`${web}/?save=memory`);
  await page.locator("body[data-ready]").waitFor();
  await page.locator("#kms-pill[data-state=ok]").waitFor();
  const li = page.locator("#keys-list li.key", { hasText: "alias/demo" });
  await li.waitFor();
  arn = await li.getAttribute("data-arn");
  assert.match(arn, /^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
  assert.equal(await li.getAttribute("data-state"), "Enabled");
  assert.equal(await page.locator("#kms-endpoint").textContent(), kms);
  await shot("ready");
});

test("encrypt a file through the UI and download NAME.encrypted", async () => {
  step = "encrypt";
  writeFileSync(plain, randomBytes(3 * 1024 * 1024 + 12345)); // several 64 KiB frames, a short last one
  await page.setInputFiles("#enc-files", plain);
  await page.locator("#enc-selected li").waitFor();
  await shot("encrypt-selected");
  await page.click("#enc-go");
  const { job, state } = await waitJob("#enc-jobs");
  assert.equal(state, "done");
  assert.match(await job.locator(".job-rate").textContent(), /B\/s/);
  assert.equal(await saveDownload(job, encrypted), "quarterly report.bin.encrypted");
  const head = readFileSync(encrypted).subarray(0, 3);
  assert.deepEqual([...head], [0x02, 0x05, 0x78]); // v2, suite 0x0578
  await page.locator('#audit-rows tr[data-op="GenerateDataKey"]', { hasText: "department=finance" }).first().waitFor();
  await shot("encrypted");
});

test("the header is shown before decrypting", async () => {
  step = "header";
  await openEncrypted(encrypted);
  const view = page.locator("#dec-header");
  const text = await view.textContent();
  assert.match(text, /0x0578/);
  assert.match(text, /department/);
  assert.match(text, /finance/);
  assert.match(text, /quarterly-report/);
  const edk = view.locator(`.edk[data-arn="${arn}"]`);
  assert.match(await edk.textContent(), /alias\/demo/);
  assert.match(await edk.textContent(), /Enabled/i);
  await shot("header");
});

test("decrypt it back in the page: the same bytes", async () => {
  step = "decrypt";
  const { job, state } = await decrypt(encrypted, { department: "finance" });
  assert.equal(state, "done");
  const out = join(tmp, "roundtrip-page.bin");
  assert.equal(await saveDownload(job, out), "quarterly report.bin");
  assert.equal(sha256(out), sha256(plain));
  await shot("decrypted");
});

test("a wrong required context is refused with a readable error", async () => {
  step = "wrong-context";
  const { job, code } = await decrypt(encrypted, { department: "marketing" });
  assert.equal(code, "CONTEXT_MISMATCH");
  assert.match(await job.locator(".error-box").textContent(), /encryption context doesn't match/);
  assert.equal(await job.locator("a[data-save]").count(), 0, "no download offered");
  await shot("error-wrong-context");
});

test("a tampered byte is refused and nothing is offered", async () => {
  step = "tampered";
  const bytes = readFileSync(encrypted);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  const tampered = join(tmp, "tampered.bin.encrypted");
  writeFileSync(tampered, bytes);
  const { job, code } = await decrypt(tampered);
  assert.equal(code, "AUTHENTICATION_FAILED");
  assert.match(await job.locator(".error-box").textContent(), /altered or damaged/);
  assert.equal(await job.locator("a[data-save]").count(), 0, "no download offered");
  await shot("error-tampered");
});

test("a file that is not an encrypted message is named as such", async () => {
  step = "wrong-file-type";
  const notes = join(tmp, "notes.txt");
  writeFileSync(notes, "Just some plain text, not an encrypted file.\n".repeat(20));
  await page.setInputFiles("#dec-file", notes);
  const box = page.locator("#dec-parse-error .error-box");
  await box.waitFor();
  assert.equal(await box.getAttribute("data-code"), "MALFORMED_MESSAGE");
  assert.ok(await page.locator("#dec-header").isHidden());
  await shot("error-wrong-file-type");
});

test("disable the key: decrypt shows the disabled-key error", async () => {
  step = "disabled-key";
  await keyAction(arn, "disable", "Disabled");
  const { job, code } = await decrypt(encrypted);
  assert.equal(code, "KMS_KEY_UNAVAILABLE");
  assert.match(await job.locator(".error-box").textContent(), /disabled/);
  await page.locator('#audit-rows tr[data-op="Decrypt"][data-outcome="error"]').first().waitFor();
  await shot("error-disabled-key");
});

test("re-enable the key: decrypt works again", async () => {
  step = "re-enabled";
  await keyAction(arn, "enable", "Enabled");
  const { job, state } = await decrypt(encrypted, CONTEXT);
  assert.equal(state, "done");
  const out = join(tmp, "roundtrip-reenabled.bin");
  await saveDownload(job, out);
  assert.equal(sha256(out), sha256(plain));
  await shot("re-enabled");
});

test("schedule deletion: decrypt says the key is pending deletion; cancel and enable restores it", async () => {
  step = "pending-deletion";
  await keyAction(arn, "schedule-deletion", "PendingDeletion");
  const { job, code } = await decrypt(encrypted);
  assert.equal(code, "KMS_KEY_UNAVAILABLE");
  assert.match(await job.locator(".error-box").textContent(), /scheduled for deletion/);
  await shot("error-pending-deletion");
  step = "restore";
  await keyAction(arn, "cancel-deletion", "Disabled");
  await keyAction(arn, "enable", "Enabled");
});

test("the page-encrypted file decrypts with the kms-envelope CLI", () => {
  step = "cli";
  const out = join(tmp, "roundtrip-cli.bin");
  execFileSync(CLI, ["decrypt", "--in", encrypted, "--out", out, "--kms-key", arn, "--kms-endpoint", kms, "--region", "us-east-1",
    "--require-context", "department=finance"], { stdio: ["ignore", "pipe", "pipe"] });
  assert.equal(sha256(out), sha256(plain));
});

test("the page-encrypted file decrypts with the Python AWS Encryption SDK", () => {
  step = "python-esdk";
  const out = join(tmp, "roundtrip-esdk.bin");
  const ctx = JSON.parse(execFileSync(PYTHON, [join(ROOT, "e2e", "esdk_decrypt.py"), encrypted, out, arn, kms, JSON.stringify(CONTEXT)], { encoding: "utf8" }));
  assert.equal(ctx.department, "finance");
  assert.equal(sha256(out), sha256(plain));
});

test("key lifecycle: create a key, rotate it, encrypt under it; audit log and metrics show it all", async () => {
  step = "lifecycle";
  await page.fill("#new-alias", "e2e-archive");
  await page.click("#create-key button[type=submit]");
  const li = page.locator("#keys-list li.key", { hasText: "alias/e2e-archive" });
  await li.waitFor();
  const newArn = await li.getAttribute("data-arn");
  await li.locator('[data-action="rotate"]').click();
  await li.locator(".key-rot", { hasText: "rotated 1×" }).waitFor();
  await page.selectOption("#enc-key", newArn);
  await page.selectOption("#enc-suite", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY");
  const small = join(tmp, "small.txt");
  writeFileSync(small, "hello from the e2e test\n");
  const { job, state } = await encrypt(small);
  assert.equal(state, "done");
  const smallEnc = join(tmp, "small.txt.encrypted");
  await saveDownload(job, smallEnc);
  assert.deepEqual([...readFileSync(smallEnc).subarray(0, 3)], [0x02, 0x04, 0x78]);
  // The audit log names the callers (this browser, the CLI, Python) and the context they sent.
  await page.locator('#audit-rows tr[data-op="RotateKeyOnDemand"]').first().waitFor();
  const audit = await page.locator("#audit-rows").textContent();
  assert.match(audit, /browser/);
  assert.match(audit, /kms-envelope CLI|Python/);
  const calls = Number(await page.locator("#metrics-list .stat", { hasText: "KMS calls" }).locator("dd").textContent());
  assert.ok(calls >= 6, `metrics count KMS calls (${calls})`);
  await page.locator("#audit").scrollIntoViewIfNeeded();
  await shot("lifecycle-audit-metrics");
});

test("KMS unreachable: the page says so", async () => {
  step = "kms-unreachable";
  process.kill(kmsPid, "SIGTERM");
  await page.locator("#kms-pill[data-state=down]").waitFor();
  await page.selectOption("#enc-key", arn);
  const small = join(tmp, "after-kms-stopped.txt");
  writeFileSync(small, "the KMS is gone\n");
  const { job, code } = await encrypt(small);
  assert.ok(["KMS_NETWORK", "KMS_TIMEOUT"].includes(code), code);
  assert.match(await job.locator(".error-box").textContent(), /Can't reach the KMS|took too long/);
  await shot("error-kms-unreachable");
});

test("no unexpected console errors", () => {
  const unexpected = consoleErrors.filter((e) => !(EXPECTED[e.step] && EXPECTED[e.step].test(e.text)));
  assert.deepEqual(unexpected, [], JSON.stringify(unexpected, null, 2));
  const shots = readdirSync(OUT).filter((f) => f.endsWith(".png"));
  assert.ok(shots.length >= 12, `screenshots: ${shots.length}`);
  console.log(`screenshots in ${OUT}:\n  ${shots.join("\n  ")}`);
});
