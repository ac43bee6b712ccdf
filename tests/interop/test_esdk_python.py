"""Interop with the real Python AWS Encryption SDK (aws-encryption-sdk 4.0.7), raw AES keys, no KMS.

Our CLI encrypts -> Python decrypts, and Python encrypts -> our CLI decrypts, with the same key
namespace / key name / key bytes on both sides (the raw AES master key of the Python SDK is the
raw AES keyring of the spec). Also: a two-key message of ours opened by Python with only the
second key, and the frozen vectors of tests/frozen/ opened by Python.

Run: KMS_ENVELOPE_BIN=/path/to/kms-envelope .venv/bin/pytest -q tests/interop/test_esdk_python.py
"""
import json
import os
from pathlib import Path

import pytest

import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey, RawMasterKeyProvider
from cryptography.exceptions import InvalidTag

ROOT = Path(__file__).resolve().parent.parent.parent
FROZEN = ROOT / "tests" / "frozen"

NAMESPACE = "kms-envelope-interop"
KEY_1 = bytes(range(32))  # AES-256, "key-1"
KEY_2 = bytes(range(100, 116))  # AES-128, "key-2"
CONTEXT = {"purpose": "interop", "ключ": "значение", "emoji 🔑": "✓", "Z": "upper", "a": ""}

SUITES = {
    "0478": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    "0578": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
}
WRAPPING = {
    16: WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING,
    24: WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING,
    32: WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
}


def master_key(name: str, key: bytes, namespace: str = NAMESPACE) -> RawMasterKey:
    return RawMasterKey(
        provider_id=namespace,
        key_id=name.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=WRAPPING[len(key)],
            wrapping_key=key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


class StaticKeys(RawMasterKeyProvider):
    """A raw AES master key provider over fixed keys: every key added takes part in encrypt."""

    provider_id = NAMESPACE

    def __init__(self, **kwargs):  # pylint: disable=unused-argument
        self._keys = {b"key-1": KEY_1, b"key-2": KEY_2}

    def _get_raw_key(self, key_id):
        key = self._keys[key_id]
        return WrappingKey(
            wrapping_algorithm=WRAPPING[len(key)], wrapping_key=key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        )


def esdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


def plaintext(n: int) -> bytes:
    return bytes((i * 131 + 7) % 256 for i in range(n))


@pytest.fixture
def keys(tmp_path):
    k1 = tmp_path / "key-1.bin"
    k2 = tmp_path / "key-2.bin"
    k1.write_bytes(KEY_1)
    k2.write_bytes(KEY_2)
    return {
        "key-1": f"{NAMESPACE}:key-1:{k1}",
        "key-2": f"{NAMESPACE}:key-2:{k2}",
    }


def context_args(ctx):
    args = []
    for k, v in ctx.items():
        args += ["--context", f"{k}={v}"]
    return args


def inspect(cli, path):
    return json.loads(cli("inspect", "--in", path).stdout)


# ------------------------------------------------------------------------------------------
# kms-envelope encrypts, Python decrypts.

PLAINTEXT_KINDS = ["empty", "exact-multiple", "odd"]


def plaintext_for(kind: str, frame_length: int) -> bytes:
    if kind == "empty":
        return b""
    if kind == "exact-multiple":
        # Two full frames (three for frame length 1): the final frame is empty.
        return plaintext(2 * frame_length if frame_length > 1 else 3)
    return plaintext(1000 + 7 if frame_length > 1 else 333)


@pytest.mark.parametrize("kind", PLAINTEXT_KINDS)
@pytest.mark.parametrize("frame_length", [1, 4096, 65536])
@pytest.mark.parametrize("suite", ["0478", "0578"])
def test_ours_decrypts_in_python(cli, keys, tmp_path, suite, frame_length, kind):
    pt = plaintext_for(kind, frame_length)
    src = tmp_path / "plain.bin"
    src.write_bytes(pt)
    ct_path = tmp_path / "ct.bin"
    cli(
        "encrypt", "--in", src, "--out", ct_path, "--raw-aes", keys["key-1"],
        "--suite", suite, "--frame-length", frame_length, *context_args(CONTEXT),
    )
    ct = ct_path.read_bytes()
    got, header = esdk().decrypt(source=ct, key_provider=master_key("key-1", KEY_1))
    assert got == pt
    assert header.algorithm == SUITES[suite]
    assert header.frame_length == frame_length
    # Python's view of the context contains ours (plus the public key for 0x0578).
    assert CONTEXT.items() <= header.encryption_context.items()
    assert ("aws-crypto-public-key" in header.encryption_context) == (suite == "0578")
    assert len(header.encrypted_data_keys) == 1
    # Python agrees with our inspect about the header.
    h = inspect(cli, ct_path)
    assert h["message_id"] == header.message_id.hex()
    assert h["encryption_context"] == header.encryption_context


@pytest.mark.parametrize("suite", [None, "0178", "0346"])
def test_ours_legacy_suites_under_forbid_allow_decrypt_in_python(cli, keys, tmp_path, suite):
    # forbid-allow writes non-committing suites (0x0378 by default, like Python and JS) for
    # readers that predate key commitment.
    pt = plaintext(9000)
    src = tmp_path / "plain.bin"
    src.write_bytes(pt)
    ct_path = tmp_path / "ct.bin"
    extra = ["--suite", suite] if suite else []
    cli(
        "encrypt", "--in", src, "--out", ct_path, "--raw-aes", keys["key-1"],
        "--commitment-policy", "forbid-allow", "--frame-length", 4096, *extra,
        *context_args(CONTEXT),
    )
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    got, header = client.decrypt(source=ct_path.read_bytes(), key_provider=master_key("key-1", KEY_1))
    assert got == pt
    assert header.algorithm.algorithm_id == int(suite or "0378", 16)
    assert CONTEXT.items() <= header.encryption_context.items()


def test_ours_with_the_wrong_key_is_refused_by_python(cli, keys, tmp_path):
    src = tmp_path / "plain.bin"
    src.write_bytes(b"secret")
    ct_path = tmp_path / "ct.bin"
    cli("encrypt", "--in", src, "--out", ct_path, "--raw-aes", keys["key-1"])
    # A bare master key lets the wrapping key's InvalidTag through; a provider wraps it.
    with pytest.raises((AWSEncryptionSDKClientError, InvalidTag)):
        esdk().decrypt(source=ct_path.read_bytes(), key_provider=master_key("key-1", bytes(32)))


def test_ours_with_two_keys_decrypts_in_python_with_only_the_second(cli, keys, tmp_path):
    pt = plaintext(5000)
    src = tmp_path / "plain.bin"
    src.write_bytes(pt)
    ct_path = tmp_path / "ct.bin"
    cli(
        "encrypt", "--in", src, "--out", ct_path, "--raw-aes", keys["key-1"], "--raw-aes", keys["key-2"],
        "--frame-length", 1024, *context_args(CONTEXT),
    )
    ct = ct_path.read_bytes()
    got, header = esdk().decrypt(source=ct, key_provider=master_key("key-2", KEY_2))
    assert got == pt
    assert len(header.encrypted_data_keys) == 2
    assert CONTEXT.items() <= header.encryption_context.items()
    got, _ = esdk().decrypt(source=ct, key_provider=master_key("key-1", KEY_1))
    assert got == pt
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk().decrypt(source=ct, key_provider=master_key("key-3", KEY_2))


# ------------------------------------------------------------------------------------------
# Python encrypts, kms-envelope decrypts.

PY_SUITES = {"default": None, "0478": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY}


@pytest.mark.parametrize("size", [0, 1, 4096, 10007])
@pytest.mark.parametrize("frame_length", [128, 512, 4096, 65536, 0])
@pytest.mark.parametrize("suite", ["default", "0478"])
def test_python_decrypts_in_ours(cli, keys, tmp_path, suite, frame_length, size):
    """frame_length 0 makes the Python SDK write a non-framed message."""
    pt = plaintext(size)
    kwargs = {"algorithm": PY_SUITES[suite]} if PY_SUITES[suite] else {}
    ct, header = esdk().encrypt(
        source=pt, key_provider=master_key("key-1", KEY_1), encryption_context=CONTEXT,
        frame_length=frame_length, **kwargs,
    )
    expected_suite = "0x0578" if suite == "default" else "0x0478"
    assert header.algorithm.algorithm_id == int(expected_suite, 16)
    ct_path = tmp_path / "py.ct"
    ct_path.write_bytes(ct)
    h = inspect(cli, ct_path)
    assert h["suite_id"] == expected_suite
    assert h["frame_length"] == frame_length
    assert h["content_type"] == ("framed" if frame_length else "non-framed")
    assert CONTEXT.items() <= h["encryption_context"].items()

    out = tmp_path / "out.bin"
    cli("decrypt", "--in", ct_path, "--out", out, "--raw-aes", keys["key-1"])
    assert out.read_bytes() == pt
    out.unlink()
    # Through pipes as well.
    proc = cli("decrypt", "--in", "-", "--out", "-", "--raw-aes", keys["key-1"], input=ct)
    assert proc.stdout == pt


@pytest.mark.parametrize("suite", ["default", "0478"])
def test_require_context_on_python_messages(cli, keys, tmp_path, suite):
    pt = plaintext(3000)
    kwargs = {"algorithm": PY_SUITES[suite]} if PY_SUITES[suite] else {}
    ct, _ = esdk().encrypt(
        source=pt, key_provider=master_key("key-1", KEY_1), encryption_context=CONTEXT,
        frame_length=1024, **kwargs,
    )
    ct_path = tmp_path / "py.ct"
    ct_path.write_bytes(ct)
    out = tmp_path / "out.bin"
    # The right values (one or all pairs) decrypt.
    cli("decrypt", "--in", ct_path, "--out", out, "--raw-aes", keys["key-1"],
        "--require-context", "ключ=значение")
    assert out.read_bytes() == pt
    out.unlink()
    cli("decrypt", "--in", ct_path, "--out", out, "--raw-aes", keys["key-1"],
        *[a.replace("--context", "--require-context") for a in context_args(CONTEXT)])
    assert out.read_bytes() == pt
    out.unlink()
    # A wrong value is refused: one stderr line with the code, exit 1, no output file.
    proc = cli("decrypt", "--in", ct_path, "--out", out, "--raw-aes", keys["key-1"],
               "--require-context", "purpose=something else", check=False)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("kms-envelope: error: CONTEXT_MISMATCH: ") and err.count("\n") == 1, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key-1.bin", "key-2.bin", "py.ct"]


def test_python_with_two_keys_decrypts_in_ours_with_either(cli, keys, tmp_path):
    pt = plaintext(2048)
    provider = StaticKeys()
    provider.add_master_keys_from_list([b"key-1", b"key-2"])
    ct, header = esdk().encrypt(source=pt, key_provider=provider, frame_length=256)
    assert len(header.encrypted_data_keys) == 2
    ct_path = tmp_path / "py.ct"
    ct_path.write_bytes(ct)
    for key in ("key-1", "key-2"):
        out = tmp_path / f"out-{key}.bin"
        cli("decrypt", "--in", ct_path, "--out", out, "--raw-aes", keys[key])
        assert out.read_bytes() == pt


def test_python_message_with_the_wrong_key_is_refused_by_ours(cli, keys, tmp_path):
    ct, _ = esdk().encrypt(source=b"secret", key_provider=master_key("key-1", bytes(32)))
    ct_path = tmp_path / "py.ct"
    ct_path.write_bytes(ct)
    out = tmp_path / "out.bin"
    proc = cli("decrypt", "--in", ct_path, "--out", out, "--raw-aes", keys["key-1"], check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("kms-envelope: error: NO_DECRYPTABLE_KEY: ")
    assert not out.exists()


# ------------------------------------------------------------------------------------------
# The frozen vectors of tests/frozen/ are valid ESDK messages.

def frozen_messages():
    manifest = json.loads((FROZEN / "manifest.json").read_text())
    return [
        pytest.param(m, manifest["keys"], id=m["file"])
        for m in manifest["messages"]
        # The Python SDK supplies a reproduced context only through MPL CMMs (not installed).
        if not m["required_keys"]
    ]


@pytest.mark.parametrize("message,key_table", frozen_messages())
def test_frozen_vectors_decrypt_in_python(message, key_table):
    ct = (FROZEN / message["file"]).read_bytes()
    for key_id in message["keys"]:
        k = key_table[key_id]
        got, header = esdk().decrypt(
            source=ct, key_provider=master_key(k["name"], bytes.fromhex(k["key"]), k["namespace"])
        )
        assert got == bytes.fromhex(message["plaintext"])
        assert header.algorithm.algorithm_id == int(message["suite"], 16)
        assert header.encryption_context == message["inspect"]["encryption_context"]
        assert header.message_id.hex() == message["inspect"]["message_id"]
