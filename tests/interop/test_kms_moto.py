"""The CLI's KMS keyring against moto (a third-party KMS emulator): round trips, strict and
discovery decrypt, context checks, typed KMS errors, and real SigV4 (strict moto) with static
and session credentials. KMS call counts come from the CLI's --kms-stats line."""
import json
import time

import pytest

from cli_fixture import run_cli

PLAINTEXT = b"envelope through moto\n" * 1000


def kms_stats(proc) -> dict:
    for line in proc.stderr.decode().splitlines():
        if line.startswith("kms-envelope: kms-stats: "):
            return json.loads(line.split("kms-stats: ", 1)[1])
    raise AssertionError(f"no kms-stats line in stderr: {proc.stderr.decode()}")


def calls(stats, op):
    return stats["operations"].get(op, {}).get("calls", 0)


def error_code(proc) -> str:
    for line in proc.stderr.decode().splitlines():
        if line.startswith("kms-envelope: error: "):
            return line.split("error: ", 1)[1].split(":", 1)[0]
    raise AssertionError(f"no error line in stderr: {proc.stderr.decode()}")


@pytest.fixture
def plain(tmp_path):
    p = tmp_path / "plain.bin"
    p.write_bytes(PLAINTEXT)
    return p


def encrypt(m, tmp_path, plain, *keys, env=None, extra=()):
    ct = tmp_path / "msg.ct"
    args = ["encrypt", "--in", plain, "--out", ct, "--context", "purpose=moto-test", "--kms-stats", *extra]
    for k in keys:
        args += ["--kms-key", k]
    proc = run_cli(*args, env=env or m.env())
    return ct, proc


def test_cli_round_trip_records_the_key_arn_and_one_call_each_way(moto, tmp_path, plain):
    key = moto.create_key()
    ct, enc = encrypt(moto, tmp_path, plain, key)
    assert calls(kms_stats(enc), "GenerateDataKey") == 1 and kms_stats(enc)["kms_calls"] == 1
    header = json.loads(run_cli("inspect", "--in", ct).stdout)
    assert [e["provider_id"] for e in header["encrypted_data_keys"]] == ["aws-kms"]
    assert header["encrypted_data_keys"][0]["provider_info"] == key
    out = tmp_path / "out.bin"
    dec = run_cli("decrypt", "--in", ct, "--out", out, "--kms-key", key, "--kms-stats", env=moto.env())
    assert out.read_bytes() == PLAINTEXT
    assert kms_stats(dec)["kms_calls"] == 1 and calls(kms_stats(dec), "Decrypt") == 1


def test_alias_generator_stores_the_key_arn(moto, tmp_path, plain):
    key = moto.create_key()
    moto.kms().create_alias(AliasName="alias/kms-envelope-test", TargetKeyId=key)
    ct, _ = encrypt(moto, tmp_path, plain, "alias/kms-envelope-test")
    header = json.loads(run_cli("inspect", "--in", ct).stdout)
    assert header["encrypted_data_keys"][0]["provider_info"] == key
    run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, env=moto.env())
    assert (tmp_path / "o").read_bytes() == PLAINTEXT


def test_second_key_wraps_with_encrypt_and_decrypts_alone(moto, tmp_path, plain):
    primary, dr = moto.create_key("primary"), moto.create_key("disaster recovery")
    ct, enc = encrypt(moto, tmp_path, plain, primary, dr)
    st = kms_stats(enc)
    assert (calls(st, "GenerateDataKey"), calls(st, "Encrypt")) == (1, 1)
    out = tmp_path / "o"
    run_cli("decrypt", "--in", ct, "--out", out, "--kms-key", dr, env=moto.env())
    assert out.read_bytes() == PLAINTEXT


def test_discovery_decrypt_honours_the_account_filter(moto, tmp_path, plain):
    key = moto.create_key()
    ct, _ = encrypt(moto, tmp_path, plain, key)
    out = tmp_path / "o"
    run_cli("decrypt", "--in", ct, "--out", out, "--kms-discovery", "--discovery-account", "123456789012", env=moto.env())
    assert out.read_bytes() == PLAINTEXT
    other = run_cli(
        "decrypt", "--in", ct, "--out", tmp_path / "o2", "--kms-discovery", "--discovery-account", "999999999999",
        "--kms-stats", env=moto.env(), check=False,
    )
    assert other.returncode != 0 and error_code(other) == "NO_DECRYPTABLE_KEY"
    assert kms_stats(other)["kms_calls"] == 0
    assert not (tmp_path / "o2").exists()


def test_wrong_required_context_is_context_mismatch_before_any_kms_call(moto, tmp_path, plain):
    key = moto.create_key()
    ct, _ = encrypt(moto, tmp_path, plain, key)
    proc = run_cli(
        "decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, "--require-context", "purpose=other",
        "--kms-stats", env=moto.env(), check=False,
    )
    assert proc.returncode != 0 and error_code(proc) == "CONTEXT_MISMATCH"
    assert kms_stats(proc)["kms_calls"] == 0, "the context is checked before KMS is called"


def test_wrong_reproduced_context_surfaces_kms_invalid_ciphertext(moto, tmp_path, plain):
    # tenant is bound but not stored: only KMS (and the header tag) can tell the value is wrong.
    key = moto.create_key()
    ct, _ = encrypt(moto, tmp_path, plain, key, extra=("--context", "tenant=a", "--required-context-key", "tenant"))
    proc = run_cli(
        "decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, "--require-context", "tenant=b",
        "--kms-stats", env=moto.env(), check=False,
    )
    assert proc.returncode != 0 and error_code(proc) == "KMS_INVALID_CIPHERTEXT"
    st = kms_stats(proc)
    assert st["errors"] == {"KMS_INVALID_CIPHERTEXT": 1} and st["retried_errors"] == {}, "not retried"
    run_cli("decrypt", "--in", ct, "--out", tmp_path / "ok", "--kms-key", key, "--require-context", "tenant=a",
            env=moto.env())
    assert (tmp_path / "ok").read_bytes() == PLAINTEXT


def test_other_key_arn_does_not_match_and_calls_nothing(moto, tmp_path, plain):
    key, other = moto.create_key(), moto.create_key()
    ct, _ = encrypt(moto, tmp_path, plain, key)
    proc = run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", other, "--kms-stats",
                   env=moto.env(), check=False)
    assert error_code(proc) == "NO_DECRYPTABLE_KEY" and kms_stats(proc)["kms_calls"] == 0


def test_unknown_key_is_kms_not_found(moto, tmp_path, plain):
    missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    proc = run_cli("encrypt", "--in", plain, "--out", tmp_path / "ct", "--kms-key", missing, env=moto.env(),
                   check=False)
    assert proc.returncode == 1 and error_code(proc) == "KMS_NOT_FOUND"
    assert not (tmp_path / "ct").exists(), "no partial output"


def test_kms_call_cost_is_reported(moto, tmp_path, plain):
    """Not an assertion on time: prints the per-call KMS latency the CLI measured (see -s)."""
    key = moto.create_key()
    enc_ms, dec_ms, wall = [], [], []
    for i in range(10):
        t0 = time.monotonic()
        ct, enc = encrypt(moto, tmp_path, plain, key)
        dec = run_cli("decrypt", "--in", ct, "--out", tmp_path / f"o{i}", "--kms-key", key, "--kms-stats",
                      env=moto.env())
        wall.append((time.monotonic() - t0) * 1000)
        enc_ms.append(kms_stats(enc)["operations"]["GenerateDataKey"]["total_ms"])
        dec_ms.append(kms_stats(dec)["operations"]["Decrypt"]["total_ms"])
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    print(f"\nmoto GenerateDataKey median {med(enc_ms):.1f} ms, Decrypt median {med(dec_ms):.1f} ms, "
          f"encrypt+decrypt CLI wall median {med(wall):.1f} ms (10 runs, {len(PLAINTEXT)} bytes)")


# ---- strict moto: SigV4 is verified ---------------------------------------------------------


def test_strict_sigv4_static_credentials_round_trip(moto_strict, tmp_path, plain):
    key = moto_strict.create_key()
    ct, _ = encrypt(moto_strict, tmp_path, plain, key)
    run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, env=moto_strict.env())
    assert (tmp_path / "o").read_bytes() == PLAINTEXT


def test_strict_sigv4_session_credentials_round_trip(moto_strict, tmp_path, plain):
    key = moto_strict.create_key()
    env = moto_strict.env(**moto_strict.temp_creds)
    assert env["AWS_SESSION_TOKEN"]
    ct, _ = encrypt(moto_strict, tmp_path, plain, key, env=env)
    run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, env=env)
    assert (tmp_path / "o").read_bytes() == PLAINTEXT


def test_strict_wrong_secret_is_access_denied_and_not_retried(moto_strict, tmp_path, plain):
    key = moto_strict.create_key()
    env = moto_strict.env(secret_key="wrong-secret")
    proc = run_cli("encrypt", "--in", plain, "--out", tmp_path / "ct", "--kms-key", key, "--kms-stats",
                   env=env, check=False)
    assert error_code(proc) == "KMS_ACCESS_DENIED"
    assert kms_stats(proc)["operations"]["GenerateDataKey"]["attempts"] == 1


def test_strict_session_credentials_without_token_are_access_denied(moto_strict, tmp_path, plain):
    key = moto_strict.create_key()
    creds = {**moto_strict.temp_creds, "session_token": None}
    proc = run_cli("encrypt", "--in", plain, "--out", tmp_path / "ct", "--kms-key", key,
                   env=moto_strict.env(**creds), check=False)
    assert error_code(proc) == "KMS_ACCESS_DENIED"


def test_loopback_endpoint_without_credentials_uses_dummy_sigv4(moto, tmp_path, plain):
    # moto routes by the SigV4 credential scope, so even "no credentials" must send one.
    key = moto.create_key()
    env = {k: v for k, v in moto.env().items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    ct, _ = encrypt(moto, tmp_path, plain, key, env=env)
    run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, env=env)
    assert (tmp_path / "o").read_bytes() == PLAINTEXT


def test_kms_endpoint_flag_overrides_the_environment(moto, tmp_path, plain):
    key = moto.create_key()
    env = {**moto.env(), "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:9"}  # nothing listens there
    ct, _ = encrypt(moto, tmp_path, plain, key, env=env, extra=("--kms-endpoint", moto.url))
    broken = run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, env=env, check=False)
    assert error_code(broken) == "KMS_NETWORK"
    run_cli("decrypt", "--in", ct, "--out", tmp_path / "o", "--kms-key", key, "--kms-endpoint", moto.url, env=env)
    assert (tmp_path / "o").read_bytes() == PLAINTEXT
