"""AWS requests, DynamoDB capacity units and log bytes per callback, for each case the receiver
and the processors meet, and what a million webhooks cost at AWS's list prices (bench/prices.py).

Every request is counted from botocore's own events; DynamoDB capacity follows its published
sizing rules (moto does not report consumed capacity faithfully):
an item's size is its attribute names plus values; a write costs 1 unit per started KB (2 in a
transaction), a strongly consistent read 1 unit per started 4 KB (eventually consistent, half);
each GSI whose projected
attributes change costs a write of the projected item (a key change costs a delete and a put);
a conditional write that fails still costs its write.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
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
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "bench")]

import boto3  # noqa: E402
import results  # noqa: E402
from boto3.dynamodb.types import TypeDeserializer  # noqa: E402
from prices import (  # noqa: E402
    ASSUMED_MS_PER_AWS_CALL,
    CLOUDWATCH_LOGS_PER_GB_INGESTED,
    DYNAMODB_PER_MILLION_READ_UNITS,
    DYNAMODB_PER_MILLION_WRITE_UNITS,
    EVENTBRIDGE_PER_MILLION_EVENTS,
    HTTP_API_PER_MILLION_REQUESTS,
    LAMBDA_ARM_PER_GB_SECOND,
    LAMBDA_PER_MILLION_REQUESTS,
    PRICES_AS_OF,
    PRICES_REGION,
    SQS_STANDARD_PER_MILLION_REQUESTS,
)

from exotel_webhooks.intake.body import decode_fields  # noqa: E402
from exotel_webhooks.intake.callbacks import CallbackType, build_callback  # noqa: E402
from exotel_webhooks.settings import NormalisationRules  # noqa: E402
from localaws.emulation import (  # noqa: E402
    REGION,
    Deployment,
    deploy,
    emulated_account_environment,
)
from localaws.runtime import LocalLambdaContext, function_environment, load_handler  # noqa: E402
from localaws.sqs_events import sqs_event  # noqa: E402
from localaws.streams import StreamPoller, run_until_idle, streams_client  # noqa: E402
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
    """Requests, units and log bytes of one processed callback."""

    requests: Counter[str] = field(default_factory=Counter)  # DynamoDB operations
    calls: Counter[str] = field(default_factory=Counter)  # every AWS operation, "sqs.SendMessage"
    read_units: float = 0
    table_write_units: float = 0
    index_write_units: float = 0
    log_bytes: int = 0  # log lines and EMF, as CloudWatch Logs ingests them
    event_entries: int = 0  # EventBridge entries published

    @property
    def write_units(self) -> float:
        return self.table_write_units + self.index_write_units


class Meter:
    def __init__(self, table_name: str, indexes: list[Gsi]) -> None:
        self.table_name = table_name
        self.indexes = indexes
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.current = Ledger()
        self._before: dict[str, dict[str, Any] | None] = {}
        self._consistent = False

    def stored(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table_name, Key=key).get("Item")
        return {k: _deserializer.deserialize(v) for k, v in item.items()} if item else None

    def before_call(self, params: dict[str, Any], event_name: str, **_: Any) -> None:  # noqa: ANN401
        service, operation = event_name.split(".")[1:]
        self.current.calls[f"{service}.{operation}"] += 1
        if operation == "PutEvents":
            self.current.event_entries += len(params["Entries"])
        if service != "dynamodb":
            return
        self.current.requests[operation] += 1
        self._consistent = bool(params.get("ConsistentRead"))
        for key in _written_keys(operation, params):
            self._before[json.dumps(key, sort_keys=True)] = self.stored(key)

    def after_call(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:  # noqa: ANN401
        service, operation = event_name.split(".")[1:]
        if service != "dynamodb":
            return
        if operation == "GetItem":
            item = {k: _deserializer.deserialize(v) for k, v in parsed.get("Item", {}).items()}
            units = max(1, math.ceil(item_size(item) / 4096))
            self.current.read_units += units if self._consistent else units / 2
        if operation == "Query":  # the items' total size, a unit at least (an empty answer too)
            items = [
                {k: _deserializer.deserialize(v) for k, v in found.items()}
                for found in parsed.get("Items", [])
            ]
            units = max(1, math.ceil(sum(item_size(item) for item in items) / 4096))
            self.current.read_units += units if self._consistent else units / 2
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


def table_indexes(template: Template) -> list[Gsi]:
    """The campaign table's GSIs as template.yaml defines them."""
    table = template.resources["CampaignTable"]["Properties"]
    return [
        Gsi(
            index["IndexName"],
            tuple(key["AttributeName"] for key in index["KeySchema"]),
            tuple(index["Projection"].get("NonKeyAttributes", [])),
        )
        for index in table["GlobalSecondaryIndexes"]
    ]


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


class StreamWindows:
    """The ledger stream function fed from the table's stream, a window per drain."""

    def __init__(self, poller: StreamPoller, handler: Callable[..., Any]) -> None:
        self.poller, self.handler, self.log_bytes = poller, handler, 0

    def invoke(self, event: dict[str, Any]) -> Any:  # noqa: ANN401
        result, log_bytes = invoke_logged(self.handler, event, "LedgerStreamFunction")
        self.log_bytes += log_bytes
        return result

    def drain(self) -> int:
        """Hand every new record over and close the window; the log bytes written."""
        self.log_bytes = 0
        run_until_idle([self.poller])
        return self.log_bytes


def stream_poller(deployment: Deployment, handler: Callable[..., Any]) -> StreamWindows:
    # a client of its own session: Lambda reads the stream, free and unmetered
    session = boto3.Session(region_name=REGION)
    table = session.client("dynamodb")
    arn = table.describe_table(TableName=deployment.physical_id("CampaignTable"))["Table"][
        "LatestStreamArn"
    ]
    [source] = deployment.stream_sources
    windows = StreamWindows(None, handler)  # type: ignore[arg-type]
    windows.poller = StreamPoller(streams_client(session=session), arn, source, windows.invoke)
    return windows


def queued(callback_type: CallbackType, fields: dict[str, Any]) -> str:
    body = json.dumps(fields).encode()
    received_at = datetime(2024, 1, 15, tzinfo=UTC)
    fields = decode_fields(body, None)
    callback = build_callback(callback_type, fields, NormalisationRules(), received_at)
    return callback.queued_event(received_at)


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


def invoke_logged(handler: Callable[..., Any], event: dict[str, Any], name: str) -> tuple[Any, int]:
    """The handler's result and how many bytes of log lines it wrote, counting its EMF metrics
    document (written once per invocation, whatever the batch) at 1/BATCH when the event is a
    batch of queue records."""
    from exotel_webhooks.observability import logger  # noqa: PLC0415

    captured = io.StringIO()
    handlers = [
        h
        for h in logging.getLogger(logger.service).handlers
        if isinstance(h, logging.StreamHandler)
    ]
    streams = [h.setStream(captured) for h in handlers]
    try:
        with contextlib.redirect_stdout(captured):
            result = handler(event, LocalLambdaContext(name))
    finally:
        for h, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                h.setStream(stream)
    lines = captured.getvalue().encode().splitlines(keepends=True)
    emf = sum(len(line) for line in lines if line.startswith(b'{"_aws"'))
    share = BATCH if "Records" in event and event["Records"] and "messageId" in str(event) else 1
    return result, sum(len(line) for line in lines) - emf + emf // share


def main() -> None:
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    indexes = table_indexes(template)
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
            # its cold start line, on another campaign than the cases'
            fields = next(f for _, k, f in CASES if k == kind) | {"campaign_sid": "camp_warm"}
            record = {"MessageId": "w", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            invoke_logged(handlers[kind], sqs_event("arn:q", [record]), "warm-up")
        os.environ.update(function_environment(deployment, "LedgerStreamFunction"))
        stream_handler = load_handler(
            template, deployment, "LedgerStreamFunction", "LedgerStreamFunction"
        )
        stream = stream_poller(deployment, stream_handler)
        stream.drain()  # the warm-up callbacks' records
        os.environ.update(function_environment(deployment, "ReceiverFunction"))
        receiver = load_handler(template, deployment, "ReceiverFunction", "ReceiverFunction")
        webhook = json.loads((ROOT / "events/receiver/call-status.json").read_text())
        invoke_logged(receiver, webhook, "receiver")  # the cold start: the secret is fetched
        meter.current = Ledger()
        answer, log_bytes = invoke_logged(receiver, webhook, "receiver")
        assert answer["statusCode"] == 200, answer
        received = meter.current
        received.log_bytes = log_bytes
        rows, measured, derivations = [], {}, {}
        for case, kind, fields in CASES:
            meter.current = Ledger()
            record = {"MessageId": "m", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            result, log_bytes = invoke_logged(handlers[kind], sqs_event("arn:q", [record]), case)
            assert result == {"batchItemFailures": []}, result
            ledger = meter.current
            ledger.log_bytes = log_bytes
            meter.current = derived = Ledger()
            derived.log_bytes = stream.drain()
            measured[(kind, case)] = ledger
            derivations[(kind, case)] = derived
            requests = ", ".join(f"{n} {op}" for op, n in sorted(ledger.requests.items()))
            derived_calls = ", ".join(f"{n} {op}" for op, n in sorted(derived.calls.items()))
            rows.append(
                f"| {kind} | {case} | {requests} | {ledger.read_units:g} | "
                f"{ledger.table_write_units:g} | {ledger.index_write_units:g} | "
                f"{ledger.log_bytes} | {derived_calls or '-'} | {derived.write_units:g} | "
                f"{derived.log_bytes} |"
            )
    table_text = "\n".join(
        [
            "| callback | case | processor: DynamoDB requests | read units | table write units "
            "| GSI write units | log bytes | stream window: AWS requests | write units "
            "| log bytes |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
            *rows,
        ]
    )
    report = (
        "## AWS requests, DynamoDB capacity and log bytes per callback\n\n"
        f"{results.measured_on()} "
        f"The receiver: {', '.join(f'{n} {op}' for op, n in sorted(received.calls.items()))} "
        f"and {received.log_bytes} bytes of log and EMF per accepted webhook. A processor's "
        f"EMF document is written once per invocation and counted at 1/{BATCH}. Each case is one "
        f"record through its processor, then the stream's window for that record alone (the "
        f"ledger stream's invocations, counter write and events).\n\n{table_text}\n\n"
        + cost_report(received, measured, derivations)
    )
    results.append(report)


def lambda_cost(calls_per_invocation: float, invocations: float, memory_gb: float) -> float:
    """Per million webhooks: requests plus billed time (ASSUMED_MS_PER_AWS_CALL per call)."""
    seconds = max(1.0, calls_per_invocation * ASSUMED_MS_PER_AWS_CALL) / 1000
    return invocations * (
        LAMBDA_PER_MILLION_REQUESTS + 1_000_000 * seconds * memory_gb * LAMBDA_ARM_PER_GB_SECOND
    )


def cost_report(
    received: Ledger,
    measured: dict[tuple[CallbackType, str], Ledger],
    derivations: dict[tuple[CallbackType, str], Ledger],
) -> str:
    """What one million webhooks of each kind cost, part by part, and the direct integration."""
    memory_gb = 0.5
    logs_per_byte = CLOUDWATCH_LOGS_PER_GB_INGESTED / 1024**3
    # The event source mapping receives and deletes in batches of 10.
    queue_requests = received.calls["sqs.SendMessage"] + 2 / BATCH
    ingest = {
        "API Gateway": HTTP_API_PER_MILLION_REQUESTS,
        "receiver Lambda": lambda_cost(sum(received.calls.values()), 1, memory_gb),
        "SQS": queue_requests * SQS_STANDARD_PER_MILLION_REQUESTS,
        "receiver logs": received.log_bytes * 1_000_000 * logs_per_byte,
    }
    direct = HTTP_API_PER_MILLION_REQUESTS + queue_requests * SQS_STANDARD_PER_MILLION_REQUESTS
    rows, totals = [], {}
    for kind, case in COSTED:
        ledger, derived = measured[(kind, case)], derivations[(kind, case)]
        aws_calls = sum(ledger.calls.values())
        events = derived.event_entries
        sends = ledger.calls["sqs.SendMessage"]
        # A window's invocations, counter write and log lines serve every record of a campaign
        # in it: STREAM_RECORDS of them (events are billed per entry, not shared).
        window_calls = sum(n for call, n in derived.calls.items() if call != "events.PutEvents")
        processing = {
            "processor Lambda": lambda_cost(aws_calls * BATCH, 1 / BATCH, memory_gb),
            "DynamoDB": ledger.read_units * DYNAMODB_PER_MILLION_READ_UNITS
            + ledger.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS,
            "EventBridge, report queue": events * EVENTBRIDGE_PER_MILLION_EVENTS
            + sends * SQS_STANDARD_PER_MILLION_REQUESTS,
            "processor logs": ledger.log_bytes * 1_000_000 * logs_per_byte,
            "ledger stream": (
                lambda_cost(window_calls, 2, memory_gb)  # two invocations a window
                + derived.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS
                + derived.log_bytes * 1_000_000 * logs_per_byte
            )
            / STREAM_RECORDS,
        }
        total = totals[(kind, case)] = sum(ingest.values()) + sum(processing.values())
        parts = " + ".join(
            f"{name} {value:.2f}" for name, value in {**ingest, **processing}.items()
        )
        rows.append(f"| {kind} | {case} | {total:.2f} | {parts} |")
    table = "\n".join(
        ["| callback | case | USD per million | parts (USD) |", "| --- | --- | ---: | --- |", *rows]
    )
    ingest_total = sum(ingest.values())
    target_rows = [
        f"| {kind} | {case} | {before:.2f} | <= {target:.2f} | {round(totals[(kind, case)], 2):.2f}"
        f" | {'yes' if round(totals[(kind, case)], 2) <= target else 'no'} |"
        for (kind, case), (target, before) in TARGETS.items()
    ]
    targets = "\n".join(
        [
            "| callback | case | before (USD) | target | measured | met |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            *target_rows,
        ]
    )
    return (
        f"### Cost per million webhooks\n\nAt {PRICES_REGION} list prices as of {PRICES_AS_OF} "
        f"(bench/prices.py), {memory_gb * 1024:.0f} MB arm64 functions, billed time taken as "
        f"{ASSUMED_MS_PER_AWS_CALL:g} ms per AWS call (an assumption: it cannot be measured "
        f"here), SQS receives and deletes in batches of {BATCH}, and a stream window shared by "
        f"{STREAM_RECORDS} records of a campaign (5 s of a campaign at 20 callbacks/s). "
        f"Storage, the report fetch "
        f"and custom metrics (USD 0.30 a month each, not per webhook) are left out.\n\n{table}\n\n"
        f"Receiving alone (API Gateway, receiver, SQS, its logs) is USD {ingest_total:.2f} per "
        f"million; an API Gateway -> SQS direct integration would be USD {direct:.2f} "
        f"({ingest_total / direct:.2f}x), but it cannot check the token in constant time against "
        f"a rotating secret, normalise, bound the body or quarantine: every malformed callback "
        f"would reach the processors, and one type per queue would need three integrations.\n\n"
        f"Issue 12's targets (the campaign status's: unchanged or cheaper):\n\n{targets}\n"
    )


BATCH = 10
STREAM_RECORDS = 100
# Issue 12's targets (USD per million webhooks), beside the figures before it (2026-11-27).
TARGETS: dict[tuple[CallbackType, str], tuple[float, float]] = {
    (CallbackType.CALL_STATUS, "new attempt"): (3.50, 6.56),
    (CallbackType.CALL_STATUS, "status change"): (4.00, 7.2),  # 1 GSI unit over a new one
    (CallbackType.CALL_STATUS, "duplicate attempt"): (2.40, 2.75),
    (CallbackType.CALL_SCHEDULE, "new outcome (+event)"): (4.50, 7.64),
    (CallbackType.CAMPAIGN_STATUS, "non-final status"): (3.89, 3.89),
}
# The case that prices each callback type: what most deliveries of it do.
COSTED: list[tuple[CallbackType, str]] = [
    (CallbackType.CALL_STATUS, "new attempt"),
    (CallbackType.CALL_STATUS, "status change"),
    (CallbackType.CALL_STATUS, "duplicate attempt"),
    (CallbackType.CALL_SCHEDULE, "new outcome (+event)"),
    (CallbackType.CAMPAIGN_STATUS, "non-final status"),
]


if __name__ == "__main__":
    main()
