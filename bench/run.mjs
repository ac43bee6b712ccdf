#!/usr/bin/env node
// Side-by-side benchmark driver: bundles the official SDK, serves the page on 127.0.0.1,
// starts the dev KMS, runs bench/page/bench.js in headless Chromium (one page load), reads the
// renderer's RSS from /proc, measures bundle sizes, and writes bench/RESULTS.md (+ results.json).
// Run through scripts/bench.sh, which builds what this needs first.
//
//   node bench/run.mjs [--quick] [--only=REGEX] [--runs=N] [--paired-runs=N] [--sizes=64,256] [--big=1024]
//                      [--no-kms] [--profile=REGEX] [--out=FILE] [--json=FILE]
//
// --quick: 64 MiB only, 3 runs, no 1 GiB case (for iterating; RESULTS.md wants the full run).
// --profile=REGEX: record a Chromium CPU profile (CDP) of the matching cases and print the
// functions with the most self time instead of writing RESULTS.md.

import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const DIST = path.join(BENCH, "dist");
const MiB = 1 << 20;

// ----- options ------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const value = (name, dflt) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const quick = flag("quick");
const cfg = {
  runs: Number(value("runs", quick ? 3 : 5)),
  // The targets rest on the paired rounds: more of them, so one slow spell moves no median.
  pairedRuns: Number(value("paired-runs", quick ? 3 : 9)),
  sizes: value("sizes", quick ? "64" : "64,256").split(",").map(Number),
  bigMiB: Number(value("big", quick ? 0 : 1024)),
  bigRuns: 3,
  only: value("only", null),
  paired: !flag("no-paired"),
  kms: null,
};
const profile = value("profile", null);
const outFile = value("out", path.join(BENCH, "RESULTS.md"));
const jsonFile = value("json", path.join(BENCH, "results.json"));
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (cfg.runs < 1 || !(cfg.pairedRuns >= 1) || cfg.sizes.some((s) => !(s > 0))) throw new Error("bad --runs, --paired-runs or --sizes");

const say = (...a) => console.error("==>", ...a);
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const startLoad = loadavg();
const startedAt = new Date();

// ----- bundles ------------------------------------------------------------------------------
fs.mkdirSync(DIST, { recursive: true });
async function bundle(entry, outName, format) {
  const outfile = path.join(DIST, outName);
  await esbuild.build({
    entryPoints: [path.join(BENCH, "entries", entry)],
    bundle: true,
    minify: true,
    platform: "browser",
    format,
    target: "es2020",
    outfile,
    logLevel: "warning",
    legalComments: "none",
    inject: [path.join(BENCH, "entries", "buffer-shim.js")],
  });
  return outfile;
}
const sizeOf = (buf) => ({
  raw: buf.length,
  gzip: zlib.gzipSync(buf, { level: 9 }).length,
  brotli: zlib.brotliCompressSync(buf, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
  }).length,
});
say("bundling @aws-crypto/client-browser with esbuild");
await bundle("aws-sdk-page.js", "aws-sdk-page.js", "iife");
const sdkMin = await bundle("aws-sdk-min.js", "aws-sdk-min.js", "esm");
const sdkKms = await bundle("aws-sdk-kms.js", "aws-sdk-kms.js", "esm");
// BENCH_PKG: serve another build of the package as /pkg/web (for A/B comparisons).
const PKG = path.resolve(process.env.BENCH_PKG || path.join(ROOT, "pkg/web"));
const pkgWasm = path.join(PKG, "kms_envelope_bg.wasm");
const pkgJs = path.join(PKG, "kms_envelope.js");
for (const f of [pkgWasm, pkgJs, path.join(DIST, "aes_raw_bench.wasm")]) {
  if (!fs.existsSync(f)) throw new Error(`${f} is missing: run scripts/bench.sh (it builds it)`);
}
// The glue and the JS snippets it imports (src/wasm/hash_worker.js): every file a page loads.
const jsFiles = [pkgJs];
const walk = (d) => {
  for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
    const f = path.join(d, e.name);
    if (e.isDirectory()) walk(f);
    else if (f.endsWith(".js")) jsFiles.push(f);
  }
};
walk(path.join(PKG, "snippets"));
const jsSizes = jsFiles.map((f) => sizeOf(fs.readFileSync(f)));
const ours = {
  wasm: sizeOf(fs.readFileSync(pkgWasm)),
  // Every file compressed separately, as a server sends them.
  js: Object.fromEntries(["raw", "gzip", "brotli"].map((k) => [k, jsSizes.reduce((a, x) => a + x[k], 0)])),
  jsFiles: jsFiles.map((f) => path.relative(PKG, f)),
};
ours.total = Object.fromEntries(["raw", "gzip", "brotli"].map((k) => [k, ours.wasm[k] + ours.js[k]]));
const bundles = {
  ours,
  sdkMin: sizeOf(fs.readFileSync(sdkMin)),
  sdkKms: sizeOf(fs.readFileSync(sdkKms)),
  versions: JSON.parse(fs.readFileSync(path.join(BENCH, "node_modules/@aws-crypto/client-browser/package.json"))).version,
};

// ----- static server (127.0.0.1 only) -------------------------------------------------------
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const ALLOWED = ["/bench/page/", "/bench/dist/", "/pkg/web/"];
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const p = path.normalize(decodeURIComponent(url.pathname));
  if (!ALLOWED.some((a) => p.startsWith(a)) || p.includes("..")) {
    res.writeHead(404).end();
    return;
  }
  const file = p.startsWith("/pkg/web/") ? path.join(PKG, p.slice("/pkg/web/".length)) : path.join(ROOT, p);
  fs.readFile(file, (err, data) => {
    if (err) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream", "cache-control": "no-store" });
    res.end(data);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

// ----- dev KMS ------------------------------------------------------------------------------
let kmsProc = null;
let kmsDir = null;
const messages = Number(value("kms-messages", 30));
if (!flag("no-kms") && !profile) {
  const bin = path.join(ROOT, "target/release/kms-dev-server");
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/bench.sh (it builds it)`);
  kmsDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-kms-"));
  kmsProc = spawn(bin, ["--listen", "127.0.0.1:0", "--data-dir", kmsDir, "--seed-key", "bench"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Whatever happens later (a page error ends the run), the dev KMS goes with us.
  process.on("exit", () => {
    kmsProc?.kill("SIGTERM");
    fs.rmSync(kmsDir, { recursive: true, force: true });
  });
  const endpoint = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("kms-dev-server did not become ready")), 30000);
    kmsProc.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/kms-dev-server ready on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    kmsProc.on("exit", (c) => reject(new Error(`kms-dev-server exited (${c})`)));
  });
  const r = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "TrentService.DescribeKey" },
    body: JSON.stringify({ KeyId: "alias/bench" }),
  });
  const keyArn = (await r.json()).KeyMetadata.Arn;
  cfg.kms = { endpoint, keyArn, region: "us-east-1", messages };
}

// ----- browser ------------------------------------------------------------------------------
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-chromium-"));
process.on("exit", () => fs.rmSync(userDataDir, { recursive: true, force: true }));
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--js-flags=--expose-gc",
];
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: chromiumPath,
  headless: true,
  args: ARGS,
});
const browser = context.browser();
const page = context.pages()[0] ?? (await context.newPage());
page.on("console", (m) => {
  const t = m.text();
  if (t.startsWith("[bench]")) say(t.slice(8));
  else if (m.type() === "error" && !m.location()?.url?.endsWith("favicon.ico")) say("page error:", t);
});
page.on("pageerror", (e) => say("page exception:", e.message));

const readStatus = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m")) || [])[1]) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
};
const renderers = () => {
  const pids = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes("--type=renderer") && cmd.includes(userDataDir)) pids.push(Number(d));
    } catch {}
  }
  return pids;
};
// CPU time (ms) of the renderer's threads so far: its main thread, its Web Workers, the rest.
const threadCpu = (pid) => {
  const cpu = { main: 0, worker: 0, other: 0 };
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const ms = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      cpu[tid === String(pid) ? "main" : comm.startsWith("DedicatedWorker") ? "worker" : "other"] += ms;
    } catch {} // a thread that just ended
  }
  return cpu;
};
let rendererPid = null;
let cdp = null;
const profiles = [];
await page.exposeFunction("benchMem", async (what) => {
  if (rendererPid == null) return null;
  if (what === "reset") {
    fs.writeFileSync(`/proc/${rendererPid}/clear_refs`, "5"); // reset VmHWM to VmRSS
    return readStatus(rendererPid).rss;
  }
  if (what === "peak") return readStatus(rendererPid).hwm;
  if (what === "cpu") return threadCpu(rendererPid);
  if (what === "profile-start") {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
    return null;
  }
  if (what === "profile-stop") {
    const { profile: p } = await cdp.send("Profiler.stop");
    profiles.push(p);
    return null;
  }
  return null;
});

await page.goto(`${origin}/bench/page/index.html`);
await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60000 });
const pageFacts = await page.evaluate((c) => window.benchSetup(c), cfg);
// The page's renderer: the one holding the inputs just allocated.
const cands = renderers().map((pid) => ({ pid, ...readStatus(pid) }));
cands.sort((a, b) => b.rss - a.rss);
rendererPid = cands[0]?.pid ?? null;
say(`renderer pid ${rendererPid} (RSS ${(cands[0]?.rss / MiB).toFixed(0)} MiB of ${cands.length} renderer(s))`);

if (profile) {
  cdp = await context.newCDPSession(page);
  cfg.only = profile;
  cfg.profile = true;
  cfg.kms = null;
  cfg.bigMiB = 0;
}
const t0 = Date.now();
const results = await page.evaluate((c) => window.runBench(c), cfg);
const wallSeconds = (Date.now() - t0) / 1000;
const browserVersion = browser?.version() ?? "";
await context.close();
server.close();
if (kmsProc) kmsProc.kill("SIGTERM");
for (const d of [userDataDir, kmsDir]) if (d) fs.rmSync(d, { recursive: true, force: true });

if (profile) {
  summariseProfiles(profiles);
  process.exit(0);
}

// ----- report -------------------------------------------------------------------------------
const endLoad = loadavg();
const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
};
const cpu = (fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m) || [])[1] || "?";
const flags = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:\s*(.*)$/m)?.[1].split(" ") ?? [];
const facts = {
  date: startedAt.toISOString(),
  commit: sh("git", ["rev-parse", "--short", "HEAD"]) + (sh("git", ["status", "--porcelain", "--", "src", "Cargo.toml", "bench", "scripts"]) ? " (+ uncommitted changes)" : ""),
  package: path.relative(ROOT, PKG),
  cpu: `${cpu} × ${os.cpus().length} (AES-NI: ${flags.includes("aes") ? "yes" : "no"}, AVX2: ${flags.includes("avx2") ? "yes" : "no"})`,
  memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
  kernel: `${os.type()} ${os.release()}`,
  load: `${startLoad} at start, ${endLoad} at end (1/5/15 min)`,
  chromium: browserVersion,
  node: process.version,
  rustc: sh("rustc", ["--version"]),
  runs: `${cfg.runs} timed runs after a warm-up, median [min–max]; sizes ${cfg.sizes.join(", ")} MiB; wall ${wallSeconds.toFixed(0)} s`,
};

const byId = Object.fromEntries(results.cases.map((c) => [c.id, c]));
const get = (id, dir, size) => byId[id]?.results.find((r) => r.dir === dir && r.sizeMiB === size);
// The ceiling: the faster of the WebCrypto variants, per direction and size.
const ceiling = (dir, size) => {
  const rs = ["webcrypto-w1", "webcrypto-w8"].map((id) => get(id, dir, size)).filter(Boolean);
  return rs.length ? Math.max(...rs.map((r) => r.mbps)) : null;
};
// For the targets: the paired rounds' ceiling when there is one.
const ceilingT = (dir, size) =>
  results.paired?.find((r) => r.id === "webcrypto-w8" && r.sizeMiB === size)?.[dir]?.mbps ?? ceiling(dir, size);
// The official SDK at the same suite and frame length, when measured.
const officialFor = (c) => {
  if (c.group !== "envelope" && c.group !== "rawaes") return null;
  if (c.frame === 4096 && c.suite === 0x0578) return "official-defaults";
  if (c.frame === 65536 && c.suite === 0x0478) return "official-0478-64k";
  if (c.frame === 65536 && c.suite === 0x0578) return "official-0578-64k";
  return null;
};
const fmt = (x, d = 0) => (x == null || !isFinite(x) ? "–" : x.toFixed(d));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : "–");
const mib = (b) => (b == null ? "–" : `${(b / MiB).toFixed(0)}`);

const lines = [];
const P = (s = "") => lines.push(s);
P("# Benchmark results");
P();
P("Generated by `bash scripts/bench.sh` (bench/run.mjs); do not edit by hand. Noise is expected on");
P("a shared machine: medians with [min–max] over the timed runs. MB/s = 10^6 bytes of plaintext");
P("per second. Ratios divide medians from this same run: **× ceiling** by the faster raw WebCrypto");
P("variant, **× SDK** by `@aws-crypto/client-browser` at the same suite and frame length.");
P("**ΔRSS** is the renderer's peak RSS growth over the timed runs (VmHWM − VmRSS at the start, in MiB;");
P("inputs already allocated, so it counts the output and working memory).");
P();
P("## Machine");
P();
for (const [k, v] of Object.entries(facts)) P(`- **${k}**: ${v}`);
P();
P("## Throughput and memory");
P();
P("| case | MiB | encrypt MB/s | × ceiling | × SDK | ΔRSS | decrypt MB/s | × ceiling | × SDK | ΔRSS |");
P("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const c of results.cases) {
  for (const size of [...new Set(c.results.map((r) => r.sizeMiB))]) {
    const e = c.results.find((r) => r.dir === "encrypt" && r.sizeMiB === size);
    const d = c.results.find((r) => r.dir === "decrypt" && r.sizeMiB === size);
    const off = officialFor(c);
    const cell = (r) => (r?.error ? `failed: ${r.error.slice(0, 60)}` : r ? `${fmt(r.mbps)} [${fmt(r.minMbps)}–${fmt(r.maxMbps)}]` : "–");
    const cRatio = (r, dir) => (c.group === "ceiling" || c.group === "floor" ? "–" : ratio(r?.mbps, ceiling(dir, size)));
    const sRatio = (r, dir) => (off ? ratio(r?.mbps, get(off, dir, size)?.mbps) : "–");
    P(
      `| ${c.label} | ${size} | ${cell(e)} | ${cRatio(e, "encrypt")} | ${sRatio(e, "encrypt")} | ${mib(e?.rssGrowth)} | ${cell(d)} | ${cRatio(d, "decrypt")} | ${sRatio(d, "decrypt")} | ${mib(d?.rssGrowth)} |`,
    );
  }
}
for (const b of results.big) {
  P(`| ${b.label} | ${b.sizeMiB} | ${fmt(b.mbps)} [${fmt(b.minMbps)}–${fmt(b.maxMbps)}] | – | – | ${mib(b.rssGrowth)} | | | | |`);
}
P();
if (results.big.length) {
  P(`The ${cfg.bigMiB} MiB rows: ${cfg.bigRuns} runs, the source makes fresh 64 KiB buffers as a file stream would, the`);
  P("sink counts and drops what it gets. Their ΔRSS is mostly garbage the GC has not collected yet: the");
  P("reference row pushes the same source through raw WebCrypto and grows as much or more; the");
  P("\"GC forced\" rows run the same pipelines with a full collection (the bench-only `gc()`) every");
  P("8 MiB of input, so their ΔRSS is what is live (the raw WebCrypto reference too); and the");
  P(`wasm memory grew by ${(Math.max(...results.big.map((b) => b.wasmGrowth ?? 0)) / MiB).toFixed(1)} MiB during them. The official SDK cannot stream in the browser: it`);
  P("needs the whole plaintext and the whole ciphertext in memory at once.");
  P();
}
if (results.paired?.length) {
  const pr = (id, s) => results.paired.find((r) => r.id === id && r.sizeMiB === s);
  P("## Paired rounds (what the targets use)");
  P();
  P(`The contestants the targets compare, run round-robin: ${cfg.pairedRuns} rounds, each running every one of them once`);
  P("(encrypt, then decrypt of a prepared message), in a rotating order, so that load drift on a shared");
  P("machine hits them all alike. Medians [min–max] MB/s; ratios to the WebCrypto ceiling (8 in flight) and to");
  P("the official SDK at the same suite and frame length, from the same rounds.");
  P();
  P("| contestant | MiB | encrypt MB/s | × ceiling | × SDK | decrypt MB/s | × ceiling | × SDK |");
  P("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results.paired) {
    const ceil = pr("webcrypto-w8", r.sizeMiB);
    const off = r.group === "envelope" && !r.id.includes("-rust-") ? pr(officialFor(r), r.sizeMiB) : null;
    const raw = r.id.includes("-rust-") ? pr("rawaes-64k", r.sizeMiB) : null;
    const cells = ["encrypt", "decrypt"].map((d) => {
      const x = r[d];
      if (!x) return "– | – | –";
      const vsSdk = off ? ratio(x.mbps, off[d].mbps) : raw ? `${ratio(x.mbps, raw[d].mbps)} raw aes-gcm` : "–";
      return `${fmt(x.mbps)} [${fmt(x.minMbps)}–${fmt(x.maxMbps)}] | ${r.id === "webcrypto-w8" ? "–" : ratio(x.mbps, ceil?.[d].mbps)} | ${vsSdk}`;
    });
    P(`| ${r.label} | ${r.sizeMiB} | ${cells[0]} | ${cells[1]} |`);
  }
  P();
  // Where the time goes for the signed suite: which thread is busy, from /proc (schedstat).
  const cpuIds = ["webcrypto-w8", "sha384-wasm", "signed-pipeline", "envelope-0478-webcrypto-64k-stream", "envelope-0578-webcrypto-64k-stream", "envelope-0578-webcrypto-64k-oneshot", "envelope-0578-webcrypto-64k-stream-hashthread"];
  const cpuRows = results.paired.filter((r) => cpuIds.includes(r.id) && r.sizeMiB === Math.max(...cfg.sizes) && (r.encrypt?.cpu || r.decrypt?.cpu));
  if (cpuRows.length) {
    P(`CPU of the renderer's threads in the same rounds (${Math.max(...cfg.sizes)} MiB), as a share of the wall time: 1.00 is one core busy`);
    P("all along (this machine has 2). WebCrypto runs AES-GCM on the calling thread (the main thread here);");
    P("the signed cases' SHA-384 runs in a Web Worker; *other* is the renderer's remaining threads.");
    P();
    P("| contestant | encrypt: main | worker | other | decrypt: main | worker | other |");
    P("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const r of cpuRows) {
      const c = ["encrypt", "decrypt"].map((d) => (r[d]?.cpu ? ["main", "worker", "other"].map((k) => fmt(r[d].cpu[k], 2)).join(" | ") : "– | – | –"));
      P(`| ${r.label} | ${c[0]} | ${c[1]} |`);
    }
    P();
  }
}
P("## Bundle size (bytes)");
P();
P("| bundle | raw | gzip -9 | brotli 11 |");
P("| --- | ---: | ---: | ---: |");
P(`| kms-envelope wasm (pkg/web/kms_envelope_bg.wasm) | ${ours.wasm.raw} | ${ours.wasm.gzip} | ${ours.wasm.brotli} |`);
P(`| kms-envelope JS (${ours.jsFiles.join(", ")}) | ${ours.js.raw} | ${ours.js.gzip} | ${ours.js.brotli} |`);
P(`| **kms-envelope total** (raw AES + KMS client + SigV4 + P-384) | **${ours.total.raw}** | **${ours.total.gzip}** | **${ours.total.brotli}** |`);
P(`| @aws-crypto/client-browser ${bundles.versions}, raw AES encrypt/decrypt (esbuild, minified) | ${bundles.sdkMin.raw} | ${bundles.sdkMin.gzip} | ${bundles.sdkMin.brotli} |`);
P(`| @aws-crypto/client-browser ${bundles.versions}, raw AES + KMS keyring + @aws-sdk/client-kms | ${bundles.sdkKms.raw} | ${bundles.sdkKms.gzip} | ${bundles.sdkKms.brotli} |`);
P();
P("The official bundles need the `buffer` npm polyfill (its ASN.1 code calls `require(\"buffer\")`); it is");
P("included, as any browser build of it must.");
P();
if (results.kms) {
  const k = results.kms;
  P("## KMS (loopback dev KMS, 1 KiB messages)");
  P();
  P(`Bare GenerateDataKey round trip by \`fetch\` (no SDK): ${fmt(k.rawRttMedianMs, 2)} ms [${fmt(k.rawRttMinMs, 2)}–${fmt(k.rawRttMaxMs, 2)}].`);
  P("*Added* is the operation's median minus that bare round trip (with the cache on, an operation");
  P("usually makes no call at all, so it is simply the operation's own time).");
  P();
  P("| suite | cache | encrypt ms | KMS calls / encrypt | added ms | decrypt ms | KMS calls / decrypt | added ms | mean KMS call ms |");
  P("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of k.rows) {
    const hex = `0x${r.suite.toString(16).padStart(4, "0")}`;
    if (r.error) {
      P(`| ${hex} | ${r.cache ? "on" : "off"} | ${r.error} | | | | | | |`);
      continue;
    }
    const added = (x) => fmt(x.kmsCallsPerOp >= 0.5 ? x.medianMs - k.rawRttMedianMs : x.medianMs, 2);
    P(
      `| ${hex} | ${r.cache ? "on" : "off"} | ${fmt(r.encrypt.medianMs, 2)} [${fmt(r.encrypt.minMs, 2)}–${fmt(r.encrypt.maxMs, 2)}] | ${fmt(r.encrypt.kmsCallsPerOp, 3)} | ${added(r.encrypt)} | ${fmt(r.decrypt.medianMs, 2)} [${fmt(r.decrypt.minMs, 2)}–${fmt(r.decrypt.maxMs, 2)}] | ${fmt(r.decrypt.kmsCallsPerOp, 3)} | ${added(r.decrypt)} | ${fmt(r.decrypt.kmsMeanLatencyMs, 2)} |`,
    );
  }
  P();
  P(`${cfg.kms.messages} messages per row, one at a time; the cache (EnvelopeClient \`cache\` option) allows 1000`);
  P("messages per data key. Signed suites pay a P-384 key generation and signature per encrypt.");
  P();
}
// Targets.
const T = [];
const size = Math.max(...cfg.sizes);
const tgt = (name, ok, detail) => T.push(`| ${name} | ${ok == null ? "n/a" : ok ? "met" : "**missed**"} | ${detail} |`);
// Targets use the paired rounds where they cover the case, the main table otherwise.
const val = (id, dir, s = size) =>
  results.paired?.find((r) => r.id === id && r.sizeMiB === s)?.[dir]?.mbps ?? get(id, dir, s)?.mbps;
// Ceiling targets: the better of the two APIs counts; both are shown.
for (const dir of ["encrypt", "decrypt"]) {
  const [o, st] = ["oneshot", "stream"].map((a) => val(`envelope-0478-webcrypto-64k-${a}`, dir) ?? 0);
  const c0 = ceilingT(dir, size);
  const r = Math.max(o, st) / c0;
  // What each API pays here before any envelope work: the stream reference, and the one-shot
  // result buffer (a fresh write in series with the ceiling).
  const ref = val("webcrypto-stream", dir);
  const fresh = val("fresh-buffer", dir) ?? val("fresh-buffer", "encrypt");
  const refTxt = ref ? `; raw WebCrypto behind the leanest ReadableStream: ${fmt(ref / c0, 2)}×` : "";
  const freshTxt = fresh ? `, ceiling plus writing the one-shot result: ${fmt(1 / (1 / c0 + 1 / fresh) / c0, 2)}×` : "";
  tgt(`0x0478 ≥ 0.8× ceiling (${dir}, ${size} MiB)`, isFinite(r) ? r >= 0.8 : null, `stream ${fmt(st / c0, 2)}× (${fmt(st)} MB/s), one-shot ${fmt(o / c0, 2)}× (${fmt(o)} MB/s); ceiling ${fmt(c0)} MB/s${refTxt}${freshTxt}`);
}
// Comparisons with the official SDK: at the largest size both managed.
const both = (a, b, dir) => [...cfg.sizes].reverse().find((s) => val(a, dir, s) && val(b, dir, s));
for (const dir of ["encrypt", "decrypt"]) {
  const [o, st] = ["oneshot", "stream"].map((a) => val(`envelope-0578-webcrypto-64k-${a}`, dir) ?? 0);
  const c0 = ceilingT(dir, size);
  const r = Math.max(o, st) / c0;
  // Every byte of a signed message is SHA-384'd, in order: that alone bounds the suite.
  const sha = val("sha384-wasm", "encrypt");
  // Encrypt: also the leanest signed pipeline with the same engines (WebCrypto + SHA-384 in a
  // worker, nothing else), the better bound there.
  const lean = (s) => (dir === "encrypt" ? val("signed-pipeline", "encrypt", s) : undefined);
  const leanTxt = (s, per, unit) => (s && per && lean(s) ? `; the leanest signed pipeline: ${fmt(lean(s) / per, 2)}${unit} (${fmt(lean(s))} MB/s)` : "");
  const bound = sha ? `; SHA-384 of the message alone: ${fmt(sha / c0, 2)}× (${fmt(sha)} MB/s), the bound${leanTxt(size, c0, "×")}` : "";
  tgt(`0x0578 ≥ 0.5× ceiling (${dir}, ${size} MiB)`, isFinite(r) ? r >= 0.5 : null, `stream ${fmt(st / c0, 2)}× (${fmt(st)} MB/s), one-shot ${fmt(o / c0, 2)}× (${fmt(o)} MB/s)${bound}`);
  const s2 = both("envelope-0578-webcrypto-64k-stream", "official-defaults", dir);
  const best2 = Math.max(...["oneshot", "stream"].map((a) => val(`envelope-0578-webcrypto-64k-${a}`, dir, s2) ?? 0));
  const sdk = val("official-defaults", dir, s2);
  const rs = best2 / sdk;
  tgt(`0x0578 ≥ 4× SDK defaults (${dir}, ${s2 ?? "–"} MiB)`, isFinite(rs) ? rs >= 4 : null, `${fmt(rs, 2)}× (${fmt(best2)} vs ${fmt(sdk)} MB/s)${leanTxt(s2, sdk, "× SDK")}`);
}
for (const [ours_, off, label] of [
  ["envelope-0478-webcrypto-64k-oneshot", "official-0478-64k", "0x0478 64 KiB"],
  ["envelope-0578-webcrypto-64k-oneshot", "official-0578-64k", "0x0578 64 KiB"],
  ["envelope-0578-webcrypto-4k-oneshot", "official-defaults", "0x0578 4 KiB"],
]) {
  for (const dir of ["encrypt", "decrypt"]) {
    const s2 = both(ours_, off, dir);
    const r = val(ours_, dir, s2) / val(off, dir, s2);
    const st = val(ours_.replace("oneshot", "stream"), dir, s2) / val(off, dir, s2);
    // As for the ceiling: the better API counts (the official SDK has only the one-shot one);
    // both are shown.
    const best = Math.max(r, isFinite(st) ? st : 0);
    // Where twice the SDK is at or above the ceiling itself, no wrapper of WebCrypto gets there.
    const twice = (2 * val(off, dir, s2)) / ceilingT(dir, s2);
    tgt(`≥ 2× SDK at ${label} (${dir}, ${s2 ?? "–"} MiB)`, isFinite(best) ? best >= 2 : null, `one-shot ${fmt(r, 2)}× (${fmt(val(ours_, dir, s2))} vs ${fmt(val(off, dir, s2))} MB/s); stream ${fmt(st, 2)}×${best < 2 ? `; 2× the SDK is ${fmt(twice, 2)}× the ceiling` : ""}`);
  }
}
for (const id of ["official-defaults", "official-0478-64k", "official-0578-64k"]) {
  for (const r of byId[id]?.results ?? []) {
    if (r.error) T.push(`| (official SDK) | info | ${byId[id].label}, ${r.dir} ${r.sizeMiB} MiB failed: ${r.error.slice(0, 90)} |`);
  }
}
const big = (id) => results.big.find((b) => b.id === id);
const rt = big("stream-1g-roundtrip");
const en = big("stream-1g-encrypt");
if (rt || en) {
  const worst = Math.max(rt?.rssGrowth ?? 0, en?.rssGrowth ?? 0);
  const raw = big("stream-1g-webcrypto");
  const [eg, rg] = [big("stream-1g-encrypt-gc"), big("stream-1g-roundtrip-gc")];
  tgt(
    `${cfg.bigMiB} MiB streamed, peak growth ≤ 64 MiB`,
    worst <= 64 * MiB,
    `${mib(en?.rssGrowth)} MiB (encrypt), ${mib(rt?.rssGrowth)} MiB (encrypt → decrypt); wasm memory +${(Math.max(en?.wasmGrowth ?? 0, rt?.wasmGrowth ?? 0) / MiB).toFixed(1)} MiB; the same source through raw WebCrypto alone: ${mib(raw?.rssGrowth)} MiB (uncollected garbage, not live data)`,
  );
  if (eg || rg) {
    tgt(
      `${cfg.bigMiB} MiB streamed, live memory (GC forced every 8 MiB) ≤ 64 MiB`,
      Math.max(eg?.rssGrowth ?? 0, rg?.rssGrowth ?? 0) <= 64 * MiB,
      `${mib(eg?.rssGrowth)} MiB (encrypt), ${mib(rg?.rssGrowth)} MiB (encrypt → decrypt), raw WebCrypto alone ${mib(big("stream-1g-webcrypto-gc")?.rssGrowth)} MiB: what the pipeline keeps alive; the rest of the row above is garbage Chromium collects when it chooses (no page can force it)`,
    );
  }
}
const small = cfg.sizes[0];
for (const dir of ["encrypt", "decrypt"]) {
  const ours2 = val("envelope-0478-rust-64k-oneshot", dir, small);
  const raw = val("rawaes-64k", dir, small);
  tgt(`pure-Rust ≥ 0.9× raw aes-gcm in wasm (${dir}, ${small} MiB)`, isFinite(ours2 / raw) ? ours2 / raw >= 0.9 : null, `${fmt(ours2 / raw, 2)}× (${fmt(ours2)} vs ${fmt(raw)} MB/s)`);
}
{
  // Why 0x0578 is bounded here: the main thread must both hand every byte to WebCrypto and
  // SHA-384 it in wasm (a stream cannot use WebCrypto's one-shot digest).
  const sha = val("sha384-wasm", "encrypt");
  const ceil = ceilingT("encrypt", size);
  if (sha && ceil) {
    const st = Math.max(val("envelope-0578-webcrypto-64k-stream", "encrypt") ?? 0, val("envelope-0578-webcrypto-64k-stream", "decrypt") ?? 0);
    const inThread = Math.max(val("envelope-0578-webcrypto-64k-stream-hashthread", "encrypt") ?? 0, val("envelope-0578-webcrypto-64k-stream-hashthread", "decrypt") ?? 0);
    T.push(`| (why 0x0578 is bounded) | info | every byte of a signed message is SHA-384'd in order on one thread (a Web Worker, \`hashWorker: "auto"\`): SHA-384 alone in wasm runs ${fmt(sha)} MB/s = ${fmt(sha / ceil, 2)}× ceiling (WebCrypto's one-shot digest: ${fmt(val("sha384-webcrypto", "encrypt"))} MB/s, and it cannot hash a stream); the 0x0578 stream reaches ${fmt(st)} MB/s = ${fmt(st / sha, 2)}× of SHA-384 alone${inThread ? ` (hashing on the main thread instead: ${fmt(inThread)} MB/s)` : ""} |`);
    // Encrypt has more to do beside the hash (AES-GCM on the main thread, copying every byte to
    // the worker): the leanest pipeline doing only that is its reachable bound.
    const lean = val("signed-pipeline", "encrypt");
    const enc = Math.max(val("envelope-0578-webcrypto-64k-stream", "encrypt") ?? 0, val("envelope-0578-webcrypto-64k-oneshot", "encrypt") ?? 0);
    if (lean) T.push(`| (why 0x0578 is bounded, encrypt) | info | the leanest signed encrypt with the same engines (raw WebCrypto 8 in flight, every result copied to a worker that SHA-384s it; no keys, header or signature) runs ${fmt(lean)} MB/s = ${fmt(lean / ceil, 2)}× ceiling, ${fmt(lean / sha, 2)}× of SHA-384 alone; kms-envelope 0x0578 encrypt reaches ${fmt(enc / lean, 2)}× of it |`);
  }
  // Why the stream API is bounded: Web Streams themselves (the reference is raw WebCrypto behind
  // the leanest ReadableStream found, same source and sink as the stream cases).
  for (const dir of ["encrypt", "decrypt"]) {
    const ref = val("webcrypto-stream", dir);
    const st = val("envelope-0478-webcrypto-64k-stream", dir);
    const c1 = ceilingT(dir, size);
    if (ref && st && c1) {
      T.push(`| (why the stream API is bounded, ${dir}) | info | raw WebCrypto behind the leanest ReadableStream found (same source and sink): ${fmt(ref)} MB/s = ${fmt(ref / c1, 2)}× ceiling; the 0x0478 stream reaches ${fmt(st / ref, 2)}× of it |`);
    }
  }
  // Why 4 KiB frames are slow: WebCrypto's cost per call (the official SDK's default frame).
  const small = cfg.sizes[0];
  for (const dir of ["encrypt", "decrypt"]) {
    const w4 = val("webcrypto-4k-w8", dir, small);
    const e4 = val("envelope-0578-webcrypto-4k-oneshot", dir, small);
    const sdk = val("official-defaults", dir, small);
    if (w4 && e4 && sdk) {
      T.push(`| (why 4 KiB frames are bounded, ${dir}) | info | raw WebCrypto in 4 KiB calls: ${fmt(w4)} MB/s = ${fmt(w4 / ceilingT(dir, small), 2)}× the 64 KiB ceiling; kms-envelope 0x0578 4 KiB one-shot reaches ${fmt(e4 / w4, 2)}× of it, the official SDK at the same suite and frames ${fmt(sdk / w4, 2)}× |`);
    }
  }
  const fresh = val("fresh-buffer", "encrypt");
  if (fresh && ceil) {
    const est = 1 / (1 / ceil + 1 / fresh);
    T.push(`| (why one-shot is bounded) | info | a one-shot result is a new ${size} MiB buffer: writing one costs ${fmt(fresh)} MB/s here (page faults); ceiling and that write in series ≈ ${fmt(est)} MB/s = ${fmt(est / ceil, 2)}× ceiling |`);
  }
}
tgt("wasm + glue ≤ 150 KB gzip", ours.total.gzip <= 150000, `${(ours.total.gzip / 1000).toFixed(1)} KB gzip (${(ours.total.brotli / 1000).toFixed(1)} KB brotli)`);
P("## Targets (from this run)");
P();
P("| target | status | measured |");
P("| --- | --- | --- |");
for (const t of T) P(t);
P();
fs.writeFileSync(outFile, lines.join("\n"));
fs.writeFileSync(jsonFile, JSON.stringify({ facts, cfg: { ...cfg, kms: cfg.kms && { messages: cfg.kms.messages } }, bundles, results }, null, 1));
console.log(lines.join("\n"));
say(`wrote ${path.relative(process.cwd(), outFile)} and ${path.relative(process.cwd(), jsonFile)}`);

function summariseProfiles(ps) {
  const self = new Map();
  let total = 0;
  for (const p of ps) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const dt = new Map();
    for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) || 0) + (p.timeDeltas[i] || 0));
    for (const [id, us] of dt) {
      const n = byId.get(id);
      const f = n.callFrame;
      const key = `${f.functionName || "(anonymous)"} ${f.url ? path.basename(f.url) : ""}:${f.lineNumber}`;
      self.set(key, (self.get(key) || 0) + us);
      total += us;
    }
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
  console.log(`self time, ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [k, us] of top) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}
