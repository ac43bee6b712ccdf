"""kms-dev-server durability: SIGKILL in the middle of a CreateKey/CreateAlias/Encrypt load, restart on
the same data dir, and every key (and alias) whose creation was acknowledged must be there and work.
The server refuses to start on any unreadable key file, so each successful restart also proves that
no file was left torn."""
import base64
import http.client
import json
import os
import signal
import threading
import time

from devkms_fixture import devkms_factory  # noqa: F401  (also loaded by conftest.py)

WORKERS = 3
CYCLES = 3
KEYS_PER_CYCLE = 60        # kill once this many keys were acknowledged in the cycle...
CYCLE_DEADLINE = 20.0      # ...or after this long, whichever comes first


def call(conn, op, body):
    conn.request("POST", "/", body=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{op}"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f"{op}: HTTP {r.status} {data[:200]!r}")
    return json.loads(data)


def load(server, acked, lock, stop, worker_no):
    """Creates keys until the server dies; records only what the server acknowledged."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    n = 0
    try:
        while not stop.is_set():
            n += 1
            key_id = call(conn, "CreateKey", {"Description": f"w{worker_no}-{n}"})["KeyMetadata"]["KeyId"]
            record = {"alias": None, "blob": None}
            with lock:
                acked[key_id] = record
            alias = f"alias/crash-{key_id}"
            call(conn, "CreateAlias", {"AliasName": alias, "TargetKeyId": key_id})
            record["alias"] = alias
            pt = base64.b64encode(key_id.encode()).decode()
            record["blob"] = call(conn, "Encrypt", {"KeyId": alias, "Plaintext": pt,
                                                    "EncryptionContext": {"k": key_id}})["CiphertextBlob"]
    except (OSError, http.client.HTTPException, RuntimeError, ValueError):
        pass   # the server was killed mid-request: that request was never acknowledged
    finally:
        conn.close()


def verify(server, acked):
    kms = server.client()
    listed = set()
    page = {"Truncated": True}
    kwargs = {"Limit": 1000}
    while page["Truncated"]:
        page = kms.list_keys(**kwargs)
        listed |= {k["KeyId"] for k in page["Keys"]}
        kwargs["Marker"] = page.get("NextMarker")
    missing = set(acked) - listed
    assert not missing, f"{len(missing)} acknowledged keys lost: {sorted(missing)[:5]}"
    aliases = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases(Limit=1000)["Aliases"]}
    for key_id, rec in acked.items():
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        if rec["alias"]:
            assert aliases.get(rec["alias"]) == key_id, rec["alias"]
        if rec["blob"]:
            out = kms.decrypt(CiphertextBlob=base64.b64decode(rec["blob"]), EncryptionContext={"k": key_id})
            assert out["Plaintext"] == key_id.encode()
        # and the key still works for new data
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"after restart")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after restart"


def assert_files_clean(data_dir):
    keys_dir = data_dir / "keys"
    leftovers = [p.name for p in list(keys_dir.iterdir()) + list(data_dir.iterdir()) if ".tmp-" in p.name]
    assert not leftovers, leftovers
    for p in keys_dir.glob("*.json"):
        doc = json.loads(p.read_text())
        assert doc["id"] == p.stem and doc["versions"], p
    json.loads((data_dir / "aliases.json").read_text())


def test_sigkill_mid_load_loses_no_acknowledged_key(devkms_factory, tmp_path):
    data = tmp_path / "crash"
    acked, lock = {}, threading.Lock()
    for cycle in range(CYCLES):
        server = devkms_factory(data_dir=data)
        verify(server, acked)
        before = len(acked)
        stop = threading.Event()
        workers = [threading.Thread(target=load, args=(server, acked, lock, stop, w), daemon=True)
                   for w in range(WORKERS)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + CYCLE_DEADLINE
        while len(acked) - before < KEYS_PER_CYCLE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(w.is_alive() for w in workers), "load stopped before the kill"
        os.kill(server.pid, signal.SIGKILL)   # while requests are in flight
        server.proc.wait(timeout=10)
        stop.set()
        for w in workers:
            w.join(timeout=10)
            assert not w.is_alive()
        assert len(acked) - before >= 1, f"cycle {cycle}: no key was created before the kill"

    final = devkms_factory(data_dir=data)
    verify(final, acked)
    assert_files_clean(data)
    print(f"\n{len(acked)} acknowledged keys survived {CYCLES} SIGKILLs")
