// `tsc --noEmit` (strict, no skipLibCheck) over typed usage files against each target's .d.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { HERE, PKG, need } from '../lib/paths.mjs';

const TSC = path.join(HERE, 'node_modules', 'typescript', 'bin', 'tsc');

const results = {};
function tsc(target) {
  if (!results[target]) {
    need(path.join(PKG[target], 'kms_envelope.d.ts'), `run \`bash scripts/build-pkg.sh ${target}\``);
    const r = spawnSync(process.execPath, [TSC, '-p', path.join(HERE, 'types', `tsconfig.${target}.json`)], { encoding: 'utf8', timeout: 120000 });
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l));
    results[target] = { status: r.status, lines };
  }
  return results[target];
}

for (const target of ['web', 'bundler', 'nodejs']) {
  test(`the typed usage file type-checks against pkg/${target} (and every @ts-expect-error is an error)`, { timeout: 120000 }, () => {
    const { lines, status } = tsc(target);
    const other = lines.filter((l) => !l.includes('optional-options.ts'));
    assert.deepEqual(other, [], `tsc errors:\n${other.join('\n')}`);
    if (!lines.length) assert.equal(status, 0);
  });

  test(`pkg/${target}: the options argument can be left out (client.encrypt(data))`, { timeout: 120000 }, () => {
    const { lines } = tsc(target);
    assert.deepEqual(lines.filter((l) => l.includes('optional-options.ts')), []);
  });
}
