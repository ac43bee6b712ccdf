// A tiny static HTTP server on 127.0.0.1 (a secure context, so crypto.subtle exists) serving
// the built web package at /pkg/web/, the test pages at /pages/ and extra roots given by the test.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { HERE, PKG } from './paths.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
};

/**
 * Start serving; `roots` maps URL prefixes ("/bundle/") to directories. Resolves to
 * { url, close() }. Paths are confined to their root.
 */
export async function serve(roots = {}) {
  const all = { '/pkg/web/': PKG.web, '/pages/': path.join(HERE, 'pages'), ...roots };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/favicon.ico') { res.writeHead(204); res.end(); return; }
    for (const [prefix, dir] of Object.entries(all)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const file = path.resolve(dir, '.' + decodeURIComponent(url.pathname.slice(prefix.length - 1)));
      if (!file.startsWith(path.resolve(dir) + path.sep)) break;
      fs.readFile(file, (err, body) => {
        if (err) { res.writeHead(404); res.end('not found'); return; }
        res.writeHead(200, {
          'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
          'cache-control': 'no-store',
        });
        res.end(body);
      });
      return;
    }
    res.writeHead(404); res.end('not found');
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
