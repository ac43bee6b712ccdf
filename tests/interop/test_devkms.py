"""kms-dev-server driven by unmodified boto3 (and raw HTTP where boto3 hides the wire).

Each test starts its own server (fixture `devkms`, or `devkms_factory` for flags).
"""
import base64
import datetime
import http.client
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import uuid

import pytest
from botocore.exceptions import ClientError

from devkms_fixture import devkms, devkms_factory  # noqa: F401  (also loaded by conftest.py)


# ---- helpers ----------------------------------------------------------------------------------

def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def raw(server, op=None, body=b"{}", method="POST", path="/", headers=None, target=None):
    """One raw HTTP request; returns (status, headers dict lowercased, body bytes)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    h = {"Content-Type": "application/x-amz-json-1.1"}
    if op is not None or target is not None:
        h["X-Amz-Target"] = target or f"TrentService.{op}"
    h.update(headers or {})
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def assert_kms_error(status, headers, body, error_type, http_status=400):
    assert status == http_status, (status, body)
    assert headers["content-type"] == "application/x-amz-json-1.1"
    doc = json.loads(body)
    assert doc["__type"] == error_type, doc
    assert headers["x-amzn-errortype"] == error_type
    return doc


def blob_version(blob: bytes) -> int:
    """Key version from our (server-private) blob header: "KD" 0x01 uuid(16) version(u32 BE)."""
    assert blob[:3] == b"KD\x01"
    return int.from_bytes(blob[19:23], "big")


@pytest.fixture
def kms(devkms):
    return devkms.client()


@pytest.fixture
def key(kms):
    return kms.create_key(Description="test key")["KeyMetadata"]


# ---- keys, ids, ARNs, aliases -----------------------------------------------------------------

def test_create_key_metadata_is_kms_shaped(devkms, kms):
    md = kms.create_key(Description="hello", KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
    uuid.UUID(md["KeyId"])
    assert md["Arn"] == f"arn:aws:kms:us-east-1:111122223333:key/{md['KeyId']}"
    assert (devkms.region, devkms.account) == ("us-east-1", "111122223333")
    assert md["AWSAccountId"] == "111122223333"
    assert md["Description"] == "hello"
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT" and md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["Origin"] == "AWS_KMS" and md["KeyManager"] == "CUSTOMER"
    assert isinstance(md["CreationDate"], datetime.datetime)
    # Defaults as in AWS (moto returns KeyUsage null for an empty CreateKey).
    assert kms.create_key()["KeyMetadata"]["KeyUsage"] == "ENCRYPT_DECRYPT"


def test_update_key_description(kms, key):
    kms.update_key_description(KeyId=key["Arn"], Description="renamed")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "renamed"


def test_unsupported_key_specs_are_refused(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert error_code(e) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:
        kms.create_key(MultiRegion=True)
    assert error_code(e) == "UnsupportedOperationException"


def test_every_key_id_form_resolves_to_the_key_arn(kms, key):
    kms.create_alias(AliasName="alias/forms", TargetKeyId=key["KeyId"])
    alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/forms"
    for key_id in (key["KeyId"], key["Arn"], "alias/forms", alias_arn):
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] == key["Arn"], key_id
        out = kms.generate_data_key(KeyId=key_id, NumberOfBytes=32)
        assert out["KeyId"] == key["Arn"], key_id
        enc = kms.encrypt(KeyId=key_id, Plaintext=b"x")
        assert enc["KeyId"] == key["Arn"], key_id


def test_unknown_keys_and_foreign_arns_are_not_found(kms, key):
    other_region = key["Arn"].replace("us-east-1", "eu-west-1")
    other_account = key["Arn"].replace("111122223333", "999999999999")
    for key_id in (str(uuid.uuid4()), "alias/missing", other_region, other_account, "nope"):
        with pytest.raises(ClientError) as e:
            kms.describe_key(KeyId=key_id)
        assert error_code(e) == "NotFoundException", key_id
        with pytest.raises(ClientError) as e:
            kms.encrypt(KeyId=key_id, Plaintext=b"x")
        assert error_code(e) == "NotFoundException", key_id


def test_key_management_operations_refuse_aliases_like_kms(kms, key):
    kms.create_alias(AliasName="alias/mgmt", TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.disable_key(KeyId="alias/mgmt")
    assert error_code(e) == "NotFoundException"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_list_keys_pages_with_markers(kms):
    created = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
    page = kms.list_keys(Limit=2)
    assert page["Truncated"] is True and len(page["Keys"]) == 2
    seen = [k["KeyId"] for k in page["Keys"]]
    while page["Truncated"]:
        page = kms.list_keys(Limit=2, Marker=page["NextMarker"])
        seen += [k["KeyId"] for k in page["Keys"]]
    assert seen == created
    assert all(k["KeyArn"].endswith(k["KeyId"]) for k in kms.list_keys()["Keys"])
    with pytest.raises(ClientError) as e:
        kms.list_keys(Marker="not-a-marker")
    assert error_code(e) == "InvalidMarkerException"


def test_alias_lifecycle_create_list_update_delete(kms):
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=k1["KeyId"])
    kms.create_alias(AliasName="alias/other", TargetKeyId=k2["Arn"])
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/app"]["TargetKeyId"] == k1["KeyId"]
    assert aliases["alias/app"]["AliasArn"] == "arn:aws:kms:us-east-1:111122223333:alias/app"
    only_k1 = kms.list_aliases(KeyId=k1["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in only_k1] == ["alias/app"]

    kms.update_alias(AliasName="alias/app", TargetKeyId=k2["KeyId"])
    assert kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == k2["KeyId"]

    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/app", TargetKeyId=k1["KeyId"])
    assert error_code(e) == "AlreadyExistsException"
    for bad in ("no-prefix", "alias/aws/reserved"):
        with pytest.raises(ClientError) as e:
            kms.create_alias(AliasName=bad, TargetKeyId=k1["KeyId"])
        assert error_code(e) == "InvalidAliasNameException", bad
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/has space", TargetKeyId=k1["KeyId"])
    assert error_code(e) == "ValidationException"

    kms.delete_alias(AliasName="alias/app")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/app")
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        kms.delete_alias(AliasName="alias/app")
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        kms.update_alias(AliasName="alias/app", TargetKeyId=k1["KeyId"])
    assert error_code(e) == "NotFoundException"


# ---- data keys, encrypt, decrypt, re-encrypt --------------------------------------------------

def test_generate_data_key_sizes_and_round_trip(kms, key):
    ec = {"purpose": "test", "file": "a.txt"}
    for kwargs, size in (({"NumberOfBytes": 32}, 32), ({"KeySpec": "AES_256"}, 32),
                         ({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 1}, 1), ({"NumberOfBytes": 1024}, 1024)):
        out = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=ec, **kwargs)
        assert len(out["Plaintext"]) == size and out["KeyId"] == key["Arn"]
        dec = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=ec)
        assert dec["Plaintext"] == out["Plaintext"] and dec["KeyId"] == key["Arn"]
    no_pt = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=ec)
    assert "Plaintext" not in no_pt and no_pt["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=no_pt["CiphertextBlob"], EncryptionContext=ec)["Plaintext"]) == 32
    # Data keys are random, not derived from anything stable.
    a = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32)["Plaintext"]
    b = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32)["Plaintext"]
    assert a != b


def test_generate_data_key_parameter_validation(kms, key):
    for kwargs in ({}, {"NumberOfBytes": 1025}, {"NumberOfBytes": 32, "KeySpec": "AES_256"}):
        with pytest.raises(ClientError) as e:
            kms.generate_data_key(KeyId=key["KeyId"], **kwargs)
        assert error_code(e) == "ValidationException", kwargs


def test_encrypt_decrypt_round_trip_with_and_without_key_id(kms, key):
    ec = {"tenant": "42"}
    enc = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello kms", EncryptionContext=ec)
    assert enc["KeyId"] == key["Arn"] and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    for kwargs in ({}, {"KeyId": key["Arn"]}, {"KeyId": key["KeyId"]}):
        dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ec, **kwargs)
        assert dec["Plaintext"] == b"hello kms" and dec["KeyId"] == key["Arn"]
        assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    # Empty and omitted contexts are the same, as in KMS.
    enc2 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={})
    assert kms.decrypt(CiphertextBlob=enc2["CiphertextBlob"])["Plaintext"] == b"x"
    big = os.urandom(4096)
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key["KeyId"], Plaintext=big)["CiphertextBlob"])["Plaintext"] == big


def test_encrypt_plaintext_size_limits(devkms, key):
    for pt in (b"", b"x" * 4097):
        st, h, body = raw(devkms, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": base64.b64encode(pt).decode()})
        assert_kms_error(st, h, body, "ValidationException")


def test_wrong_missing_or_extra_context_is_invalid_ciphertext(kms, key):
    ec = {"a": "1", "b": "2"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s", EncryptionContext=ec)["CiphertextBlob"]
    for wrong in ({}, {"a": "1"}, {"a": "1", "b": "3"}, {"a": "1", "b": "2", "c": "3"}, {"A": "1", "b": "2"}):
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert error_code(e) == "InvalidCiphertextException", wrong
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"b": "2", "a": "1"})["Plaintext"] == b"s"


def test_context_binding_is_unambiguous_unlike_concatenation(kms, key):
    # moto concatenates key||value, so these three decrypt each other's ciphertexts there.
    contexts = [{"ab": "c"}, {"a": "bc"}, {"abc": ""}, {"a": "b", "c": ""}]
    for i, enc_ec in enumerate(contexts):
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext=enc_ec)["CiphertextBlob"]
        for j, dec_ec in enumerate(contexts):
            if i == j:
                assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=dec_ec)["Plaintext"] == b"p"
            else:
                with pytest.raises(ClientError) as e:
                    kms.decrypt(CiphertextBlob=blob, EncryptionContext=dec_ec)
                assert error_code(e) == "InvalidCiphertextException", (enc_ec, dec_ec)


def test_decrypt_naming_another_key_is_incorrect_key(kms, key):
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    for key_id in (other["KeyId"], other["Arn"]):
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=blob, KeyId=key_id)
        assert error_code(e) == "IncorrectKeyException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=str(uuid.uuid4()))
    assert error_code(e) == "NotFoundException"


def test_tampered_truncated_or_foreign_blobs_are_invalid_ciphertext(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    candidates = [bytes([0x01] * 80), blob[:-1], blob[:10], b"\x00", blob + b"\x00"]
    for i in (0, 3, 10, 20, 25, len(blob) - 1):
        t = bytearray(blob)
        t[i] ^= 0x01
        candidates.append(bytes(t))
    for c in candidates:
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=c)
        assert error_code(e) == "InvalidCiphertextException", c.hex()


def test_re_encrypt_moves_to_destination_key_and_context(kms, key):
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"stage": "one"})["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"stage": "one"},
                         DestinationKeyId=dest["KeyId"], DestinationEncryptionContext={"stage": "two"})
    assert out["KeyId"] == dest["Arn"] and out["SourceKeyId"] == key["Arn"]
    dec = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"stage": "two"})
    assert dec["Plaintext"] == b"move me" and dec["KeyId"] == dest["Arn"]
    with pytest.raises(ClientError) as e:
        kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"stage": "wrong"}, DestinationKeyId=dest["KeyId"])
    assert error_code(e) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as e:
        kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"stage": "one"},
                       SourceKeyId=dest["KeyId"], DestinationKeyId=dest["KeyId"])
    assert error_code(e) == "IncorrectKeyException"


def test_dry_run_checks_everything_then_answers_412(kms, key):
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32, DryRun=True)
    assert error_code(e) == "DryRunOperationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    assert error_code(e) == "DisabledException"


def test_generate_random(kms):
    r = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    assert len(r) == 64 and r != kms.generate_random(NumberOfBytes=64)["Plaintext"]


# ---- lifecycle ---------------------------------------------------------------------------------

def test_disabled_key_refuses_crypto_until_enabled(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    md = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and md["Enabled"] is False
    calls = [
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s"),
        lambda: kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32),
        lambda: kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=32),
        lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key["KeyId"]),
        lambda: kms.rotate_key_on_demand(KeyId=key["KeyId"]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"s"


def test_pending_deletion_is_invalid_state_and_cancel_leaves_key_disabled(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    for days in (6, 31):
        with pytest.raises(ClientError) as e:
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=days)
        assert error_code(e) == "ValidationException", days
    before = datetime.datetime.now(datetime.timezone.utc)
    out = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["KeyId"] == key["Arn"] and out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    delta = out["DeletionDate"] - before
    assert datetime.timedelta(days=7) - datetime.timedelta(minutes=1) < delta < datetime.timedelta(days=7, minutes=1)
    md = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion" and md["Enabled"] is False and "DeletionDate" in md
    for call in (lambda: kms.decrypt(CiphertextBlob=blob),
                 lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s"),
                 lambda: kms.enable_key(KeyId=key["KeyId"]),
                 lambda: kms.disable_key(KeyId=key["KeyId"]),
                 lambda: kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7),
                 lambda: kms.create_alias(AliasName="alias/late", TargetKeyId=key["KeyId"])):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "KMSInvalidStateException"

    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    md = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and "DeletionDate" not in md
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "DisabledException"
    with pytest.raises(ClientError) as e:
        kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert error_code(e) == "KMSInvalidStateException"
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"s"


def test_rotation_keeps_old_ciphertexts_and_new_ones_use_new_version(devkms, kms, key):
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"])
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    assert status["KeyId"] == key["Arn"] and "NextRotationDate" in status
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 90
    for days in (89, 2561):   # boto3 would refuse these client-side, so send them raw
        st, h, body = raw(devkms, "EnableKeyRotation", {"KeyId": key["KeyId"], "RotationPeriodInDays": days})
        assert_kms_error(st, h, body, "ValidationException")

    old = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"v1", EncryptionContext={"v": "1"})["CiphertextBlob"]
    old_dk = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32)
    assert blob_version(old) == 1
    assert kms.rotate_key_on_demand(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    new = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"v2")["CiphertextBlob"]
    assert blob_version(new) == 2
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert blob_version(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"v3")["CiphertextBlob"]) == 3
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext={"v": "1"})["Plaintext"] == b"v1"
    assert kms.decrypt(CiphertextBlob=old_dk["CiphertextBlob"])["Plaintext"] == old_dk["Plaintext"]
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"v2"
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND", "ON_DEMAND"]
    # Re-encrypting an old ciphertext upgrades it to the current version.
    assert blob_version(kms.re_encrypt(CiphertextBlob=old, SourceEncryptionContext={"v": "1"},
                                       DestinationKeyId=key["KeyId"])["CiphertextBlob"]) == 3
    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


# ---- wire-level errors --------------------------------------------------------------------------

def test_malformed_requests_get_kms_json_errors_not_html(devkms, key):
    cases = [
        ({"op": "ListKeys", "body": b"{not json"}, "SerializationException"),
        ({"op": "ListKeys", "body": b"[1,2]"}, "SerializationException"),
        ({"op": "GenerateDataKey", "body": {"KeyId": key["KeyId"], "NumberOfBytes": "32"}}, "SerializationException"),
        ({"op": "Encrypt", "body": {"KeyId": key["KeyId"], "Plaintext": "***"}}, "SerializationException"),
        ({"op": "Encrypt", "body": {"KeyId": key["KeyId"], "Plaintext": "aGk=", "EncryptionContext": {"a": 1}}},
         "SerializationException"),
        ({"op": "Encrypt", "body": {"Plaintext": "aGk="}}, "ValidationException"),
        ({"op": "NoSuchOperation"}, "UnknownOperationException"),
        ({"target": "Other.ListKeys"}, "UnknownOperationException"),
        ({}, "UnknownOperationException"),
    ]
    for kwargs, error_type in cases:
        st, h, body = raw(devkms, **kwargs)
        doc = assert_kms_error(st, h, body, error_type)
        assert h["x-amzn-requestid"]
        assert "message" in doc, doc
    st, h, body = raw(devkms, method="GET", path="/nowhere")
    assert st == 404 and json.loads(body)["__type"]


def test_hostile_http_never_takes_the_server_down(devkms):
    import socket
    # (payload, whether a JSON error reply must come back). Where the server stops reading early
    # (an oversized header), the client may see a reset instead of the 431, which is fine.
    payloads = [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64), False),   # a TLS ClientHello
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 100_000 + b"\r\n\r\n", False),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n", True),
        (b"POST / HTTP/1.1\r\nX-Amz-Target: TrentService.Decrypt\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00{}", True),
        (b"GET / HTTP/9.9\r\n\r\n", True),
        (os.urandom(2048), False),
    ]
    for payload, must_reply in payloads:
        reply = b""
        with socket.create_connection((devkms.host, devkms.port), timeout=10) as s:
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            try:
                while chunk := s.recv(65536):
                    reply += chunk
            except OSError:
                pass
        if must_reply or reply:
            assert reply.split(b" ")[1][:1] in (b"4", b"5"), reply[:80]
            assert b"\r\n\r\n{\"__type\"" in reply, reply[:200]
            assert b"text/html" not in reply
    st, _, body = raw(devkms, method="GET", path="/health")
    assert (st, json.loads(body)) == (200, {"status": "ok"})
    assert devkms.proc.poll() is None


def test_health_endpoint_and_ready_line(devkms):
    st, h, body = raw(devkms, method="GET", path="/health")
    assert st == 200 and json.loads(body) == {"status": "ok"}
    assert devkms.port != 0 and devkms.url == f"http://127.0.0.1:{devkms.port}"
    assert devkms.ready_line == f"kms-dev-server ready on http://127.0.0.1:{devkms.port} (region us-east-1, account 111122223333)"
    assert "development" in devkms.stderr_text().lower()


# ---- CORS --------------------------------------------------------------------------------------

SDK_HEADERS = ["content-type", "x-amz-target", "x-amz-date", "authorization", "x-amz-security-token",
               "x-amz-user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "x-amz-content-sha256"]


def preflight(server, origin):
    return raw(server, method="OPTIONS", body=b"", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": ",".join(SDK_HEADERS)})


def test_cors_preflight_allows_localhost_origins_with_sdk_headers(devkms, key):
    for origin in ("http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000"):
        st, h, _ = preflight(devkms, origin)
        assert st == 204 and h["access-control-allow-origin"] == origin
        allowed = {x.strip().lower() for x in h["access-control-allow-headers"].split(",")}
        assert set(SDK_HEADERS) <= allowed
        assert "POST" in h["access-control-allow-methods"]
        assert h["access-control-expose-headers"] == "x-amzn-RequestId, x-amzn-ErrorType, Date"
    st, h, body = raw(devkms, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": "aGk="},
                      headers={"Origin": "http://localhost:5173"})
    assert st == 200 and h["access-control-allow-origin"] == "http://localhost:5173"
    assert "x-amzn-requestid" in h["access-control-expose-headers"].lower()
    # Errors carry CORS headers too, or a page could not read them.
    st, h, body = raw(devkms, "Decrypt", {"CiphertextBlob": "AAAA"}, headers={"Origin": "http://localhost:5173"})
    assert st == 400 and h["access-control-allow-origin"] == "http://localhost:5173"


def test_cors_refuses_other_origins_even_server_side(devkms, key):
    st, h, _ = preflight(devkms, "http://evil.example")
    assert st == 403 and "access-control-allow-origin" not in h
    st, h, body = raw(devkms, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": "aGk="},
                      headers={"Origin": "http://localhost.evil.example:80"})
    assert st == 403 and json.loads(body)["__type"] == "AccessDeniedException"
    assert "access-control-allow-origin" not in h


def test_cors_configured_origins(devkms_factory):
    star = devkms_factory("--allow-origin", "*")
    st, h, _ = preflight(star, "https://anything.example")
    assert st == 204 and h["access-control-allow-origin"] == "*"
    only = devkms_factory("--allow-origin", "https://app.example.com")
    assert preflight(only, "https://app.example.com")[0] == 204
    assert preflight(only, "http://localhost:5173")[0] == 403


# ---- auth modes ----------------------------------------------------------------------------------

def test_bearer_mode_accepts_the_token_and_denies_everything_else(devkms_factory):
    server = devkms_factory("--bearer-token", "letmein")
    ok = raw(server, "CreateKey", {}, headers={"Authorization": "Bearer letmein"})
    assert ok[0] == 200 and json.loads(ok[2])["KeyMetadata"]["KeyState"] == "Enabled"
    assert_kms_error(*raw(server, "ListKeys", headers={"Authorization": "Bearer wrong"}), "AccessDeniedException")
    assert_kms_error(*raw(server, "ListKeys"), "MissingAuthenticationTokenException")
    with pytest.raises(ClientError) as e:
        server.client().list_keys()   # boto3 signs SigV4; this server takes only the bearer token
    assert error_code(e) == "AccessDeniedException"
    st, _, body = raw(server, method="GET", path="/audit?limit=5", headers={"Authorization": "Bearer letmein"})
    assert st == 200 and isinstance(json.loads(body), list)
    assert raw(server, method="GET", path="/audit")[0] == 400


def test_sigv4_verification_with_right_and_wrong_secret(devkms_factory):
    server = devkms_factory("--access-key", "AKIDDEVKMS:right-secret", "--access-key", "AKIDOTHER:other-secret")
    good = server.client(access_key="AKIDDEVKMS", secret_key="right-secret")
    key_id = good.create_key()["KeyMetadata"]["KeyId"]
    blob = good.encrypt(KeyId=key_id, Plaintext=b"signed", EncryptionContext={"a": "b"})["CiphertextBlob"]
    other = server.client(access_key="AKIDOTHER", secret_key="other-secret")
    assert other.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"signed"

    with pytest.raises(ClientError) as e:
        server.client(access_key="AKIDDEVKMS", secret_key="wrong-secret").list_keys()
    assert error_code(e) == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        server.client(access_key="AKIDUNKNOWN", secret_key="right-secret").list_keys()
    assert error_code(e) == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        import boto3
        from botocore.config import Config
        boto3.client("kms", endpoint_url=server.url, region_name="eu-west-1", aws_access_key_id="AKIDDEVKMS",
                     aws_secret_access_key="right-secret", config=Config(retries={"max_attempts": 1})).list_keys()
    assert error_code(e) == "InvalidSignatureException"
    assert_kms_error(*raw(server, "ListKeys"), "MissingAuthenticationTokenException")
    fake = "AWS4-HMAC-SHA256 Credential=AKIDDEVKMS/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00"
    assert raw(server, "ListKeys", headers={"Authorization": fake})[0] == 400
    # The audit view needs the same authentication as the API.
    assert_kms_error(*raw(server, method="GET", path="/audit", headers={"Authorization": "Bearer x"}),
                     "AccessDeniedException")


def test_sigv4_with_session_token_requires_that_token(devkms_factory):
    server = devkms_factory("--access-key", "ASIATEMP:temp-secret:the-session-token")
    ok = server.client(access_key="ASIATEMP", secret_key="temp-secret", session_token="the-session-token")
    assert ok.list_keys()["Keys"] == []
    for token in (None, "another-token"):
        with pytest.raises(ClientError) as e:
            server.client(access_key="ASIATEMP", secret_key="temp-secret", session_token=token).list_keys()
        assert error_code(e) == "UnrecognizedClientException", token


def test_lenient_mode_records_the_claimed_access_key(devkms):
    devkms.client(access_key="AKIDCLAIMED").list_keys()
    entries = json.loads(raw(devkms, method="GET", path="/audit?limit=1")[2])
    assert entries[-1]["access_key_id"] == "AKIDCLAIMED" and entries[-1]["auth"] == "sigv4-unverified"


# ---- audit -----------------------------------------------------------------------------------------

def test_audit_log_has_one_line_per_request_and_http_view(devkms, kms, key):
    kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32, EncryptionContext={"who": "audit"})
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=b"garbage-garbage-garbage-garbage-garbage-garbage-garbage")
    st, h, body = raw(devkms, method="GET", path="/audit?limit=2", headers={"Origin": "http://localhost:8000"})
    assert st == 200 and h["access-control-allow-origin"] == "http://localhost:8000"
    entries = json.loads(body)
    assert [e["operation"] for e in entries] == ["GenerateDataKey", "Decrypt"]
    gdk, dec = entries
    assert gdk["outcome"] == "ok" and gdk["error_type"] is None
    assert gdk["key_arn"] == key["Arn"] and gdk["encryption_context"] == {"who": "audit"}
    assert gdk["access_key_id"] == "testing" and gdk["source_address"].startswith("127.0.0.1:")
    datetime.datetime.fromisoformat(gdk["time"].replace("Z", "+00:00"))
    assert dec["outcome"] == "error" and dec["error_type"] == "InvalidCiphertextException"
    lines = (devkms.data_dir / "audit.log").read_text().splitlines()
    assert [json.loads(line)["operation"] for line in lines] == ["CreateKey", "GenerateDataKey", "Decrypt"]
    assert len(json.loads(raw(devkms, method="GET", path="/audit")[2])) == 3
    assert raw(devkms, method="GET", path="/audit?limit=x")[0] == 400


# ---- persistence -----------------------------------------------------------------------------------

def test_restart_keeps_keys_aliases_states_and_old_versions(devkms_factory, tmp_path):
    data = tmp_path / "shared"
    first = devkms_factory(data_dir=data)
    kms = first.client()
    a = kms.create_key(Description="a")["KeyMetadata"]
    b = kms.create_key(Description="b")["KeyMetadata"]
    kms.create_alias(AliasName="alias/keep", TargetKeyId=a["KeyId"])
    old = kms.encrypt(KeyId="alias/keep", Plaintext=b"before", EncryptionContext={"x": "y"})["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=a["KeyId"])
    kms.enable_key_rotation(KeyId=a["KeyId"], RotationPeriodInDays=180)
    newer = kms.encrypt(KeyId="alias/keep", Plaintext=b"after")["CiphertextBlob"]
    kms.disable_key(KeyId=b["KeyId"])
    first.kill(sig=signal.SIGTERM)

    second = devkms_factory(data_dir=data)
    kms = second.client()
    assert {k["KeyId"] for k in kms.list_keys()["Keys"]} == {a["KeyId"], b["KeyId"]}
    assert kms.describe_key(KeyId="alias/keep")["KeyMetadata"]["Arn"] == a["Arn"]
    assert kms.describe_key(KeyId=b["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.get_key_rotation_status(KeyId=a["KeyId"])["RotationPeriodInDays"] == 180
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext={"x": "y"})["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=newer)["Plaintext"] == b"after"
    assert blob_version(kms.encrypt(KeyId=a["KeyId"], Plaintext=b"z")["CiphertextBlob"]) == 2


def test_data_dir_is_private_and_holds_no_plaintext_key_material(devkms, kms, key):
    mode = stat.S_IMODE(os.stat(devkms.data_dir / "master.key").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(devkms.data_dir).st_mode) == 0o700
    assert (devkms.data_dir / "master.key").stat().st_size == 32
    key_file = devkms.data_dir / "keys" / f"{key['KeyId']}.json"
    doc = json.loads(key_file.read_text())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert doc["id"] == key["KeyId"] and len(doc["versions"]) == 1
    wrapped = base64.b64decode(doc["versions"][0]["wrapped"])
    assert len(wrapped) == 12 + 32 + 16     # nonce + sealed material + tag


def test_lost_master_key_or_second_server_refuses_to_start(devkms_factory, tmp_path):
    from devkms_fixture import start_devkms
    data = tmp_path / "guarded"
    first = devkms_factory(data_dir=data)
    first.client().create_key()
    with pytest.raises(RuntimeError, match="locked"):
        start_devkms(data)
    first.kill()
    (data / "master.key").unlink()
    with pytest.raises(RuntimeError, match="master.key"):
        start_devkms(data)


def test_seed_key_creates_alias_once(devkms_factory, tmp_path):
    data = tmp_path / "seeded"
    first = devkms_factory("--seed-key", "demo", data_dir=data)
    arn = first.client().describe_key(KeyId="alias/demo")["KeyMetadata"]["Arn"]
    first.kill()
    second = devkms_factory("--seed-key", "alias/demo", data_dir=data)
    kms = second.client()
    assert kms.describe_key(KeyId="alias/demo")["KeyMetadata"]["Arn"] == arn
    assert len(kms.list_keys()["Keys"]) == 1


def test_region_and_account_flags_shape_arns(devkms_factory):
    server = devkms_factory("--region", "eu-central-1", "--account-id", "123456789012")
    assert (server.region, server.account) == ("eu-central-1", "123456789012")
    arn = server.client().create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith("arn:aws:kms:eu-central-1:123456789012:key/")


# ---- AWS CLI ---------------------------------------------------------------------------------------

def test_aws_cli_round_trip(devkms, tmp_path):
    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    if not aws:
        pytest.skip("AWS CLI (pip install awscli) is not installed")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_KMS": devkms.url, "AWS_PAGER": ""}

    def cli(*args):
        p = subprocess.run([aws, "kms", *args, "--output", "json"], env=env, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        return json.loads(p.stdout) if p.stdout.strip() else None

    key_id = cli("create-key", "--description", "cli")["KeyMetadata"]["KeyId"]
    cli("create-alias", "--alias-name", "alias/cli", "--target-key-id", key_id)
    (tmp_path / "pt").write_bytes(b"from the cli")
    enc = cli("encrypt", "--key-id", "alias/cli", "--plaintext", f"fileb://{tmp_path / 'pt'}",
              "--encryption-context", "who=cli")
    (tmp_path / "ct").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = cli("decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct'}", "--encryption-context", "who=cli")
    assert base64.b64decode(dec["Plaintext"]) == b"from the cli"
    assert dec["KeyId"].endswith(key_id)
    assert any(a["AliasName"] == "alias/cli" for a in cli("list-aliases")["Aliases"])


# ---- load benchmark (prints numbers; asserts only correctness) ----------------------------------

def test_generate_data_key_benchmark_prints_throughput_and_p99(devkms, key, capsys):
    from bench_devkms import run_bench
    result = run_bench(devkms.url, key["KeyId"], total=2000, concurrency=4)
    assert result["ok"] == 2000 and result["errors"] == 0
    with capsys.disabled():
        print("\n" + result["summary"])
