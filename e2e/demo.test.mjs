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

async function shot(name, fullPage = true) {
  shotNo += 1;
  const path = join(OUT, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.evaluate(() => document.querySelectorAll(".toast").forEach((t) => t.remove())); // transient notices
  await page.screenshot({ path, fullPage });
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
  // Headless Chromium has the File System Access API but no one to click its dialogs: with
  // ?save=fsa the pickers return real handles in the origin-private file system instead.
  await context.addInitScript(() => {
    if (!location.search.includes("save=fsa")) return;
    const root = () => navigator.storage.getDirectory();
    window.showSaveFilePicker = async ({ suggestedName }) => (await root()).getFileHandle(suggestedName, { create: true });
    window.showDirectoryPicker = async () => (await root()).getDirectoryHandle("picked", { create: true });
  });
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

const jobCount = (list) => page.locator(`${list} li.job`).count();

// Wait for the newest job in `list` (there must be more than `before` jobs) to finish.
async function waitJob(list, before = 0, timeout = TIMEOUT) {
  const job = page.locator(`${list} li.job`).first();
  await page.waitForFunction(([sel, n]) => {
    const all = document.querySelectorAll(`${sel} li.job`);
    return all.length > n && ["done", "error", "cancelled"].includes(all[0].dataset.state);
  }, [list, before], { timeout });
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
  const before = await jobCount("#enc-jobs");
  await page.click("#enc-go");
  return waitJob("#enc-jobs", before);
}

async function openPage(query) {
  await page.goto(`${web}/${query}`);
  await page.locator("body[data-ready]").waitFor();
  await page.locator(`#keys-list li[data-arn="${arn}"][data-state="Enabled"]`).waitFor();
}

// A file in the page's origin-private file system, downloaded out of the browser.
async function opfsFileOut(path, dest) {
  const [dl] = await Promise.all([
    page.waitForEvent("download"),
    page.evaluate(async (parts) => {
      let dir = await navigator.storage.getDirectory();
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
      const file = await (await dir.getFileHandle(parts.at(-1))).getFile();
      const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(file), download: file.name });
      document.body.append(a);
      a.click();
      a.remove();
    }, path.split("/")),
  ]);
  await dl.saveAs(dest);
}

async function opfsHas(path) {
  return page.evaluate(async (parts) => {
    let dir = await navigator.storage.getDirectory();
    try {
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
      await dir.getFileHandle(parts.at(-1));
      return true;
    } catch (e) {
      if (e.name === "NotFoundError") return false;
      throw e;
    }
  }, path.split("/"));
}

const cliDecrypt = (input, output) =>
  execFileSync(CLI, ["decrypt", "--in", input, "--out", output, "--kms-key", arn, "--kms-endpoint", kms, "--region", "us-east-1"], { stdio: ["ignore", "pipe", "pipe"] });

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
  const before = await jobCount("#dec-jobs");
  await page.click("#dec-go");
  return waitJob("#dec-jobs", before);
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
  const { job, state } = await waitJob("#enc-jobs", 0);
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
  // A required pair the file doesn't store at all: it is checked against the header's tag.
  const absent = await decrypt(encrypted, { project: "apollo" });
  console.log(`required pair absent from the file: ${absent.code}`);
  assert.ok(["KMS_INVALID_CIPHERTEXT", "AUTHENTICATION_FAILED", "CONTEXT_MISMATCH"].includes(absent.code), absent.code);
  assert.match(await absent.job.locator(".error-box").textContent(), /context you require doesn't match.*“project”/s);
  await shot("error-required-pair-absent");
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

// Drop files on a zone as a person's drag and drop does (a DataTransfer carrying File objects).
async function dropFiles(zone, files) {
  await page.evaluate(([sel, list]) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    const el = document.querySelector(sel);
    for (const type of ["dragenter", "dragover", "drop"]) el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [zone, files.map(([name, bytes]) => ({ name, b64: Buffer.from(bytes).toString("base64") }))]);
}

test("drag and drop: files dropped on the zones are encrypted, and an encrypted one shows its header", async () => {
  step = "drop";
  await dropFiles("#enc-drop", [["dropped-1.txt", "first dropped file\n"], ["dropped-2.txt", "second dropped file\n"]]);
  assert.equal(await page.locator("#enc-selected li").count(), 2);
  assert.equal(await page.locator("#enc-go").textContent(), "Encrypt 2 files");
  const before = await jobCount("#enc-jobs");
  await page.click("#enc-go");
  await page.waitForFunction((n) => [...document.querySelectorAll("#enc-jobs li.job")].slice(0, 2).every((li) => li.dataset.state === "done") && document.querySelectorAll("#enc-jobs li.job").length === n + 2, before);
  await dropFiles("#dec-drop", [["quarterly report.bin.encrypted", readFileSync(encrypted)]]);
  await page.locator("#dec-header").waitFor({ state: "visible" });
  assert.match(await page.locator("#dec-header").textContent(), /quarterly report\.bin\.encrypted/);
});

test("keyboard and labels: every control has a name and Tab reaches the main controls", async () => {
  step = "keyboard";
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, button, a[href]")]
      .filter((el) => !el.closest("[hidden]"))
      .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim() || el.title))
      .map((el) => el.outerHTML.slice(0, 100)),
  );
  assert.deepEqual(unnamed, []);
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  const seen = new Set();
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    seen.add(await page.evaluate(() => { const el = document.activeElement; return el.id || el.dataset.action || el.className || el.tagName; }));
  }
  for (const want of ["enc-files", "enc-key", "enc-suite", "dec-file", "disable", "rotate", "new-alias", "audit-all"]) {
    assert.ok(seen.has(want), `Tab reaches ${want}: ${[...seen].join(", ")}`);
  }
  await page.locator("#enc-files").focus();
  await shot("keyboard-focus");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot("narrow-screen", false);
  await page.setViewportSize({ width: 1360, height: 1000 });
});

test("many files at once, a large one among them, streamed to disk (File System Access API); the page stays responsive", async () => {
  step = "fsa-many";
  await openPage("?save=fsa");
  assert.match(await page.locator("#save-mode").textContent(), /straight to disk/);
  const big = join(tmp, "big.bin");
  writeFileSync(big, randomBytes(96 * 1024 * 1024));
  const a = join(tmp, "a.txt"), b = join(tmp, "b.csv");
  writeFileSync(a, "alpha\n");
  writeFileSync(b, "x,y\n1,2\n");
  await page.setInputFiles("#enc-files", [big, a, b]);
  assert.equal(await page.locator("#enc-go").textContent(), "Encrypt 3 files");
  // The longest gap between 20 ms timer ticks on the page's main thread while the worker encrypts.
  await page.evaluate(() => {
    window.__gap = 0;
    let last = performance.now();
    window.__tick = setInterval(() => { const now = performance.now(); window.__gap = Math.max(window.__gap, now - last); last = now; }, 20);
  });
  await page.click("#enc-go");
  await page.waitForFunction(() => document.querySelectorAll('#enc-jobs li.job[data-state="done"]').length === 3, null, { timeout: 180_000 });
  const gap = await page.evaluate(() => { clearInterval(window.__tick); return window.__gap; });
  const bigJob = page.locator("#enc-jobs li.job", { hasText: "big.bin" });
  const rate = await bigJob.locator(".job-rate").textContent();
  console.log(`96 MiB encrypted to disk: ${rate}; longest main-thread gap ${gap.toFixed(0)} ms`);
  assert.ok(gap < 1000, `main thread blocked for ${gap} ms`);
  assert.match(await bigJob.locator(".job-status").textContent(), /Saved to big\.bin\.encrypted/);
  await shot("fsa-many-files");
  for (const [name, src] of [["big.bin", big], ["a.txt", a], ["b.csv", b]]) {
    const enc = join(tmp, `fsa-${name}.encrypted`), dec = join(tmp, `fsa-${name}`);
    await opfsFileOut(`picked/${name}.encrypted`, enc);
    cliDecrypt(enc, dec);
    assert.equal(sha256(dec), sha256(src), name);
  }
  rmSync(big);
});

test("a failed decryption to disk leaves no file behind", async () => {
  step = "fsa-discard";
  const { job, code } = await decrypt(join(tmp, "tampered.bin.encrypted"));
  assert.equal(code, "AUTHENTICATION_FAILED");
  assert.equal(await job.locator("a[data-save]").count(), 0);
  assert.equal(await opfsHas("tampered.bin"), false, "the partly written file was removed");
  // and a good one lands on disk
  const ok = await decrypt(encrypted, { department: "finance" });
  assert.equal(ok.state, "done");
  const out = join(tmp, "fsa-roundtrip.bin");
  await opfsFileOut("quarterly report.bin", out);
  assert.equal(sha256(out), sha256(plain));
  await shot("fsa-discard");
});

test("without the File System Access API: a streamed download (service worker); a failure cancels it", async () => {
  step = "stream";
  await openPage("?save=stream");
  assert.match(await page.locator("#save-mode").textContent(), /streamed/);
  const mid = join(tmp, "streamed.bin"); // 32 MiB: several 4 MiB pieces
  writeFileSync(mid, randomBytes(32 * 1024 * 1024 + 7));
  await page.setInputFiles("#enc-files", mid);
  const before = await jobCount("#enc-jobs");
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.click("#enc-go")]);
  assert.equal(dl.suggestedFilename(), "streamed.bin.encrypted");
  const enc = join(tmp, "streamed.bin.encrypted");
  await dl.saveAs(enc);
  assert.equal((await waitJob("#enc-jobs", before)).state, "done");
  const dec = join(tmp, "streamed-roundtrip.bin");
  cliDecrypt(enc, dec);
  assert.equal(sha256(dec), sha256(mid));
  // Damage past the first 4 MiB: verified frames before it stream out (the download starts),
  // then the damaged frame fails the job and the browser marks the download failed.
  const bytes = readFileSync(enc);
  bytes[bytes.length - 300 * 1024] ^= 0x01;
  const tampered = join(tmp, "streamed-tampered.bin.encrypted");
  writeFileSync(tampered, bytes);
  const downloads = [];
  const onDownload = (d) => downloads.push(d);
  page.on("download", onDownload);
  const { code } = await decrypt(tampered);
  assert.equal(code, "AUTHENTICATION_FAILED");
  for (let i = 0; i < 20 && !downloads.length; i++) await page.waitForTimeout(100);
  page.off("download", onDownload);
  assert.equal(downloads.length, 1, "the download had started");
  assert.ok(await downloads[0].failure(), "and it ended failed, not saved");
  assert.equal(await page.locator("#dec-jobs li.job").first().locator("a[data-save]").count(), 0);
  await shot("stream-download");
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
  const expected = consoleErrors.filter((e) => EXPECTED[e.step] && EXPECTED[e.step].test(e.text));
  console.log(`console errors: ${consoleErrors.length} (${expected.length} expected network lines of provoked KMS failures)`);
  const unexpected = consoleErrors.filter((e) => !(EXPECTED[e.step] && EXPECTED[e.step].test(e.text)));
  assert.deepEqual(unexpected, [], JSON.stringify(unexpected, null, 2));
  const shots = readdirSync(OUT).filter((f) => f.endsWith(".png"));
  assert.ok(shots.length >= 12, `screenshots: ${shots.length}`);
  console.log(`screenshots in ${OUT}:\n  ${shots.join("\n  ")}`);
});
