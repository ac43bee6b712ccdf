"""Decrypt a file with the Python AWS Encryption SDK (4.x) through the dev KMS.

usage: esdk_decrypt.py IN OUT KEY_ARN KMS_URL [REQUIRED_CONTEXT_JSON]
Prints the message's encryption context (JSON) on success; exits non-zero otherwise."""
import json
import os
import sys

src, dst, arn, url = sys.argv[1:5]
required = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_KMS=url)
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
    os.environ.pop(var, None)

import aws_encryption_sdk  # noqa: E402
import botocore.session  # noqa: E402
from aws_encryption_sdk import CommitmentPolicy  # noqa: E402

client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore.session.Session())
with open(src, "rb") as f:
    plaintext, header = client.decrypt(source=f.read(), key_provider=provider)
ctx = dict(header.encryption_context)
for k, v in required.items():
    if ctx.get(k) != v:
        sys.exit(f"context mismatch: {k}={ctx.get(k)!r}, required {v!r}")
with open(dst, "wb") as f:
    f.write(plaintext)
print(json.dumps(ctx, sort_keys=True))
