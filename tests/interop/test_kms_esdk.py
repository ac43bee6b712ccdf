"""Interop through KMS: our CLI and the Python ESDK (aws-encryption-sdk 4.x, legacy master-key
providers) share messages through the same moto key. The ESDK reaches moto through
AWS_ENDPOINT_URL_KMS, exactly as the AWS tools do (kms-api.md §3)."""
import json

import pytest

from cli_fixture import run_cli

PLAINTEXT = b"interop through KMS \x00\xff" * 5000
CONTEXT = {"purpose": "interop", "team": "kms-envelope"}


@pytest.fixture
def esdk(moto, monkeypatch):
    """An ESDK client and a function making a strict/discovery provider against moto."""
    aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
    import botocore.session

    for k in list(__import__("os").environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    for k, v in moto.env().items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )

    def provider(key_arn=None):
        session = botocore.session.Session()
        if key_arn is None:
            return aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(botocore_session=session)
        return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=session)

    return client, provider


def cli_encrypt(moto, tmp_path, key):
    plain, ct = tmp_path / "plain", tmp_path / "cli.ct"
    plain.write_bytes(PLAINTEXT)
    args = ["encrypt", "--in", plain, "--out", ct, "--kms-key", key]
    for k, v in CONTEXT.items():
        args += ["--context", f"{k}={v}"]
    run_cli(*args, env=moto.env())
    return ct.read_bytes()


def test_cli_encrypts_python_esdk_decrypts(moto, esdk, tmp_path):
    client, provider = esdk
    key = moto.create_key()
    ct = cli_encrypt(moto, tmp_path, key)
    for p in (provider(key), provider()):  # strict, then discovery
        pt, header = client.decrypt(source=ct, key_provider=p)
        assert pt == PLAINTEXT
        for k, v in CONTEXT.items():
            assert header.encryption_context[k] == v
        assert [e.key_provider.key_info.decode() for e in header.encrypted_data_keys] == [key]
        assert header.algorithm.algorithm_id == 0x0578


def test_python_esdk_encrypts_cli_decrypts(moto, esdk, tmp_path):
    client, provider = esdk
    key = moto.create_key()
    ct, _ = client.encrypt(source=PLAINTEXT, key_provider=provider(key), encryption_context=CONTEXT)
    (tmp_path / "esdk.ct").write_bytes(ct)
    header = json.loads(run_cli("inspect", "--in", tmp_path / "esdk.ct").stdout)
    assert header["encrypted_data_keys"][0]["provider_id"] == "aws-kms"
    out = tmp_path / "out"
    run_cli("decrypt", "--in", tmp_path / "esdk.ct", "--out", out, "--kms-key", key,
            "--require-context", "purpose=interop", env=moto.env())
    assert out.read_bytes() == PLAINTEXT
    out2 = tmp_path / "out2"
    run_cli("decrypt", "--in", tmp_path / "esdk.ct", "--out", out2, "--kms-discovery",
            "--discovery-account", "123456789012", env=moto.env())
    assert out2.read_bytes() == PLAINTEXT


def test_python_esdk_two_key_message_decrypts_with_the_second_key(moto, esdk, tmp_path):
    client, provider = esdk
    import aws_encryption_sdk
    import botocore.session

    k1, k2 = moto.create_key(), moto.create_key()
    mkp = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[k1, k2], botocore_session=botocore.session.Session()
    )
    ct, _ = client.encrypt(source=PLAINTEXT, key_provider=mkp, encryption_context=CONTEXT)
    (tmp_path / "two.ct").write_bytes(ct)
    run_cli("decrypt", "--in", tmp_path / "two.ct", "--out", tmp_path / "o", "--kms-key", k2, env=moto.env())
    assert (tmp_path / "o").read_bytes() == PLAINTEXT
