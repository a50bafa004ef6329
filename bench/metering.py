"""What the cost benches count: AWS requests, DynamoDB capacity units (by DynamoDB's published
sizing rules) and log bytes, from botocore's own events while the real handlers run on the
emulated stack (bench/costs.py, bench/hot_keys.py, bench/sweep_cost.py)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import build_callback
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, Deployment
from localaws.runtime import LocalLambdaContext
from localaws.streams import StreamPoller, run_until_idle, streams_client
from localaws.template import Template

# What CloudWatch Logs adds to each log event's bytes when it bills ingestion.
LOG_EVENT_OVERHEAD_BYTES = 26

PROCESSORS = {
    CallbackType.CALL_STATUS: "CallStatusProcessorFunction",
    CallbackType.CALL_SCHEDULE: "CallScheduleProcessorFunction",
    CallbackType.CAMPAIGN_STATUS: "CampaignStatusProcessorFunction",
}
_deserializer = TypeDeserializer()


# What EventBridge adds around an entry's source, detail type and detail (version, id, account,
# time, region, resources): an archived event's size is the whole event's.
EVENT_ENVELOPE_BYTES = 180


def archived_event_bytes(entry: dict[str, Any]) -> int:
    return EVENT_ENVELOPE_BYTES + sum(
        len(str(entry.get(name, "")).encode()) for name in ("Source", "DetailType", "Detail")
    )


def archived_detail_types(template: Template) -> frozenset[str]:
    """The detail types the campaign archive's pattern keeps."""
    pattern = template.resources["CampaignEventArchive"]["Properties"]["EventPattern"]
    return frozenset(str(name) for name in pattern.get("detail-type", []))


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
    log_bytes: int = 0  # log lines, as CloudWatch Logs bills them (26 B a line more)
    emf_bytes: int = 0  # the invocation's metrics document(s), shared by a batch's records
    event_entries: int = 0  # EventBridge entries published
    archived_bytes: int = 0  # of those the bus's archive keeps (archived_event_bytes)
    items_changed: int = 0  # items a write changed: each is a record on the table's stream
    dataset_bytes: int = 0  # analytics rows sent to Firehose (newline-delimited JSON)
    dataset_records: int = 0  # the Firehose records holding them
    dataset_sample: bytes = b""  # the last record sent

    @property
    def write_units(self) -> float:
        return self.table_write_units + self.index_write_units


class Meter:
    def __init__(
        self, table_name: str, indexes: list[Gsi], archived: frozenset[str] = frozenset()
    ) -> None:
        self.table_name = table_name
        self.archived = archived  # the detail types the archive's pattern keeps
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
            self.current.archived_bytes += sum(
                archived_event_bytes(entry)
                for entry in params["Entries"]
                if entry["DetailType"] in self.archived
            )
        if operation == "PutRecordBatch":
            self.current.dataset_bytes += sum(len(r["Data"]) for r in params["Records"])
            self.current.dataset_records += len(params["Records"])
            self.current.dataset_sample = params["Records"][-1]["Data"]
        if service != "dynamodb":
            return
        self.current.requests[operation] += 1
        self._consistent = bool(params.get("ConsistentRead")) or any(
            isinstance(request, dict) and request.get("ConsistentRead")
            for request in params.get("RequestItems", {}).values()
        )
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
        if operation == "BatchGetItem":  # each item read as a GetItem would be
            for found in parsed.get("Responses", {}).values():
                for raw in found:
                    item = {k: _deserializer.deserialize(v) for k, v in raw.items()}
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
        if not failed:
            self.current.items_changed += len(self._before)
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
        self.poller, self.handler = poller, handler
        self.written = Logged(None)

    def invoke(self, event: dict[str, Any]) -> Any:  # noqa: ANN401
        logged = invoke_logged(self.handler, event, "LedgerStreamFunction")
        self.written = self.written.plus(logged)
        return logged.result

    def drain(self) -> Logged:
        """Hand every new record over and close the window; what it logged."""
        self.written = Logged(None)
        run_until_idle([self.poller])
        return self.written


def stream_poller(
    deployment: Deployment, handler: Callable[..., Any], function: str = "LedgerStreamFunction"
) -> StreamWindows:
    # a client of its own session: Lambda reads the stream, free and unmetered
    session = boto3.Session(region_name=REGION)
    table = session.client("dynamodb")
    arn = table.describe_table(TableName=deployment.physical_id("CampaignTable"))["Table"][
        "LatestStreamArn"
    ]
    [source] = [s for s in deployment.stream_sources if s.function == function]
    windows = StreamWindows(None, handler)  # type: ignore[arg-type]
    windows.poller = StreamPoller(streams_client(session=session), arn, source, windows.invoke)
    return windows


def queued(callback_type: CallbackType, fields: dict[str, Any]) -> str:
    body = json.dumps(fields).encode()
    received_at = datetime(2024, 1, 15, tzinfo=UTC)
    fields = decode_fields(body, None)
    callback = build_callback(callback_type, fields, NormalisationRules(), received_at)
    return callback.queued_event(received_at)


@dataclass(frozen=True)
class Logged:
    """A handler's answer and what it wrote to its log, as CloudWatch Logs bills it."""

    result: Any
    line_bytes: int = 0  # log lines, each with LOG_EVENT_OVERHEAD_BYTES
    emf_bytes: int = 0  # metrics documents (EMF), each with LOG_EVENT_OVERHEAD_BYTES
    series: frozenset[tuple[str, str]] = frozenset()  # (metric, its dimensions) emitted

    def plus(self, other: Logged) -> Logged:
        return Logged(
            other.result,
            self.line_bytes + other.line_bytes,
            self.emf_bytes + other.emf_bytes,
            self.series | other.series,
        )


class Captured:
    """Log lines and metrics documents written inside `capture_logs`, as CloudWatch bills them."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.line_bytes = self.emf_bytes = 0
        self.series: set[tuple[str, str]] = set()

    def close(self) -> None:
        for line in self.buffer.getvalue().encode().splitlines(keepends=True):
            size = len(line) + LOG_EVENT_OVERHEAD_BYTES
            if not line.startswith(b'{"_aws"'):
                self.line_bytes += size
                continue
            self.emf_bytes += size
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for dimensions in directive["Dimensions"] or [[]]:
                    labels = ",".join(f"{d}={document[d]}" for d in dimensions)
                    self.series |= {(metric["Name"], labels) for metric in directive["Metrics"]}


@contextlib.contextmanager
def capture_logs() -> Iterator[Captured]:
    """Everything the package logs (and prints: EMF) inside the block."""
    from exotel_webhooks.observability import logger  # noqa: PLC0415

    captured = Captured()
    handlers = [
        h
        for h in logging.getLogger(logger.service).handlers
        if isinstance(h, logging.StreamHandler)
    ]
    streams = [h.setStream(captured.buffer) for h in handlers]
    try:
        with contextlib.redirect_stdout(captured.buffer):
            yield captured
    finally:
        for h, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                h.setStream(stream)
        captured.close()


def invoke_logged(handler: Callable[..., Any], event: dict[str, Any], name: str) -> Logged:
    """Run the handler, capturing its log lines and metrics documents apart."""
    with capture_logs() as captured:
        result = handler(event, LocalLambdaContext(name))
    return Logged(result, captured.line_bytes, captured.emf_bytes, frozenset(captured.series))
