"""pytest fixtures for kms-dev-server.

`devkms`: a server on 127.0.0.1 (port 0, so a free one) with a fresh data dir; killed on teardown.
`devkms_factory`: start(*flags, data_dir=None) for servers with extra flags or a shared data dir
(restart tests); every server it started is killed on teardown.

The binary comes from $KMS_DEV_SERVER_BIN, default <repo>/target/release/kms-dev-server (the test
command builds release binaries before pytest runs).

Works as a plugin (conftest.py's pytest_plugins) or imported: `from devkms_fixture import devkms`.
"""
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
READY = re.compile(r"^kms-dev-server ready on (http://(\S+):(\d+)) \(region (\S+), account (\d{12})\)$")
# Dummy credentials for lenient mode (the server parses but does not verify signatures).
ACCESS_KEY, SECRET_KEY = "testing", "testing"


def server_bin() -> str:
    return os.environ.get("KMS_DEV_SERVER_BIN", str(ROOT / "target" / "release" / "kms-dev-server"))


class DevKms:
    """A running kms-dev-server process."""

    def __init__(self, proc, match, data_dir, stderr_path, startup_seconds):
        self.proc = proc
        self.url, self.host, port, self.region, self.account = match.groups()
        self.port = int(port)
        self.data_dir = Path(data_dir)
        self.stderr_path = stderr_path
        self.startup_seconds = startup_seconds
        self.ready_line = match.group(0)

    @property
    def pid(self):
        return self.proc.pid

    def client(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token=None, **config):
        """A boto3 KMS client pointed at this server (one attempt: no hidden retries)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "kms",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
        )

    def key_arn(self, key_id):
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"

    def stderr_text(self):
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        """Stops the process (SIGKILL by default) and reaps it."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __repr__(self):
        return f"DevKms(url={self.url!r}, data_dir={str(self.data_dir)!r}, pid={self.proc.pid})"


def start_devkms(data_dir, *flags, timeout=60.0, listen="127.0.0.1:0"):
    """Starts the server and waits for its ready line. Raises (after killing it) if none comes."""
    data_dir = Path(data_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    stderr_path = data_dir.parent / f"{data_dir.name}.stderr.{time.monotonic_ns()}.log"
    cmd = [server_bin(), "--listen", listen, "--data-dir", str(data_dir), *map(str, flags)]
    t0 = time.monotonic()
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True)
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    elapsed = time.monotonic() - t0
    match = READY.match(line[0].rstrip("\n")) if line else None
    if not match:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        stderr = Path(stderr_path).read_text(errors="replace")
        raise RuntimeError(
            f"kms-dev-server did not become ready (exit {proc.returncode}); stdout {line!r}; stderr:\n{stderr}"
        )
    return DevKms(proc, match, data_dir, stderr_path, elapsed)


@pytest.fixture
def devkms(tmp_path):
    server = start_devkms(tmp_path / "data")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def devkms_factory(tmp_path):
    started = []

    def start(*flags, data_dir=None, **kw):
        server = start_devkms(data_dir or tmp_path / f"data{len(started)}", *flags, **kw)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()
