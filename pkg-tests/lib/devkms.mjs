// Starts target/release/kms-dev-server on 127.0.0.1 (a free port, a fresh data dir) and waits
// for its ready line. Always call stop() (tests do it in `after`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { DEV_KMS_BIN, need } from './paths.mjs';

const READY = /^kms-dev-server ready on (http:\/\/\S+) \(region (\S+), account (\d{12})\)$/;

export async function startDevKms({ seed = ['pkg-tests'], flags = [], timeoutMs = 30000 } = {}) {
  need(DEV_KMS_BIN, 'run `cargo build --release --bin kms-dev-server` (scripts/pkg-tests.sh does)');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pkg-tests-kms-'));
  const args = ['--listen', '127.0.0.1:0', '--data-dir', path.join(dataDir, 'data')];
  for (const s of seed) args.push('--seed-key', s);
  args.push(...flags);
  const proc = spawn(DEV_KMS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: proc.stdout });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await gone;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  let timer;
  try {
    const m = await Promise.race([
      new Promise((resolve, reject) => {
        lines.once('line', (l) => { const m = READY.exec(l); m ? resolve(m) : reject(new Error(`unexpected ready line ${l}`)); });
        proc.once('exit', (c) => reject(new Error(`kms-dev-server exited ${c}: ${stderr}`)));
      }),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`kms-dev-server not ready: ${stderr}`)), timeoutMs); }),
    ]);
    const kms = { url: m[1], region: m[2], account: m[3], proc, stop, stderr: () => stderr };
    kms.call = (op, body, headers = {}) => kmsCall(kms.url, op, body, headers);
    kms.keyArn = async (alias) => (await kms.call('DescribeKey', { KeyId: `alias/${alias}` })).json.KeyMetadata.Arn;
    kms.audit = async (limit = 100) => (await fetch(`${kms.url}/audit?limit=${limit}`)).json();
    return kms;
  } catch (e) {
    await stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** One KMS JSON 1.1 call (no auth: the dev server's default mode). */
export async function kmsCall(url, op, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `TrentService.${op}`,
      ...headers,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  if (!r.ok) throw new Error(`${op}: HTTP ${r.status}: ${text}`);
  return { status: r.status, json };
}
