"""KMS key states through the CLI (hardening issue, part 4): a disabled key and a key pending
deletion make decrypt (and encrypt) fail with KMS_KEY_UNAVAILABLE, a non-zero exit, the code on
stderr and no output file; enabling the key / cancelling the deletion (which leaves the key
disabled, as in AWS) and enabling it make it work again. Key states are driven with boto3,
against both moto and the dev KMS server (both on 127.0.0.1, fixtures from conftest.py).

moto (5.2.5 here) does not enforce key states at all: Decrypt, Encrypt and GenerateDataKey all
succeed under a Disabled or PendingDeletion key. Each moto run first probes that with boto3; if
moto does not refuse, the moto variant is an xfail naming the probe's result (and becomes a
real test by itself on a moto that enforces key states). The dev KMS must enforce them.
"""
import pytest

from cli_fixture import run_cli

PLAINTEXT = b"key states are a KMS matter\n" * 64
UNAVAILABLE = "KMS_KEY_UNAVAILABLE"


def error_code(proc) -> str:
    for line in proc.stderr.decode().splitlines():
        if line.startswith("kms-envelope: error: "):
            return line.split("error: ", 1)[1].split(":", 1)[0]
    raise AssertionError(f"no error line in stderr: {proc.stderr.decode()!r}")


def key_id(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


class Backend:
    """One KMS endpoint: a boto3 client to drive key state, and the CLI's environment/flags."""

    def __init__(self, name, kms, url, region, env):
        self.name, self.kms, self.url, self.region, self.env = name, kms, url, region, env
        self.enforces = self._probe()

    def _probe(self) -> bool:
        """Whether this endpoint refuses Decrypt under a disabled key (boto3, no CLI)."""
        from botocore.exceptions import ClientError

        kid = key_id(self.create_key())
        blob = self.kms.encrypt(KeyId=kid, Plaintext=b"probe")["CiphertextBlob"]
        self.kms.disable_key(KeyId=kid)
        try:
            self.kms.decrypt(CiphertextBlob=blob, KeyId=kid)
        except ClientError as e:
            return e.response["Error"]["Code"] in ("DisabledException", "KMSInvalidStateException")
        return False

    def require_enforcement(self):
        if not self.enforces:
            if self.name == "devkms":
                pytest.fail("the dev KMS decrypted under a disabled key (boto3 probe)")
            pytest.xfail(f"{self.name} does not enforce key states: its Decrypt succeeded under a Disabled key")

    def create_key(self) -> str:
        return self.kms.create_key(Description=f"kms-envelope states ({self.name})", KeyUsage="ENCRYPT_DECRYPT")[
            "KeyMetadata"
        ]["Arn"]

    def state(self, arn) -> str:
        return self.kms.describe_key(KeyId=key_id(arn))["KeyMetadata"]["KeyState"]

    # Key-state calls take the bare key id: moto 5.2 answers HTTP 500 to DisableKey & co.
    # given a key ARN.
    def disable(self, arn):
        self.kms.disable_key(KeyId=key_id(arn))

    def enable(self, arn):
        self.kms.enable_key(KeyId=key_id(arn))

    def schedule_deletion(self, arn):
        self.kms.schedule_key_deletion(KeyId=key_id(arn), PendingWindowInDays=7)

    def cancel_deletion(self, arn):
        self.kms.cancel_key_deletion(KeyId=key_id(arn))

    def cli(self, *args, check=True):
        return run_cli(*args, "--kms-endpoint", self.url, "--region", self.region, env=self.env, check=check)


@pytest.fixture
def moto_backend(moto):
    return Backend("moto", moto.kms(), moto.url, moto.region, moto.env())


@pytest.fixture
def devkms_backend(devkms):
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_ENDPOINT_URL_KMS": "",
        "AWS_ENDPOINT_URL": "",
        "AWS_SESSION_TOKEN": "",
    }
    return Backend("devkms", devkms.client(), devkms.url, devkms.region, env)


@pytest.fixture(params=["moto", "devkms"])
def backend(request):
    return request.getfixturevalue(f"{request.param}_backend")


def encrypt(b, tmp_path, arn, name="msg.ct"):
    src = tmp_path / "plain.bin"
    src.write_bytes(PLAINTEXT)
    ct = tmp_path / name
    b.cli("encrypt", "--in", src, "--out", ct, "--context", "purpose=states", "--kms-key", arn)
    return ct


def decrypts(b, tmp_path, ct, arn):
    out = tmp_path / "out.bin"
    out.unlink(missing_ok=True)
    b.cli("decrypt", "--in", ct, "--out", out, "--kms-key", arn)
    assert out.read_bytes() == PLAINTEXT


def refused(b, tmp_path, ct, arn, code=UNAVAILABLE):
    out = tmp_path / "refused.bin"
    out.unlink(missing_ok=True)
    proc = b.cli("decrypt", "--in", ct, "--out", out, "--kms-key", arn, check=False)
    assert proc.returncode != 0, f"{b.name}: decrypt succeeded with the key {b.state(arn)}"
    assert error_code(proc) == code, f"{b.name}: {proc.stderr.decode()}"
    assert not out.exists(), "no output file may be left behind"
    return proc


def test_disabled_key_refuses_then_works_again_once_enabled(backend, tmp_path):
    backend.require_enforcement()
    arn = backend.create_key()
    ct = encrypt(backend, tmp_path, arn)
    decrypts(backend, tmp_path, ct, arn)

    backend.disable(arn)
    assert backend.state(arn) == "Disabled"
    refused(backend, tmp_path, ct, arn)
    # Encrypting under a disabled key fails the same way, and writes nothing.
    src = tmp_path / "plain.bin"
    out = tmp_path / "new.ct"
    proc = backend.cli("encrypt", "--in", src, "--out", out, "--kms-key", arn, check=False)
    assert proc.returncode != 0 and error_code(proc) == UNAVAILABLE, proc.stderr.decode()
    assert not out.exists()

    backend.enable(arn)
    assert backend.state(arn) == "Enabled"
    decrypts(backend, tmp_path, ct, arn)


def test_pending_deletion_refuses_and_cancelled_deletion_needs_enabling(backend, tmp_path):
    backend.require_enforcement()
    arn = backend.create_key()
    ct = encrypt(backend, tmp_path, arn)

    backend.schedule_deletion(arn)
    assert backend.state(arn) == "PendingDeletion"
    refused(backend, tmp_path, ct, arn)

    # Cancelling leaves the key disabled (AWS semantics): still refused, then enabled: works.
    backend.cancel_deletion(arn)
    assert backend.state(arn) == "Disabled"
    refused(backend, tmp_path, ct, arn)
    backend.enable(arn)
    decrypts(backend, tmp_path, ct, arn)


def test_one_unavailable_key_of_two_falls_back_to_the_other(backend, tmp_path):
    # Wrapped under two keys; the first disabled: decrypt with both configured still works
    # through the second, and with only the first it fails with the key state's code.
    backend.require_enforcement()
    first, second = backend.create_key(), backend.create_key()
    src = tmp_path / "plain.bin"
    src.write_bytes(PLAINTEXT)
    ct = tmp_path / "two.ct"
    backend.cli("encrypt", "--in", src, "--out", ct, "--kms-key", first, "--kms-key", second)
    backend.disable(first)
    out = tmp_path / "both.bin"
    backend.cli("decrypt", "--in", ct, "--out", out, "--kms-key", first, "--kms-key", second)
    assert out.read_bytes() == PLAINTEXT
    refused(backend, tmp_path, ct, first)
