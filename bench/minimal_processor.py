"""The baseline for a processor: the least a consumer can do (parse each record, put it)."""

import json
import os
from typing import Any

import boto3

dynamodb = boto3.client("dynamodb")
TABLE = os.environ["TABLE_NAME"]


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    for record in event["Records"]:
        queued = json.loads(record["body"])
        dynamodb.put_item(
            TableName=TABLE,
            Item={"PK": {"S": queued["event_id"]}, "SK": {"S": "E"}, "body": {"S": record["body"]}},
        )
    return {"batchItemFailures": []}
