#!/usr/bin/env python3
"""The demo's static server: www/ and the npm package (pkg/web) from one origin on loopback.

    python3 www/serve.py --listen 127.0.0.1:8080 --pkg pkg/web --kms-url http://127.0.0.1:4599

* `/pkg/<file>` is served from the package directory, everything else from www/.
* `/config.json` tells the page where the KMS is (generated from the flags, never a file).
* Only page assets are served (an extension allowlist, no dotfiles, no `..`), with the right
  MIME types (`application/wasm`, `text/javascript`) and a Content-Security-Policy that lets the
  page talk to this origin and the KMS and nothing else.
* Prints exactly one line to stdout once it accepts connections:
  `demo web server ready on http://127.0.0.1:PORT`
Standard library only. Development use: it binds loopback addresses only.
"""

import argparse
import ipaddress
import json
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


def make_handler(www, pkg, config, csp):
    class Handler(BaseHTTPRequestHandler):
        server_version = "kms-envelope-demo"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet unless asked
            if os.environ.get("DEMO_HTTP_LOG"):
                sys.stderr.write("web: " + (fmt % args) + "\n")

        def send_body(self, status, ctype, body, extra=None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Content-Security-Policy", csp)
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def not_found(self):
            self.send_body(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

        def resolve(self, path):
            if path == "/" or path == "":
                path = "/index.html"
            if path.startswith("/pkg/"):
                base, rel = pkg, path[len("/pkg/"):]
            else:
                base, rel = www, path[1:]
            parts = rel.split("/")
            if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
                return None
            ext = os.path.splitext(rel)[1].lower()
            if ext not in TYPES:
                return None
            full = os.path.realpath(os.path.join(base, *parts))
            if not full.startswith(base + os.sep) or not os.path.isfile(full):
                return None
            return full, TYPES[ext]

        def do_GET(self):
            path = unquote(urlsplit(self.path).path)
            if path == "/config.json":
                return self.send_body(HTTPStatus.OK, "application/json", config)
            found = self.resolve(path)
            if not found:
                return self.not_found()
            full, ctype = found
            with open(full, "rb") as f:
                body = f.read()
            extra = {"Service-Worker-Allowed": "/"} if path == "/sw.js" else None
            self.send_body(HTTPStatus.OK, ctype, body, extra)

        do_HEAD = do_GET

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:8080", help="loopback ADDR:PORT (port 0: any free port)")
    ap.add_argument("--www", default=os.path.dirname(os.path.realpath(__file__)))
    ap.add_argument("--pkg", required=True, help="the built web package (pkg/web)")
    ap.add_argument("--kms-url", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--account", default="111122223333")
    ap.add_argument("--seed-alias", default="demo")
    a = ap.parse_args()

    host, _, port = a.listen.rpartition(":")
    host = host.strip("[]")
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"serve.py: refusing to listen on non-loopback address {host}")
    www, pkg = os.path.realpath(a.www), os.path.realpath(a.pkg)
    if not os.path.isfile(os.path.join(pkg, "kms_envelope_bg.wasm")):
        sys.exit(f"serve.py: {pkg} has no kms_envelope_bg.wasm (run scripts/build-pkg.sh web)")
    kms = a.kms_url.rstrip("/")
    config = json.dumps({
        "kmsEndpoint": kms, "region": a.region, "account": a.account, "seedAlias": "alias/" + a.seed_alias,
    }).encode()
    # worker-src blob:: the package hashes signed messages in a worker made from a Blob URL.
    csp = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
           f"connect-src 'self' {kms}; img-src 'self' data: blob:; style-src 'self'; "
           "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    try:
        httpd = ThreadingHTTPServer((host, int(port)), make_handler(www, pkg, config, csp))
    except OSError as e:
        sys.exit(f"serve.py: cannot listen on {a.listen}: {e.strerror}")
    shown = f"[{host}]" if ":" in host else host
    print(f"demo web server ready on http://{shown}:{httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
