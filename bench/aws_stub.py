"""Canned answers for the AWS calls the receiver and the processors make, shared by the HTTP stub
server (cold starts: the real network path) and the botocore before-send stub (warm requests: CPU
only). DynamoDB holds nothing here: every callback a processor meets is new to it."""

from __future__ import annotations

import hashlib
import json
import uuid

SECRET_STRING = json.dumps({"token": "local-dev-token"})


def answer(target: str, request_body: bytes) -> bytes:
    """The JSON-protocol response body for an X-Amz-Target such as AmazonSQS.SendMessage."""
    if target.endswith("SendMessage"):
        message = json.loads(request_body)["MessageBody"]
        return json.dumps(
            {
                "MD5OfMessageBody": hashlib.md5(message.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
                "MessageId": str(uuid.uuid4()),
            }
        ).encode()
    if target.endswith("GetSecretValue"):
        return json.dumps(
            {"ARN": "arn", "Name": "webhook", "SecretString": SECRET_STRING, "VersionId": "v1"}
        ).encode()
    if target.startswith("DynamoDB_20120810."):
        return b"{}"  # GetItem: no item; writes: done
    if target.endswith("PutEvents"):
        count = len(json.loads(request_body)["Entries"])
        entries = [{"EventId": str(uuid.uuid4())} for _ in range(count)]
        return json.dumps({"FailedEntryCount": 0, "Entries": entries}).encode()
    raise ValueError(f"the stub does not answer {target}")
