"""The Python AWS Encryption SDK (4.0.7) side of the package interop tests.

  esdk.py decrypt DIR   decrypt every message of DIR/manifest.json (made by the package) and
                        print one JSON result per message: {"name", "ok", "error"?}
  esdk.py encrypt DIR   write messages for the package to decrypt, and DIR/manifest.json

Raw AES keys (namespace/name/bytes from the manifest) or, for entries with "kms", the KMS keys
of the dev KMS that AWS_ENDPOINT_URL_KMS points at (key ARNs).
"""
import json
import sys
from pathlib import Path

import aws_encryption_sdk
import botocore.session
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey

SUITES = {
    "0478": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    "0578": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
}
WRAPPING = {
    16: WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING,
    24: WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING,
    32: WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
}


def esdk():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def raw_key(namespace, name, key):
    return RawMasterKey(
        provider_id=namespace,
        key_id=name.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=WRAPPING[len(key)], wrapping_key=key, wrapping_key_type=EncryptionKeyType.SYMMETRIC
        ),
    )


def provider(manifest, entry):
    if "kms" in entry:
        return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
            key_ids=[entry["kms"]], botocore_session=botocore.session.Session()
        )
    return raw_key(manifest["namespace"], entry["key"], bytes.fromhex(manifest["keys"][entry["key"]]))


def decrypt(directory: Path):
    manifest = json.loads((directory / "manifest.json").read_text())
    results = []
    for m in manifest["messages"]:
        result = {"name": m["name"]}
        try:
            ct = (directory / m["ciphertext"]).read_bytes()
            expected = (directory / m["plaintext"]).read_bytes()
            pt, header = esdk().decrypt(source=ct, key_provider=provider(manifest, m))
            problems = []
            if pt != expected:
                problems.append(f"plaintext differs ({len(pt)} vs {len(expected)} bytes)")
            if "suite" in m and header.algorithm != SUITES[m["suite"]]:
                problems.append(f"suite {header.algorithm}")
            if "frameLength" in m and header.frame_length != m["frameLength"]:
                problems.append(f"frame length {header.frame_length}")
            for k, v in m.get("context", {}).items():
                if header.encryption_context.get(k) != v:
                    problems.append(f"context {k!r}: {header.encryption_context.get(k)!r}")
            result["ok"] = not problems
            if problems:
                result["error"] = "; ".join(problems)
        except Exception as e:  # report, never crash: one line per message
            result["ok"] = False
            result["error"] = f"{type(e).__name__}: {e}"
        results.append(result)
    print(json.dumps(results))


def plaintext(seed: int, n: int) -> bytes:
    return bytes((i * 131 + seed * 7 + (i >> 8)) % 256 for i in range(n))


def encrypt(directory: Path, kms_arn=None):
    directory.mkdir(parents=True, exist_ok=True)
    keys = {"py-key-1": bytes(range(32)), "py-key-2": bytes(range(100, 116))}
    manifest = {"namespace": "pkg-tests-python", "keys": {k: v.hex() for k, v in keys.items()}, "messages": []}
    context = {"made-by": "python", "ключ": "значение", "emoji 🔑": "✓"}

    def write(name, pt, ct, **entry):
        (directory / f"{name}.pt").write_bytes(pt)
        (directory / f"{name}.ct").write_bytes(ct)
        manifest["messages"].append({"name": name, "plaintext": f"{name}.pt", "ciphertext": f"{name}.ct", **entry})

    for suite in ("0478", "0578"):
        for frame_length in (0, 128, 4096, 65536):  # 0: a non-framed message
            for size in (0, 1, 4096, 10007):
                name = f"raw-{suite}-f{frame_length}-{size}"
                pt = plaintext(size + frame_length, size)
                ct, _ = esdk().encrypt(
                    source=pt, key_provider=raw_key(manifest["namespace"], "py-key-1", keys["py-key-1"]),
                    encryption_context=context, frame_length=frame_length, algorithm=SUITES[suite],
                )
                write(name, pt, ct, key="py-key-1", suite=suite, frameLength=frame_length, context=context)
    # AES-128 wrapping key, default suite and frame length.
    pt = plaintext(3, 70000)
    ct, _ = esdk().encrypt(source=pt, key_provider=raw_key(manifest["namespace"], "py-key-2", keys["py-key-2"]),
                           encryption_context=context)
    write("raw-default-aes128", pt, ct, key="py-key-2", suite="0578", frameLength=4096, context=context)
    if kms_arn:
        pt = plaintext(9, 50000)
        ct, _ = esdk().encrypt(
            source=pt, encryption_context=context,
            key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
                key_ids=[kms_arn], botocore_session=botocore.session.Session()
            ),
        )
        write("kms-default", pt, ct, kms=kms_arn, suite="0578", context=context)
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))


if __name__ == "__main__":
    command, target = sys.argv[1], Path(sys.argv[2])
    if command == "decrypt":
        decrypt(target)
    elif command == "encrypt":
        encrypt(target, sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        sys.exit(f"unknown command {command}")
