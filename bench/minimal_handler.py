"""The baseline: the least a receiver can do (parse JSON, send it to SQS)."""

import json
import os
from typing import Any

import boto3

sqs = boto3.client("sqs")
QUEUE_URL = os.environ["CALL_STATUS_QUEUE_URL"]


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    body = json.loads(event["body"])
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(body))
    return {"statusCode": 200, "body": json.dumps({"status": "accepted"})}
