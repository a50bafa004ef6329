"""DynamoDB requests and capacity units per callback, for each case the processors meet.

Every request the processors make is counted from botocore's own events, and priced with
DynamoDB's published sizing rules (moto does not report consumed capacity faithfully):
an item's size is its attribute names plus values; a write costs 1 unit per started KB (2 in a
transaction), a strongly consistent read 1 unit per started 4 KB; each GSI whose projected
attributes change costs a write of the projected item (a key change costs a delete and a put);
a conditional write that fails still costs its write.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common")]

import boto3  # noqa: E402
from boto3.dynamodb.types import TypeDeserializer  # noqa: E402
from exotel_webhooks.callbacks import CallbackType, build_callback  # noqa: E402
from exotel_webhooks.request_body import decode_fields  # noqa: E402
from exotel_webhooks.settings import NormalisationRules  # noqa: E402

from localaws.emulation import REGION, deploy, emulated_account_environment  # noqa: E402
from localaws.runtime import LocalLambdaContext, function_environment, load_handler  # noqa: E402
from localaws.sqs_events import sqs_event  # noqa: E402
from localaws.template import Template  # noqa: E402

PROCESSORS = {
    CallbackType.CALL_STATUS: "CallStatusProcessorFunction",
    CallbackType.CALL_SCHEDULE: "CallScheduleProcessorFunction",
    CallbackType.CAMPAIGN_STATUS: "CampaignStatusProcessorFunction",
}
_deserializer = TypeDeserializer()


def attribute_size(value: Any) -> int:  # noqa: ANN401
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return math.ceil(len(str(value).lstrip("-").replace(".", "")) / 2) + 1
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | set):
        return 3 + sum(attribute_size(v) + 1 for v in value)
    raise TypeError(type(value))


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


@dataclass
class Gsi:
    name: str
    keys: tuple[str, str]
    projected: tuple[str, ...]

    def entry(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        if not item or any(key not in item for key in self.keys):
            return None
        names = {"PK", "SK", *self.keys, *self.projected}
        return {name: value for name, value in item.items() if name in names}


@dataclass
class Ledger:
    """Requests and units of one processed callback."""

    requests: Counter[str] = field(default_factory=Counter)
    read_units: float = 0
    table_write_units: float = 0
    index_write_units: float = 0


class Meter:
    def __init__(self, table_name: str, indexes: list[Gsi]) -> None:
        self.table_name = table_name
        self.indexes = indexes
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.current = Ledger()
        self._before: dict[str, dict[str, Any] | None] = {}

    def stored(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table_name, Key=key).get("Item")
        return {k: _deserializer.deserialize(v) for k, v in item.items()} if item else None

    def before_call(self, params: dict[str, Any], event_name: str, **_: Any) -> None:  # noqa: ANN401
        service, operation = event_name.split(".")[1:]
        if service != "dynamodb":
            return
        self.current.requests[operation] += 1
        for key in _written_keys(operation, params):
            self._before[json.dumps(key, sort_keys=True)] = self.stored(key)

    def after_call(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:  # noqa: ANN401
        service, operation = event_name.split(".")[1:]
        if service != "dynamodb":
            return
        if operation == "GetItem":
            item = {k: _deserializer.deserialize(v) for k, v in parsed.get("Item", {}).items()}
            self.current.read_units += max(1, math.ceil(item_size(item) / 4096))
        multiplier = 2 if operation == "TransactWriteItems" else 1
        failed = "Error" in parsed
        for key_text, before in self._before.items():
            after = self.stored(json.loads(key_text))
            size = max(item_size(before), item_size(after))
            self.current.table_write_units += multiplier * max(1, math.ceil(size / 1024))
            if failed:
                continue
            for index in self.indexes:
                old, new = index.entry(before), index.entry(after)
                if old == new:
                    continue
                key_moved = old and new and any(old[k] != new[k] for k in index.keys)
                for entry in [old, new] if key_moved else [new or old]:
                    self.current.index_write_units += max(1, math.ceil(item_size(entry) / 1024))
        self._before.clear()


def _written_keys(operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    if operation == "PutItem":
        return [{"PK": params["Item"]["PK"], "SK": params["Item"]["SK"]}]
    if operation == "UpdateItem":
        return [params["Key"]]
    if operation == "TransactWriteItems":
        keys = []
        for action in params["TransactItems"]:
            ((kind, body),) = action.items()
            keys.append(
                {"PK": body["Item"]["PK"], "SK": body["Item"]["SK"]}
                if kind == "Put"
                else body["Key"]
            )
        return keys
    return []


def queued(callback_type: CallbackType, fields: dict[str, Any]) -> str:
    body = json.dumps(fields).encode()
    callback = build_callback(callback_type, decode_fields(body, None), NormalisationRules())
    return callback.queued_event(datetime(2024, 1, 15, tzinfo=UTC))


CALL = {"campaign_sid": "camp_1", "call_sid": "call_1", "number": "+919876543210"}
ATTEMPT = {**CALL, "status": "no-answer", "date_updated": "2024-01-15 09:05:00"}
OUTCOME = {
    "campaign_sid": "camp_1",
    "to": "+919876543210",
    "from": "08047104890",
    "call_sids": ["call_1", "call_2", "call_3"],
    "status": "completed",
    "date_updated": "2024-01-15 09:35:00",
}
FINAL = {
    "campaign_sid": "camp_1",
    "status": "Completed",
    "date_updated": "2024-01-15 18:00:00",
    "report_url": "https://s3.amazonaws.com/r.csv",
}
# Run in this order: each case meets the state the cases before it left.
CASES: list[tuple[str, CallbackType, dict[str, Any]]] = [
    ("new attempt", CallbackType.CALL_STATUS, ATTEMPT),
    ("duplicate attempt", CallbackType.CALL_STATUS, ATTEMPT),
    (
        "status change",
        CallbackType.CALL_STATUS,
        {**ATTEMPT, "status": "completed", "date_updated": "2024-01-15 09:06:00"},
    ),
    (
        "older update",
        CallbackType.CALL_STATUS,
        {**ATTEMPT, "status": "busy", "date_updated": "2024-01-15 09:04:00"},
    ),
    ("new outcome (+event)", CallbackType.CALL_SCHEDULE, OUTCOME),
    ("duplicate outcome", CallbackType.CALL_SCHEDULE, OUTCOME),
    (
        "non-final status",
        CallbackType.CAMPAIGN_STATUS,
        {**FINAL, "status": "InProgress", "report_url": "", "date_updated": "2024-01-15 09:00:00"},
    ),
    ("final status (+report, event)", CallbackType.CAMPAIGN_STATUS, FINAL),
    ("duplicate final status", CallbackType.CAMPAIGN_STATUS, FINAL),
]


def main() -> None:
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    table = template.resources["CampaignTable"]["Properties"]
    indexes = [
        Gsi(
            index["IndexName"],
            tuple(key["AttributeName"] for key in index["KeySchema"]),
            tuple(index["Projection"].get("NonKeyAttributes", [])),
        )
        for index in table["GlobalSecondaryIndexes"]
    ]
    with emulated_account_environment(), mock_aws():
        deployment = deploy(template)
        meter = Meter(deployment.physical_id("CampaignTable"), indexes)
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params", meter.before_call)
        boto3.DEFAULT_SESSION.events.register("after-call", meter.after_call)
        handlers: dict[CallbackType, Callable[..., Any]] = {}
        for kind, name in PROCESSORS.items():
            os.environ.update(function_environment(deployment, name))
            handlers[kind] = load_handler(template, deployment, name, name)
        rows = []
        for case, kind, fields in CASES:
            meter.current = Ledger()
            record = {"MessageId": "m", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            result = handlers[kind](sqs_event("arn:q", [record]), LocalLambdaContext(case))
            assert result == {"batchItemFailures": []}, result
            ledger = meter.current
            requests = ", ".join(f"{n} {op}" for op, n in sorted(ledger.requests.items()))
            total = ledger.table_write_units + ledger.index_write_units
            rows.append(
                f"| {kind} | {case} | {requests} | {ledger.read_units:g} | "
                f"{ledger.table_write_units:g} | {ledger.index_write_units:g} | {total:g} |"
            )
    table_text = "\n".join(
        [
            "| callback | case | DynamoDB requests | read units | table write units "
            "| GSI write units | write units |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    report = f"## Processors: DynamoDB requests and capacity per callback\n\n{table_text}\n"
    print(report)
    results = ROOT / "docs/benchmarks.md"
    if results.exists():  # make bench: after the receiver figures
        results.write_text(results.read_text() + "\n" + report)


if __name__ == "__main__":
    main()
