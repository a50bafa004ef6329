"""Canned answers for the AWS calls the receiver and the processors make, shared by the HTTP stub
server (cold starts: the real network path) and the botocore before-send stub (warm requests: CPU
only). DynamoDB holds nothing here: every callback a processor meets is new to it."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

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


def answer_in_process(session: boto3.Session, delay_seconds: float = 0) -> None:
    """Answer every AWS call made through `session` in-process (botocore before-send) with
    `answer`, after `delay_seconds` (a simulated round trip): botocore's own work stays real."""
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415

    class Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Any:  # noqa: ANN401
            yield self.body

    def before_send(request: Any, **_: Any) -> AWSResponse:  # noqa: ANN401
        if delay_seconds:
            time.sleep(delay_seconds)
        body = answer(request.headers["X-Amz-Target"].decode(), request.body)
        return AWSResponse(request.url, 200, {}, Raw(body))  # type: ignore[arg-type]

    session.events.register("before-send", before_send)  # type: ignore[arg-type]
