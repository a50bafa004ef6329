"""One campaign's burst: how many writes each partition key takes, in the table and in each
index, when 10,000 callbacks of one campaign arrive at 5,000 per second.

DynamoDB serves at most 1,000 write units per second per partition, and a partition key's items
(or a GSI key's entries) stay on one partition unless DynamoDB splits them for heat, which it
cannot do faster than the burst. The callbacks go through the real processors in batches of 10;
every write they make is counted against the keys it touches (a GSI entry that changes key
counts on both keys), from the items before and after the write.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from bench import results
from bench.metering import (
    PROCESSORS,
    Gsi,
    invoke_logged,
    queued,
    stream_poller,
    table_indexes,
)
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, deploy, emulated_account_environment
from localaws.runtime import function_environment, load_handler
from localaws.sqs_events import sqs_event
from localaws.template import Template

ROOT = Path(__file__).resolve().parent.parent

CAMPAIGN = "camp_burst"
BURST = int(os.environ.get("BURST", "10000"))  # smaller for a quick look
RATE = 5_000  # callbacks per second, the target
PARTITION_LIMIT = 1_000  # write units per second per partition
_deserializer = TypeDeserializer()


def burst() -> Iterator[tuple[CallbackType, dict[str, Any]]]:
    """BURST callbacks: numbers with 1-3 attempts (busy or no-answer, then completed or failed)
    and one call schedule callback each, as a campaign's retry rules produce them."""
    sent, number = 0, 0
    while sent < BURST:
        phone, attempts = f"+9198{number:08d}", 1 + number % 3
        call_sids = [f"call_{number}_{attempt}" for attempt in range(attempts)]
        final = "completed" if number % 4 else "failed"
        for attempt, call_sid in enumerate(call_sids):
            status = final if attempt == attempts - 1 else ("busy", "no-answer")[attempt % 2]
            yield (
                CallbackType.CALL_STATUS,
                {
                    "campaign_sid": CAMPAIGN,
                    "call_sid": call_sid,
                    "number": phone,
                    "status": status,
                    "date_updated": f"2024-01-15 09:{attempt * 10:02d}:00",
                },
            )
        yield (
            CallbackType.CALL_SCHEDULE,
            {
                "campaign_sid": CAMPAIGN,
                "to": phone,
                "call_sids": call_sids,
                "status": final,
                "date_updated": "2024-01-15 09:40:00",
            },
        )
        sent += attempts + 1
        number += 1


class KeyHeat:
    """Writes per partition key: the table's PK, and each GSI's partition key."""

    def __init__(self, table_name: str, indexes: list[Gsi]) -> None:
        self.table_name, self.indexes = table_name, indexes
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.writes: dict[str, Counter[str]] = {
            name: Counter() for name in ["table", *(index.name for index in indexes)]
        }
        self._before: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def _stored(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table_name, Key=key).get("Item")
        return {k: _deserializer.deserialize(v) for k, v in item.items()} if item else None

    def before_call(self, params: dict[str, Any], event_name: str, **_: Any) -> None:  # noqa: ANN401
        service, operation = event_name.split(".")[1:]
        if service == "dynamodb":
            self._before = [(key, self._stored(key)) for key in _written_keys(operation, params)]

    def after_call(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:  # noqa: ANN401
        if event_name.split(".")[1] != "dynamodb":
            return
        for key, before in self._before:
            self.writes["table"][key["PK"]["S"]] += 1  # a failed conditional write costs too
            after = self._stored(key)
            for index in self.indexes:
                old, new = index.entry(before), index.entry(after)
                if old == new:
                    continue
                for entry in (old, new):
                    if entry:
                        self.writes[index.name][entry[index.keys[0]]] += 1
                if old and new and old[index.keys[0]] == new[index.keys[0]]:
                    self.writes[index.name][new[index.keys[0]]] -= 1  # one write, not two
        self._before = []


def _written_keys(operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    if operation in {"PutItem"}:
        return [{"PK": params["Item"]["PK"], "SK": params["Item"]["SK"]}]
    if operation in {"UpdateItem", "DeleteItem"}:
        return [params["Key"]]
    if operation == "TransactWriteItems":
        return [
            {"PK": body["Item"]["PK"], "SK": body["Item"]["SK"]} if "Item" in body else body["Key"]
            for action in params["TransactItems"]
            for body in action.values()
        ]
    return []


def main() -> None:
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    indexes = table_indexes(template)
    with emulated_account_environment(), mock_aws():
        deployment = deploy(template)
        heat = KeyHeat(deployment.physical_id("CampaignTable"), indexes)  # its client: unhooked
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params", heat.before_call)
        boto3.DEFAULT_SESSION.events.register("after-call", heat.after_call)
        handlers: dict[CallbackType, Callable[..., Any]] = {}
        for kind, name in PROCESSORS.items():
            os.environ.update(function_environment(deployment, name))
            handlers[kind] = load_handler(template, deployment, name, name)
        batches: dict[CallbackType, list[dict[str, Any]]] = {kind: [] for kind in PROCESSORS}
        sent = 0
        for kind, fields in itertools.islice(burst(), BURST):
            batch = batches[kind]
            batch.append(
                {"MessageId": f"m{sent}", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            )
            sent += 1
            if len(batch) == 10:
                _process(handlers[kind], batch)
        for kind, batch in batches.items():
            if batch:
                _process(handlers[kind], batch)
        # the counters follow from the stream: one write per campaign per shard and window
        os.environ.update(function_environment(deployment, "LedgerStreamFunction"))
        stream = load_handler(template, deployment, "LedgerStreamFunction", "LedgerStreamFunction")
        stream_poller(deployment, stream).drain()
    results.append(report(heat, sent))


def _process(handler: Callable[..., Any], batch: list[dict[str, Any]]) -> None:
    result = invoke_logged(handler, sqs_event("arn:q", batch), "burst").result
    assert result == {"batchItemFailures": []}, result
    batch.clear()


def report(heat: KeyHeat, sent: int) -> str:
    seconds = sent / RATE
    rows = []
    for where, counts in heat.writes.items():
        for key, writes in counts.most_common(2):
            per_second = writes / seconds
            rows.append(
                f"| {where} | `{key.replace(CAMPAIGN, '<sid>')}` | {writes:,} | {per_second:,.0f} "
                f"| {PARTITION_LIMIT:,} | {'yes' if per_second <= PARTITION_LIMIT else 'no'} |"
            )
    return (
        "## One campaign's burst: writes per partition key\n\n"
        f"{results.measured_on()} "
        f"{sent:,} callbacks of one campaign (call status and call schedule, 1-3 attempts per "
        f"number) through the processors in batches of 10, then the table's stream through "
        f"the ledger stream function; at {RATE:,} callbacks/s the burst "
        f"lasts {seconds:g} s. The two busiest keys of the table and of each index, every write "
        "counted (a failed conditional write too):\n\n"
        "| where | partition key | writes in the burst | writes/s | limit | within |\n"
        "| --- | --- | ---: | ---: | ---: | --- |\n" + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    main()
