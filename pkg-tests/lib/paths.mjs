// Where things are: the repository, the built package targets, the dev KMS binary.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export const HERE = path.dirname(path.dirname(fileURLToPath(import.meta.url))); // pkg-tests/
export const ROOT = path.dirname(HERE);
export const PKG = {
  web: path.join(ROOT, 'pkg', 'web'),
  bundler: path.join(ROOT, 'pkg', 'bundler'),
  nodejs: path.join(ROOT, 'pkg', 'nodejs'),
};
export const DEV_KMS_BIN =
  process.env.KMS_DEV_SERVER_BIN || path.join(ROOT, 'target', 'release', 'kms-dev-server');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const PYTHON = process.env.PKG_TESTS_PYTHON || path.join(ROOT, '.venv', 'bin', 'python');

/** Fails with a clear message when a prerequisite (a built package, a binary) is missing. */
export function need(file, how) {
  if (!fs.existsSync(file)) throw new Error(`missing ${file}: ${how}`);
  return file;
}
