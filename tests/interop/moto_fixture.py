"""pytest fixtures for moto_server as a KMS endpoint.

`moto`: a lenient moto (signatures not verified, but moto still needs a SigV4-shaped
Authorization to route to KMS) on a free 127.0.0.1 port; module-scoped; killed by PID on teardown.
`moto_strict`: a moto that verifies SigV4 after its first INITIAL_NO_AUTH_ACTION_COUNT actions;
the fixture spends those on IAM setup and exposes an IAM user's static credentials and an
assumed role's temporary (session) credentials.

Each yields a `Moto` object: `.url`, `.region`, `.kms(**creds)` (boto3 client),
`.create_key()` -> key ARN, `.env(**creds)` -> environment for the CLI / Python ESDK.
moto_server comes from the venv next to the running Python (tests/interop/requirements.txt).
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REGION = "us-east-1"
DUMMY = {"access_key": "testing", "secret_key": "testing", "session_token": None}
# IAM setup below uses exactly this many unauthenticated actions.
STRICT_FREE_ACTIONS = 5


def moto_server_bin() -> str:
    return str(Path(sys.executable).parent / "moto_server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self, proc, url, log_path, creds=None):
        self.proc = proc
        self.url = url
        self.region = REGION
        self.log_path = log_path
        self.creds = creds or dict(DUMMY)
        self.temp_creds = None

    def kms(self, **creds):
        import boto3
        from botocore.config import Config

        c = {**self.creds, **creds}
        return boto3.client(
            "kms",
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=c["access_key"],
            aws_secret_access_key=c["secret_key"],
            aws_session_token=c.get("session_token"),
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def create_key(self, description="kms-envelope test key") -> str:
        return self.kms().create_key(Description=description, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]

    def env(self, **creds) -> dict:
        """Environment for the CLI and botocore: endpoint via AWS_ENDPOINT_URL_KMS, like the AWS tools."""
        c = {**self.creds, **creds}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL_KMS=self.url,
            AWS_REGION=self.region,
            AWS_DEFAULT_REGION=self.region,
            AWS_ACCESS_KEY_ID=c["access_key"],
            AWS_SECRET_ACCESS_KEY=c["secret_key"],
            # Never read a developer's ~/.aws by accident.
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        if c.get("session_token"):
            env["AWS_SESSION_TOKEN"] = c["session_token"]
        return env


def _start(extra_env=None, timeout=30.0):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.Popen(
        [moto_server_bin(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}; log: {Path(log.name).read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            if time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"moto_server did not answer on {url} within {timeout}s")
            time.sleep(0.1)
    return proc, url, log.name


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def moto():
    proc, url, log = _start()
    try:
        yield Moto(proc, url, log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def moto_strict():
    import boto3

    proc, url, log = _start({"INITIAL_NO_AUTH_ACTION_COUNT": str(STRICT_FREE_ACTIONS)})
    try:
        boot = dict(region_name=REGION, endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x")
        iam = boto3.client("iam", **boot)
        iam.create_user(UserName="kms-envelope")  # 1
        ak = iam.create_access_key(UserName="kms-envelope")["AccessKey"]  # 2
        allow = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["kms:*", "sts:AssumeRole"], "Resource": "*"}],
        }
        iam.put_user_policy(UserName="kms-envelope", PolicyName="p", PolicyDocument=json.dumps(allow))  # 3
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:user/kms-envelope"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="kms-envelope-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]  # 4
        iam.put_role_policy(RoleName="kms-envelope-role", PolicyName="p", PolicyDocument=json.dumps(allow))  # 5
        m = Moto(proc, url, log, creds={"access_key": ak["AccessKeyId"], "secret_key": ak["SecretAccessKey"]})
        sts = boto3.client(
            "sts",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id=ak["AccessKeyId"],
            aws_secret_access_key=ak["SecretAccessKey"],
        )
        tmp = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="kms-envelope")["Credentials"]
        m.temp_creds = {
            "access_key": tmp["AccessKeyId"],
            "secret_key": tmp["SecretAccessKey"],
            "session_token": tmp["SessionToken"],
        }
        yield m
    finally:
        _stop(proc)
