"""The kms-envelope CLI binary, built by the test command before pytest runs."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def cli_path() -> str:
    return os.environ.get("KMS_ENVELOPE_BIN", str(ROOT / "target" / "release" / "kms-envelope"))


def run_cli(*args, env=None, input=None, check=True, timeout=120):
    """Run the CLI; returns CompletedProcess (bytes)."""
    proc = subprocess.run(
        [cli_path(), *map(str, args)],
        env={**os.environ, **(env or {})},
        input=input,
        capture_output=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kms-envelope {' '.join(map(str, args))} failed: {proc.stderr.decode()}")
    return proc


@pytest.fixture
def cli():
    return run_cli
