"""SQS events as Lambda's event source mapping delivers them (`sam local generate-event sqs
receive-message` shape), built from received messages."""

from __future__ import annotations

import time
from typing import Any

from localaws.emulation import REGION


def sqs_event(queue_arn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """`messages` as sqs.receive_message returns them (MessageId, ReceiptHandle, Body, ...)."""
    return {"Records": [_record(queue_arn, message) for message in messages]}


def _record(queue_arn: str, message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", now_ms),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", now_ms
            ),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
