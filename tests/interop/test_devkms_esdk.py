"""The Python AWS Encryption SDK (4.x) encrypts and decrypts through kms-dev-server, unmodified:
the legacy master-key providers find the server through botocore's AWS_ENDPOINT_URL_KMS."""
import struct

import pytest

aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
import botocore.session  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402
from aws_encryption_sdk.exceptions import DecryptKeyError  # noqa: E402

from devkms_fixture import devkms  # noqa: E402,F401  (also loaded by conftest.py)

EC = {"purpose": "devkms-esdk", "file": "a.txt"}
PLAINTEXT = b"envelope encryption through kms-dev-server " * 200


@pytest.fixture
def esdk_env(devkms, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", devkms.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", devkms.url)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    return devkms


def client():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def strict(key_ids):
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=key_ids, botocore_session=botocore.session.Session())


def edk_provider_infos(ct):
    """Provider info of each EDK in a v2 message header (see shared/reference/kms-api.md §3)."""
    assert ct[0] == 2
    off = 1 + 2 + 32
    (aad_len,) = struct.unpack_from(">H", ct, off)
    off += 2 + aad_len
    (count,) = struct.unpack_from(">H", ct, off)
    off += 2
    infos = []
    for _ in range(count):
        fields = []
        for _ in range(3):
            (n,) = struct.unpack_from(">H", ct, off)
            fields.append(ct[off + 2:off + 2 + n])
            off += 2 + n
        infos.append((fields[0].decode(), fields[1].decode()))
    return infos


def test_strict_provider_round_trip_records_the_key_arn(esdk_env):
    kms = esdk_env.client()
    arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]
    ct, header = client().encrypt(source=PLAINTEXT, key_provider=strict([arn]), encryption_context=EC)
    assert edk_provider_infos(ct) == [("aws-kms", arn)]
    pt, dheader = client().decrypt(source=ct, key_provider=strict([arn]))
    assert pt == PLAINTEXT
    assert all(dheader.encryption_context[k] == v for k, v in EC.items())
    # The ESDK's own context (with the signing key) went to KMS and is bound there.
    assert "aws-crypto-public-key" in dheader.encryption_context


def test_alias_encrypts_and_discovery_decrypts(esdk_env):
    kms = esdk_env.client()
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/esdk", TargetKeyId=arn)
    ct, _ = client().encrypt(source=b"via alias", key_provider=strict(["alias/esdk"]), encryption_context=EC)
    assert edk_provider_infos(ct) == [("aws-kms", arn)]
    discovery = aws_encryption_sdk.DiscoveryAwsKmsMasterKeyProvider(botocore_session=botocore.session.Session())
    assert client().decrypt(source=ct, key_provider=discovery)[0] == b"via alias"


def test_multi_key_message_decrypts_with_either_key(esdk_env):
    kms = esdk_env.client()
    a = kms.create_key()["KeyMetadata"]["Arn"]
    b = kms.create_key()["KeyMetadata"]["Arn"]
    ct, _ = client().encrypt(source=b"two keys", key_provider=strict([a, b]), encryption_context=EC)
    assert sorted(info for _, info in edk_provider_infos(ct)) == sorted([a, b])
    kms.disable_key(KeyId=a)
    assert client().decrypt(source=ct, key_provider=strict([b]))[0] == b"two keys"


def test_disabled_key_makes_esdk_decrypt_fail(esdk_env):
    kms = esdk_env.client()
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    ct, _ = client().encrypt(source=b"x", key_provider=strict([arn]), encryption_context=EC)
    kms.disable_key(KeyId=arn)
    with pytest.raises(DecryptKeyError):
        client().decrypt(source=ct, key_provider=strict([arn]))
    kms.enable_key(KeyId=arn)
    assert client().decrypt(source=ct, key_provider=strict([arn]))[0] == b"x"


def test_rotation_does_not_break_existing_messages(esdk_env):
    kms = esdk_env.client()
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    ct, _ = client().encrypt(source=b"before rotation", key_provider=strict([arn]), encryption_context=EC)
    kms.rotate_key_on_demand(KeyId=arn)
    ct2, _ = client().encrypt(source=b"after rotation", key_provider=strict([arn]), encryption_context=EC)
    assert client().decrypt(source=ct, key_provider=strict([arn]))[0] == b"before rotation"
    assert client().decrypt(source=ct2, key_provider=strict([arn]))[0] == b"after rotation"
