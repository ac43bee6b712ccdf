"""Shared pytest setup for the interop tests: fixtures live in *_fixture.py modules."""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

# Each engineer's fixtures are a plugin module; load the ones present.
pytest_plugins = [
    m for m in ("cli_fixture", "devkms_fixture", "moto_fixture") if (HERE / f"{m}.py").exists()
]
