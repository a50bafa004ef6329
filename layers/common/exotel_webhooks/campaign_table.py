"""The campaign table: its keys, and the conditional writes that make effects exactly-once.

Items (PK / SK):
  CAMPAIGN#<sid> / #SUMMARY            status, dates, report, reconciliation  GSI1: by status
  CAMPAIGN#<sid> / #COUNTER#<0..9>     attempt and number counters, sharded so that one busy
                                       campaign spreads its counter writes over ten items
  CAMPAIGN#<sid> / ATTEMPT#<call_sid>  one call attempt           GSI1: by status; GSI2: by number
  CAMPAIGN#<sid> / NUMBER#<subscriber> one number's final outcome GSI2: by number
                                       (`report_status`: what the campaign report says of it)

Counter shards also hold the reconciliation counts (`reconciled#matched|mismatched|backfilled`),
moved in the same transaction as the outcome they classify, so they are exact whatever the order
of report and callbacks.
"""

from __future__ import annotations

import random
import re
import time
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from exotel_webhooks.precedence import supersedes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_SHARDS = 10
SUMMARY_SK = "#SUMMARY"
COUNTER_SK_PREFIX = "#COUNTER#"
CAMPAIGN_ITEMS_PREFIX = "#"  # the summary and the counter shards sort first
ATTEMPT_SK_PREFIX = "ATTEMPT#"
NUMBER_SK_PREFIX = "NUMBER#"
RECONCILED_PREFIX = "reconciled#"
RECONCILED_CLASSES = ("matched", "backfilled", "mismatched")
_MAX_TRIES = 6
_E164 = re.compile(r"\+[1-9]\d{1,14}")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def campaign_pk(campaign_sid: str) -> str:
    return f"CAMPAIGN#{campaign_sid}"


def attempt_sk(call_sid: str) -> str:
    return f"{ATTEMPT_SK_PREFIX}{call_sid}"


def number_sk(number: str) -> str:
    return f"{NUMBER_SK_PREFIX}{number}"


def number_pk(number: str) -> str:
    return f"NUMBER#{number}"


def subscriber_key(number: str, call_sids: Sequence[str], event_id: str | None = None) -> str:
    """What a number's records are keyed by. A number in E.164 is one subscriber. Anything else
    (masked `0XXXXXX4890`, partial) may stand for many, so it is told apart by its first call SID
    (in sort order), or, with none, by the callback itself: never merged with another."""
    if _E164.fullmatch(number):
        return number
    if call_sids:
        return f"{number}@{min(call_sids)}"
    return f"{number}@{event_id}" if event_id else number


def campaign_number_prefix(campaign_sid: str) -> str:
    """GSI2 sort keys of one campaign's items for a number (outcome and attempts)."""
    return f"CAMPAIGN#{campaign_sid}#"


def attempts_by_status_pk(campaign_sid: str, status: str) -> str:
    return f"CAMPAIGN#{campaign_sid}#ATTEMPT_STATUS#{status}"


def campaigns_by_status_pk(status: str) -> str:
    return f"CAMPAIGN_STATUS#{status}"


def counter_shard_sk(item_sk: str) -> str:
    """The same item always counts in the same shard."""
    return f"{COUNTER_SK_PREFIX}{zlib.crc32(item_sk.encode()) % COUNTER_SHARDS}"


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _serializer.serialize(_exact(value))
        for name, value in values.items()
        if value is not None
    }


def _exact(value: Any) -> Any:  # noqa: ANN401
    """DynamoDB numbers are exact: floats become Decimals (through their shortest text)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


class RaceLost(Exception):
    """Other writers kept changing the item: let the queue redeliver the record."""


@dataclass(frozen=True)
class VersionedWrite:
    """Put `item` unless what is stored under its key is as new or newer, and move the counters.

    `counters` names the counter family ("attempts" or "numbers"); the item's `status` moves
    from its stored value (if any) to its new value in that family's by-status counters.
    """

    item: dict[str, Any]
    counters: str

    @property
    def key(self) -> dict[str, str]:
        return {"PK": self.item["PK"], "SK": self.item["SK"]}


@dataclass(frozen=True)
class WriteResult:
    applied: bool
    previous: dict[str, Any] | None  # what was stored before (after, if not applied)


class CampaignTable:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.name = table_name

    def get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.name, Key=to_item({"PK": pk, "SK": sk}), ConsistentRead=consistent
        )
        return from_item(response["Item"]) if "Item" in response else None

    def write_versioned(self, write: VersionedWrite) -> WriteResult:
        """One consistent read to decide, one transaction (item + counter shard) to apply.

        A concurrent writer makes the transaction's condition fail: read again and decide again.
        Duplicates and older versions cost the read only. What the report says of the item
        (`report_status`) stays with it when a newer update replaces it.
        """
        for attempt in range(_MAX_TRIES):
            stored = self.get(write.key["PK"], write.key["SK"], consistent=True)
            if stored is not None and not supersedes(write.item, stored):
                return WriteResult(applied=False, previous=stored)
            item = dict(write.item)
            if stored is not None and stored.get("report_status") is not None:
                item.setdefault("report_status", stored["report_status"])
            try:
                self._apply(VersionedWrite(item, write.counters), stored)
            except ClientError as error:
                if not _lost_race(error):
                    raise
                _backoff(attempt)
                continue
            return WriteResult(applied=True, previous=stored)
        raise RaceLost(f"{write.key} kept changing")

    def report_number(
        self, backfill: dict[str, Any], stored: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Record what the campaign report says of a number: on its outcome if one is stored
        (`report_status`), else as a backfilled outcome (`backfill`, source "report").
        Idempotent; `stored` is what a batch read found (read again after a lost race)."""
        for attempt in range(_MAX_TRIES):
            reported = backfill["report_status"]
            if stored is None:
                item = backfill
            elif stored.get("source") == "report":
                item = {**stored, "status": backfill["status"], "report_status": reported}
            else:
                item = {**stored, "report_status": reported}
            if item == stored:
                return stored
            try:
                self._apply(VersionedWrite(item, counters="numbers"), stored)
            except ClientError as error:
                if not _lost_race(error):
                    raise
                _backoff(attempt)
                stored = self.get(backfill["PK"], backfill["SK"], consistent=True)
                continue
            return item
        raise RaceLost(f"{backfill['PK']} {backfill['SK']} kept changing")

    def campaign_counters(self, pk: str) -> dict[str, int]:
        """Every counter of a campaign, summed over its shards (one Query)."""
        response = self.client.query(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=to_item({":pk": pk, ":prefix": COUNTER_SK_PREFIX}),
            ConsistentRead=True,
        )
        return sum_shards([from_item(shard) for shard in response.get("Items", [])])

    def attempts(self, campaign_sid: str, call_sids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored attempts among these call SIDs."""
        pk = campaign_pk(campaign_sid)
        return self.batch_get([{"PK": pk, "SK": attempt_sk(sid)} for sid in set(call_sids)])

    def batch_get(
        self, keys: Sequence[Mapping[str, str]], consistent: bool = False
    ) -> list[dict[str, Any]]:
        """The items stored under these keys (BatchGetItem, 100 keys a request, unprocessed keys
        asked again with backoff). Raises RaceLost if DynamoDB keeps some unprocessed."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [to_item(key) for key in keys[start : start + 100]],
                    "ConsistentRead": consistent,
                }
            }
            for attempt in range(_MAX_TRIES + 1):
                response = self.client.batch_get_item(RequestItems=request)
                found += [from_item(item) for item in response["Responses"].get(self.name, [])]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == _MAX_TRIES:
                    raise RaceLost("DynamoDB kept keys unprocessed")
                _backoff(attempt)
        return found

    def number_items(
        self, number_key: str, campaign_sid: str | None = None
    ) -> list[dict[str, Any]]:
        """A number's attempts and outcomes, in every campaign or one (GSI2, all pages). The
        index is eventually consistent: what is returned is read again before it is changed."""
        prefix = campaign_number_prefix(campaign_sid) if campaign_sid else "CAMPAIGN#"
        query: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :pk AND begins_with(GSI2SK, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": number_pk(number_key), ":prefix": prefix}),
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**query)
            items += [from_item(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def erase(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Delete an attempt or outcome and take it out of its campaign's counters, in one
        transaction (so the counts stay equal to the items). None if it was already gone."""
        family = "attempts" if sk.startswith(ATTEMPT_SK_PREFIX) else "numbers"
        for attempt in range(_MAX_TRIES):
            stored = self.get(pk, sk, consistent=True)
            if stored is None:
                return None
            deltas = {name: -delta for name, delta in _status_deltas(family, None, stored).items()}
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self.name,
                                "Key": to_item({"PK": pk, "SK": sk}),
                                "ConditionExpression": "#version = :version",
                                "ExpressionAttributeNames": {"#version": "version"},
                                "ExpressionAttributeValues": to_item(
                                    {":version": stored["version"]}
                                ),
                            }
                        },
                        {"Update": self._counter_update(pk, sk, deltas)},  # type: ignore[typeddict-item]
                    ]
                )
            except ClientError as error:
                if not _lost_race(error):
                    raise
                _backoff(attempt)
                continue
            return stored
        raise RaceLost(f"{pk} {sk} kept changing")

    def _apply(self, write: VersionedWrite, stored: dict[str, Any] | None) -> None:
        deltas = _status_deltas(write.counters, stored, write.item)
        if stored is None:
            condition, values = "attribute_not_exists(PK)", {}
        else:
            condition, values = "#version = :stored_version", {":stored_version": stored["version"]}
        put: dict[str, Any] = {
            "TableName": self.name,
            "Item": to_item(write.item),
            "ConditionExpression": condition,
        }
        if values:
            put["ExpressionAttributeValues"] = to_item(values)
            put["ExpressionAttributeNames"] = {"#version": "version"}
        if not deltas:  # a newer version with the same status: no counter moves
            self.client.put_item(**put)
            return
        self.client.transact_write_items(
            TransactItems=[
                {"Put": put},  # type: ignore[typeddict-item]
                {
                    "Update": self._counter_update(  # type: ignore[typeddict-item]
                        write.key["PK"], write.key["SK"], deltas, write.item.get("expires_at")
                    )
                },
            ]
        )

    def _counter_update(
        self, pk: str, item_sk: str, deltas: Mapping[str, int], expires_at: int | None = None
    ) -> dict[str, Any]:
        """The counter shard's side of a transaction: ADD each delta (and, with a retention,
        SET the shard to expire with the newest item it counts)."""
        names = {f"#c{i}": counter for i, counter in enumerate(deltas)}
        values: dict[str, int] = {f":d{i}": delta for i, delta in enumerate(deltas.values())}
        expression = "ADD " + ", ".join(
            f"{name} {value}" for name, value in zip(names, values, strict=True)
        )
        if expires_at:
            expression += " SET #expires_at = :expires_at"
            names["#expires_at"], values[":expires_at"] = "expires_at", expires_at
        return {
            "TableName": self.name,
            "Key": to_item({"PK": pk, "SK": counter_shard_sk(item_sk)}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }

    def update_if_newer(
        self, pk: str, sk: str, version: str, values: Mapping[str, Any], keep: Mapping[str, Any]
    ) -> bool:
        """SET `values` (and `keep` only where absent) if the stored version is older.
        False if the item already holds this version or a newer one."""
        assignments = {**values, "version": version}
        names = {f"#s{i}": name for i, name in enumerate(assignments)}
        kept_names = {f"#k{i}": name for i, name in enumerate(keep)}
        expression = ", ".join(
            [f"{n} = :s{i}" for i, n in enumerate(names)]
            + [f"{n} = if_not_exists({n}, :k{i})" for i, n in enumerate(kept_names)]
        )
        attribute_values = {
            **{f":s{i}": value for i, value in enumerate(assignments.values())},
            **{f":k{i}": value for i, value in enumerate(keep.values())},
        }
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item({"PK": pk, "SK": sk}),
                UpdateExpression=f"SET {expression}",
                ConditionExpression="attribute_not_exists(#v) OR #v < :s_version",
                ExpressionAttributeNames={**names, **kept_names, "#v": "version"},
                ExpressionAttributeValues=to_item({**attribute_values, ":s_version": version}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def set(self, pk: str, sk: str, values: Mapping[str, Any]) -> None:
        """SET attributes, creating the item if need be (no version: one writer per attribute)."""
        names = {f"#a{i}": name for i, name in enumerate(values)}
        self.client.update_item(
            TableName=self.name,
            Key=to_item({"PK": pk, "SK": sk}),
            UpdateExpression="SET " + ", ".join(f"{n} = :a{i}" for i, n in enumerate(names)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(
                {f":a{i}": value for i, value in enumerate(values.values())}
            ),
        )

    def clear_pending_notification(self, pk: str, sk: str, version: str) -> None:
        """The follow-ups of `version` went out: forget them (unless a newer version arrived)."""
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item({"PK": pk, "SK": sk}),
                UpdateExpression="REMOVE notify_pending",
                ConditionExpression="notify_pending = :v",
                ExpressionAttributeValues=to_item({":v": version}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _status_deltas(
    family: str, stored: Mapping[str, Any] | None, item: Mapping[str, Any]
) -> dict[str, int]:
    deltas: Counter[str] = Counter()
    if stored is None:
        deltas[f"{family}_total"] += 1
    else:
        deltas[f"{family}_status#{stored['status']}"] -= 1
        if reconciled := reconciliation_class(stored):
            deltas[f"{RECONCILED_PREFIX}{reconciled}"] -= 1
    deltas[f"{family}_status#{item['status']}"] += 1
    if reconciled := reconciliation_class(item):
        deltas[f"{RECONCILED_PREFIX}{reconciled}"] += 1
    return {name: delta for name, delta in deltas.items() if delta}


def reconciliation_view(scan: Mapping[str, Any], counters: Mapping[str, int]) -> dict[str, int]:
    """The read API's `reconciliation`: the report's scan (rows, unparseable) and the counts
    its numbers moved in the counter shards (`counters`: summed, as sum_shards gives them)."""
    return {
        "report_rows": int(scan.get("report_rows", 0)),
        **{name: counters.get(f"{RECONCILED_PREFIX}{name}", 0) for name in RECONCILED_CLASSES},
        "unparseable": int(scan.get("unparseable", 0)),
    }


def sum_shards(shards: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Every counter of a campaign, summed over its shard items."""
    totals: Counter[str] = Counter()
    for shard in shards:
        for name, value in shard.items():
            if name not in {"PK", "SK", "expires_at"}:
                totals[name] += int(value)
    return dict(totals)


def reconciliation_class(item: Mapping[str, Any]) -> str | None:
    """How the report and an outcome compare: backfilled (only the report knows the number),
    matched or mismatched (a callback's status against the report's), or None (no report)."""
    reported = item.get("report_status")
    if reported is None:
        return None
    if item.get("source") == "report":
        return "backfilled"
    return "matched" if item["status"] == reported else "mismatched"


def _lost_race(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
    return bool(reasons & {"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError"})


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not security
