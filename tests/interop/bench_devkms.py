"""Bounded load benchmark for kms-dev-server: N GenerateDataKey calls over C keep-alive connections.

Prints throughput and latency percentiles; it never passes or fails on timing.

    python tests/interop/bench_devkms.py                  # starts its own server (fresh temp dir)
    python tests/interop/bench_devkms.py --url http://127.0.0.1:4599 --key-id alias/demo
    options: --total 2000 --concurrency 4

Requests are raw HTTP (http.client) with a SigV4-shaped but unsigned Authorization header, so the
numbers measure the server plus Python's HTTP stack, not boto3's much larger per-call overhead.
Loopback only; every loop is bounded in count and by a deadline.
"""
import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

DEADLINE_SECONDS = 120.0


def _percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def run_bench(url, key_id, total=2000, concurrency=4, timeout=10.0):
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the benchmark only targets loopback addresses")
    body = json.dumps({"KeyId": key_id, "NumberOfBytes": 32, "EncryptionContext": {"bench": "devkms"}}).encode()
    date = time.strftime("%Y%m%d", time.gmtime())
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.GenerateDataKey",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=bench/{date}/us-east-1/kms/aws4_request, "
                         "SignedHeaders=content-type;host;x-amz-target, Signature=" + "0" * 64,
    }
    lock = threading.Lock()
    next_index = [0]
    latencies, errors = [], []
    stop_at = time.monotonic() + DEADLINE_SECONDS

    def take():
        with lock:
            if next_index[0] >= total or time.monotonic() > stop_at:
                return False
            next_index[0] += 1
            return True

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        mine = []
        try:
            while take():
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/", body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                    ok = r.status == 200 and len(base64.b64decode(json.loads(data)["Plaintext"])) == 32
                except Exception as e:  # noqa: BLE001 - counted, reported, connection renewed
                    ok = False
                    data = repr(e).encode()
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
                dt = time.perf_counter() - t0
                if ok:
                    mine.append(dt)
                else:
                    with lock:
                        errors.append(data[:200])
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_SECONDS + timeout)
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    ms = lambda s: s * 1000.0  # noqa: E731
    result = {
        "ok": len(lat),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_seconds": wall,
        "throughput_rps": len(lat) / wall if wall > 0 else 0.0,
        "p50_ms": ms(_percentile(lat, 0.50)),
        "p90_ms": ms(_percentile(lat, 0.90)),
        "p99_ms": ms(_percentile(lat, 0.99)),
        "max_ms": ms(lat[-1]) if lat else float("nan"),
        "mean_ms": ms(statistics.fmean(lat)) if lat else float("nan"),
    }
    result["summary"] = (
        f"kms-dev-server GenerateDataKey: {result['ok']} ok, {result['errors']} errors, "
        f"{concurrency} connections, {wall:.2f} s -> {result['throughput_rps']:.0f} req/s; "
        f"latency p50 {result['p50_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.2f} ms"
    )
    return result


def _startup(data_dir):
    from devkms_fixture import start_devkms
    server = start_devkms(data_dir)
    return server, server.startup_seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an already running server (default: start one)")
    ap.add_argument("--key-id", help="key to use with --url (default: create one)")
    ap.add_argument("--total", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args(argv)
    if not (1 <= args.total <= 100_000 and 1 <= args.concurrency <= 64):
        ap.error("--total must be 1..100000 and --concurrency 1..64")
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    server = None
    try:
        if args.url:
            url = args.url
        else:
            tmp = Path(tempfile.mkdtemp(prefix="devkms-bench-"))
            server, cold = _startup(tmp / "data")
            kms = server.client()
            for _ in range(200):
                kms.create_key()
            server.kill()
            server, warm = _startup(tmp / "data")
            print(f"startup to ready line: {cold * 1000:.1f} ms with a new data dir, "
                  f"{warm * 1000:.1f} ms reopening one with 200 keys")
            url = server.url
        key_id = args.key_id
        if not key_id:
            st_conn = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(st_conn.hostname, st_conn.port, timeout=10)
            conn.request("POST", "/", body=b'{"Description":"bench"}', headers={
                "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.CreateKey"})
            key_id = json.loads(conn.getresponse().read())["KeyMetadata"]["KeyId"]
            conn.close()
        result = run_bench(url, key_id, args.total, args.concurrency)
        print(result["summary"])
        if result["errors"]:
            print(f"first error: {result['first_error']!r}")
        return 0 if result["errors"] == 0 else 1
    finally:
        if server:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
