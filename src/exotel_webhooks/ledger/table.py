"""The campaign table's I/O: the conditional writes that make each callback's effect
exactly-once, the reads, and the expressions they send (docs/architecture.md, "Data model").
Keys and item encoding are ledger/keys.py's; counter arithmetic is ledger/counting.py's."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from exotel_webhooks.ledger.counting import counts_of, status_deltas, sum_counters
from exotel_webhooks.ledger.keys import (
    CALLS_INDEX,
    CAMPAIGN_ITEMS_PREFIX,
    EVERY_CAMPAIGN,
    HEARD_PK,
    KEY_ATTRIBUTES,
    RECOUNT_SK,
    SORT_KEY,
    SUMMARY_SK,
    attempt_sk,
    call_shard,
    calls_pk,
    campaign_pk,
    campaigns_by_status_pk,
    counter_family,
    counter_sk,
    erasure_keys,
    from_item,
    heard_keys,
    is_counter,
    item_key,
    key_of,
    number_pk,
    number_pk_suffix,
    numbers_prefix,
    outcome_keys,
    partition_key_of,
    sequence_text,
    silence_keys,
    sort_key_of,
    subscriber_key,
    subscriber_of,
    to_item,
    turns_keys,
)
from exotel_webhooks.ledger.precedence import (
    FINAL_CAMPAIGN_STATUSES,
    outranked_sources,
    supersedes,
)
from exotel_webhooks.observability import number_hash

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A campaign's counters, once they sum to zero (every item they counted erased or expired),
# are reset and expire after this: longer than a stream record lives (24 hours), so a retried
# invocation still finds the last sequence number its shard's item took.
EMPTY_COUNTERS_LINGER_SECONDS = 2 * 24 * 3600
MAX_TRANSACTION_ITEMS = 100
_MAX_TRIES = 6
TURN_TRIES = 8  # processes sharing an account's turns: a few at most


class _Unread:
    """`write_versioned`'s default: the stored item has not been read yet."""


UNREAD = _Unread()


class DetailsWrite(Enum):
    WRITTEN = "written"
    UNCHANGED = "unchanged"  # the same details were stored
    GONE = "gone"  # no such attempt (erased, expired)


class RaceLost(Exception):
    """Other writers kept changing the item: let the queue redeliver the record."""


@dataclass(frozen=True)
class WriteResult:
    applied: bool
    previous: dict[str, Any] | None  # what was stored before (what wins, if not applied)
    erased: bool = False  # not applied: the subscriber was erased (a tombstone)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None


class CampaignTable:
    def __init__(
        self, client: DynamoDBClient, table_name: str, hash_key: str | None = None
    ) -> None:
        self.client = client
        self.name = table_name
        # the key of the numbers' hashes (the stack's id; NUMBER_HASH_KEY in its functions)
        self.hash_key = hash_key

    def get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.name, Key=to_item(item_key(pk, sk)), ConsistentRead=consistent
        )
        return from_item(response["Item"]) if "Item" in response else None

    # ------------------------------------------------------------------ versioned writes
    def write_versioned(
        self, item: Mapping[str, Any], seen: dict[str, Any] | _Unread | None = UNREAD
    ) -> WriteResult:
        """Store `item` (an attempt or a callback's outcome) unless what is stored wins
        (precedence.supersedes): one conditional UpdateItem, nothing else.

        An eventually consistent read first turns most duplicates away at a twentieth of the
        price of a failed conditional write (0.5 read unit against 1 write unit); a stale read
        only means the write's condition decides. A refused write returns the winner
        (ReturnValuesOnConditionCheckFailure), which tells a duplicate from an older update.
        Attributes the item does not name (`report_status`) stay as stored; the table's stream
        derives the counters and events from the before and after images (stream.py).
        """
        if isinstance(seen, _Unread):  # else the caller has just read it
            seen = self.get(partition_key_of(item), sort_key_of(item))
        if seen is not None and not supersedes(item, seen):
            return WriteResult(applied=False, previous=seen)
        # Creating the item: is its subscriber erased? (An item that exists was written after
        # `make erase` last looked, so before the tombstone: its next look removes it.)
        if seen is None and self.erased(str(item["campaign_sid"]), subscriber_of(item)):
            return WriteResult(applied=False, previous=seen, erased=True)
        present = {k: v for k, v in item.items() if k not in KEY_ATTRIBUTES and v is not None}
        absent = [k for k, v in item.items() if v is None]
        if "source" not in item:  # a callback's record replacing another source's says so
            absent.append("source")
        names = {f"#a{i}": name for i, name in enumerate([*present, *absent])}
        sets = [f"#a{i} = :a{i}" for i in range(len(present))]
        removes = [f"#a{i}" for i in range(len(present), len(names))]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        values = {f":a{i}": value for i, value in enumerate(present.values())}
        names["#a_version"], names["#a_source"] = "version", "source"
        values[":a_version"] = item["version"]
        # Same source: the newer version wins (a callback's is the best source, so any version
        # it beats is replaced; a record without `source` is a callback's).
        source = item.get("source") or "callback"
        if source == "callback":
            condition = "#a_version < :a_version"
        else:
            condition = "(#a_source = :a_same AND #a_version < :a_version)"
            values[":a_same"] = source
        # ... and a better source replaces a lesser one whatever their versions (precedence.py)
        for i, lesser in enumerate(outranked_sources(source)):
            condition += f" OR #a_source = :a_lesser{i}"
            values[f":a_lesser{i}"] = lesser
        # Creating the item only where nothing was read: an item erased since it was read is
        # not recreated without a look at the tombstones (below)
        condition = (
            f"attribute_not_exists(PK) OR {condition}"
            if seen is None
            else f"attribute_exists(PK) AND ({condition})"
        )
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item(key_of(item)),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            winner = _winner(error)
            if winner is None and seen is not None:  # gone since it was read: start again
                return self.write_versioned(item, None)
            return WriteResult(applied=False, previous=winner)
        return WriteResult(applied=True, previous=seen)

    def update_if_newer(
        self,
        pk: str,
        sk: str,
        version: str,
        values: Mapping[str, Any],
        keep: Mapping[str, Any],
        *,
        source: str = "callback",
    ) -> WriteResult:
        """SET `values` (and `keep` only where absent) if the stored version is older, or was
        written from a lesser source (`status_source`: a campaign status from the Campaign API
        gives way to any callback's). Not applied (with what is stored) otherwise."""
        assignments = {**values, "version": version, "status_source": source}
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
        # Once final from any source, a campaign moves only to another final status, and only
        # by a callback. The Campaign API's status gives way to a callback's final one whatever
        # their dates, and replaces a callback's non-final one only when newer. (A summary
        # without `status_source` holds a callback's.)
        source_values: dict[str, Any] = {":s_version": version}
        finals = {
            f":s_final{i}": status for i, status in enumerate(sorted(FINAL_CAMPAIGN_STATUSES))
        }
        names_used = {"#v": "version"}
        if source == "callback" and values.get("status") in FINAL_CAMPAIGN_STATUSES:
            condition = "attribute_not_exists(#v) OR #v < :s_version OR #src = :s_api"
            source_values[":s_api"] = "api"
            names_used["#src"] = "status_source"
        else:
            condition = (
                "attribute_not_exists(#v) OR "
                f"(#v < :s_version AND NOT #st IN ({', '.join(finals)}))"
            )
            source_values |= finals
            names_used["#st"] = "status"
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item(item_key(pk, sk)),
                UpdateExpression=f"SET {expression}",
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, **kept_names, **names_used},
                ExpressionAttributeValues=to_item({**attribute_values, **source_values}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return WriteResult(applied=False, previous=_winner(error))
            raise
        return WriteResult(applied=True, previous=None)

    def report_number(
        self, backfill: dict[str, Any], stored: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Record what the campaign report says of a number: on its outcome if one is stored
        (`report_status`), else as a backfilled outcome (`backfill`, source "report"), unless
        the number was erased (None). Idempotent; `stored` is what a batch read found (read
        again after a lost race)."""
        for attempt in range(_MAX_TRIES):
            reported = backfill["report_status"]
            if stored is None:
                # nothing stored (or no longer: an erasure may have just removed it)
                if self.erased(backfill["campaign_sid"], subscriber_of(backfill)):
                    return None
                item = backfill
            elif stored.get("source") == "report":
                item = {**stored, "status": backfill["status"], "report_status": reported}
            else:
                item = {**stored, "report_status": reported}
            if item == stored:
                return stored
            if stored is None:
                condition, values = "attribute_not_exists(PK)", {}
            else:
                condition, values = "#version = :stored", {":stored": stored["version"]}
            put: dict[str, Any] = {
                "TableName": self.name,
                "Item": to_item(item),
                "ConditionExpression": condition,
            }
            if values:
                put["ExpressionAttributeNames"] = {"#version": "version"}
                put["ExpressionAttributeValues"] = to_item(values)
            try:
                self.client.put_item(**put)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                _backoff(attempt)
                stored = self.get(
                    partition_key_of(backfill), sort_key_of(backfill), consistent=True
                )
                continue
            return item
        raise RaceLost(f"a number's outcome in {backfill['campaign_sid']} kept changing")

    def erase(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """Delete an attempt or outcome read from this table (the stream takes it out of the
        counters). None if it was already gone."""
        pk, sk = partition_key_of(item), sort_key_of(item)
        for attempt in range(_MAX_TRIES):
            stored = self.get(pk, sk, consistent=True)
            if stored is None:
                return None
            try:
                self.client.delete_item(
                    TableName=self.name,
                    Key=to_item(item_key(pk, sk)),
                    ConditionExpression="#version = :version",
                    ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues=to_item({":version": stored["version"]}),
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                _backoff(attempt)
                continue
            return stored
        raise RaceLost(f"{sk} of a number kept changing")  # its PK holds the number

    # ------------------------------------------------------------------ erasures
    def subscriber_hash(self, subscriber: str) -> str:
        return str(number_hash(subscriber, self.hash_key))

    def bury(self, subscriber: str, campaign_sid: str | None, expires_at: int | None) -> None:
        """Remember that `subscriber` was erased (in one campaign, or in every one), by its
        keyed hash: every door into the ledger checks it before it writes (`erased`)."""
        self.client.put_item(
            TableName=self.name,
            Item=to_item(
                {**erasure_keys(self.subscriber_hash(subscriber), campaign_sid)}
                | {"expires_at": expires_at, "erased_at": int(time.time())}
            ),
        )

    def unbury(self, subscriber: str, campaign_sid: str | None) -> None:
        """Forget a tombstone (`make smoke`'s synthetic campaign, once it is removed)."""
        keys = erasure_keys(self.subscriber_hash(subscriber), campaign_sid)
        self.client.delete_item(TableName=self.name, Key=to_item(keys))

    def erased(self, campaign_sid: str, subscriber: str) -> bool:
        """Whether `subscriber` was erased in this campaign or in all: one Query of its
        tombstones (eventually consistent: `make erase` writes them before it deletes)."""
        keys = erasure_keys(self.subscriber_hash(subscriber), campaign_sid)
        response = self.client.query(
            TableName=self.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": partition_key_of(keys)}),
            ProjectionExpression=SORT_KEY,
        )
        found = {sort_key_of(from_item(item)) for item in response.get("Items") or []}
        return bool(found & {sort_key_of(keys), EVERY_CAMPAIGN})

    def erased_among(self, campaign_sid: str, subscribers: Sequence[str]) -> set[str]:
        """Which of these subscribers were erased in this campaign or in all: their tombstones,
        read in batches (consistent: a list handed out must not hold one erased meanwhile)."""
        wanted: dict[str, str] = {}
        keys = []
        for subscriber in sorted(set(subscribers)):
            hashed = self.subscriber_hash(subscriber)
            wanted[partition_key_of(erasure_keys(hashed, None))] = subscriber
            keys += [erasure_keys(hashed, campaign_sid), erasure_keys(hashed, None)]
        return {wanted[partition_key_of(found)] for found in self.batch_get(keys, consistent=True)}

    def _update_if(
        self,
        key: Mapping[str, str],
        update: str,
        condition: str,
        names: dict[str, str],
        values: Mapping[str, Any],
    ) -> bool:
        """One conditional UpdateItem; False if its condition did not hold."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": to_item(key_of(key)),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:  # DynamoDB refuses an empty map
            request["ExpressionAttributeValues"] = to_item(values)
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def note_report_requested(self, pk: str, event_id: str) -> None:
        """The report request of this callback went out (while the report is still pending;
        else the fetcher got there first: nothing to note)."""
        self._update_if(
            item_key(pk, SUMMARY_SK),
            "SET #report.#requested = :event_id",
            "#report.#status = :pending",
            {"#report": "report", "#requested": "requested", "#status": "status"},
            {":event_id": event_id, ":pending": "pending"},
        )

    def note_api_status(self, keys: Mapping[str, str], status: str, version: str) -> bool:
        """What the Campaign API says of a number whose outcome a callback stored
        (`api_status`, reconciled against when there is no report): the API's latest row wins,
        in whatever order the rows come. False if the stored note is as new, or the outcome is
        not a callback's."""
        return self._update_if(
            keys,
            "SET #status = :status, #version = :version",
            "attribute_exists(PK) AND (attribute_not_exists(#source) OR #source = :callback)"
            " AND (attribute_not_exists(#version) OR #version < :version)",
            {"#status": "api_status", "#version": "api_version", "#source": "source"},
            {":status": status, ":version": version, ":callback": "callback"},
        )

    def record_api_reconciliation(self, pk: str, scan: Mapping[str, Any]) -> bool:
        """The summary's `reconciliation` from the Campaign API's rows, unless a report's is
        stored (a report reconciled meanwhile stands)."""
        return self._update_if(
            item_key(pk, SUMMARY_SK),
            "SET #reconciliation = :scan",
            "attribute_not_exists(#reconciliation) OR #reconciliation.#source = :api",
            {"#reconciliation": "reconciliation", "#source": "source"},
            {":scan": dict(scan), ":api": "api"},
        )

    def set(self, pk: str, sk: str, values: Mapping[str, Any]) -> None:
        """SET attributes, creating the item if need be (no version: one writer per attribute)."""
        names = {f"#a{i}": name for i, name in enumerate(values)}
        self.client.update_item(
            TableName=self.name,
            Key=to_item(item_key(pk, sk)),
            UpdateExpression="SET " + ", ".join(f"{n} = :a{i}" for i, n in enumerate(names)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(
                {f":a{i}": value for i, value in enumerate(values.values())}
            ),
        )

    def record_call_details(self, pk: str, sk: str, details: Mapping[str, Any]) -> DetailsWrite:
        """An attempt's call details (sweep/enrichment.py), beside what the callbacks said and
        never in its place: only on an attempt that exists (an erased one stays erased), and
        only if they differ from those stored."""
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item(item_key(pk, sk)),
                UpdateExpression="SET #d = :d",
                ConditionExpression=(
                    "attribute_exists(PK) AND (attribute_not_exists(#d) OR #d <> :d)"
                ),
                ExpressionAttributeNames={"#d": "details"},
                ExpressionAttributeValues=to_item({":d": dict(details)}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return DetailsWrite.UNCHANGED if _winner(error) else DetailsWrite.GONE
        return DetailsWrite.WRITTEN

    def record_recording(self, pk: str, sk: str, recording: Mapping[str, Any]) -> DetailsWrite:
        """Where an attempt's recording is kept (sweep/recordings.py): only on an attempt that
        exists (an erased one stays erased) and has none yet."""
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item(item_key(pk, sk)),
                UpdateExpression="SET #r = :r",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": "recording"},
                ExpressionAttributeValues=to_item({":r": dict(recording)}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return DetailsWrite.UNCHANGED if _winner(error) else DetailsWrite.GONE
        return DetailsWrite.WRITTEN

    # ------------------------------------------------------------------ turns at Exotel's API
    def take_turn(self, account: str, interval: float, now: float) -> float:
        """The account's next free turn (epoch seconds, `now` at the earliest), taken: the next
        one is `interval` later. A conditional write on the time read, so two processes never
        take the same turn."""
        key = turns_keys(account)
        for attempt in range(TURN_TRIES):
            stored = self.get(partition_key_of(key), sort_key_of(key), consistent=True)
            free = stored.get("next_at") if stored else None
            turn = max(now, float(free)) if free is not None else now
            condition = "attribute_not_exists(#n)" if free is None else "#n = :read"
            values: dict[str, Any] = {":next": Decimal(repr(turn + interval))}
            if free is not None:
                values[":read"] = free
            if self._update_if(key, "SET #n = :next", condition, {"#n": "next_at"}, values):
                return turn
            _backoff(attempt)
        raise RaceLost(f"no turn at the API taken in {TURN_TRIES} tries")

    def hold_turns(self, account: str, until: float) -> None:
        """No turn of the account's before `until` (epoch seconds)."""
        self._update_if(
            turns_keys(account),
            "SET #n = :until",
            "attribute_not_exists(#n) OR #n < :until",
            {"#n": "next_at"},
            {":until": Decimal(repr(until))},
        )

    # ------------------------------------------------------------------ counters
    def add_to_counters(
        self,
        campaign_sid: str,
        stream_shard: str,
        deltas: Mapping[str, int],
        *,
        first_sequence: str,
        last_sequence: str,
        heard: str | None = None,
    ) -> str | None:
        """ADD `deltas` (what the shard's records from `first_sequence` to `last_sequence` did)
        to the campaign's counter item of this stream shard, unless it has already taken a
        record from `first_sequence` on. Records of one shard come in order, so the last
        sequence number taken is all the memory exactly-once needs. None if added; else the
        last sequence number the item has taken (so the caller adds only what is newer).

        Counter items never expire on their own (an item they counted may outlive the one it
        was first counted on, on another shard): they are reset when the campaign's counters
        sum to zero (`reset_counters_if_empty`), and a reset item counting again loses its
        expiry here."""
        names = {f"#c{i}": counter for i, counter in enumerate(deltas)}
        values: dict[str, Any] = {f":d{i}": delta for i, delta in enumerate(deltas.values())}
        values[":first"] = sequence_text(first_sequence)
        values[":last"] = sequence_text(last_sequence)
        names["#last"], names["#expires_at"] = "last_sequence", "expires_at"
        expression = "SET #last = :last"
        if heard:  # a callback of the campaign taken: its place among the campaigns heard
            for name, value in {**heard_keys(heard, campaign_sid), "heard": heard,
                                "campaign_sid": campaign_sid}.items():  # fmt: skip
                names[f"#{name}"], values[f":{name}"] = name, value
                expression += f", #{name} = :{name}"
        expression += " REMOVE #expires_at"
        adds = [f"#c{i} :d{i}" for i in range(len(deltas))]
        if adds:
            expression += " ADD " + ", ".join(adds)
        try:
            self.client.update_item(
                TableName=self.name,
                Key=to_item(item_key(campaign_pk(campaign_sid), counter_sk(stream_shard))),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(#last) OR #last < :first",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return str((_winner(error) or {}).get("last_sequence", ""))
            raise
        return None

    def note_heard(self, campaign_sid: str, stream_shard: str, heard: str) -> None:
        """A callback of the campaign taken on this shard that moved no count: its counter
        item's place among the campaigns heard, alone (add_to_counters sets it with counts)."""
        marks = {**heard_keys(heard, campaign_sid), "heard": heard, "campaign_sid": campaign_sid}
        self.client.update_item(
            TableName=self.name,
            Key=to_item(item_key(campaign_pk(campaign_sid), counter_sk(stream_shard))),
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in marks),
            ExpressionAttributeNames={f"#{name}": name for name in marks},
            ExpressionAttributeValues=to_item({f":{name}": value for name, value in marks.items()}),
        )

    def campaigns_heard(self, after: str, before: str) -> list[dict[str, Any]]:
        """The counter items whose last callback was taken in [after, before) (UTC text, to
        the minute): GSI1, a campaign once per stream shard it was counted on."""
        return self.query_all(
            {
                "IndexName": CALLS_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK BETWEEN :after AND :before",
                "ExpressionAttributeValues": to_item(
                    {":pk": HEARD_PK, ":after": after, ":before": before}
                ),
            }
        )

    def claim_silence(self, campaign_sid: str, heard: str, expires_at: int) -> bool:
        """Note that the campaign's silence since `heard` is announced: True once per silence
        (a later callback, then silence again, is a new one)."""
        try:
            self.client.put_item(
                TableName=self.name,
                Item=to_item(
                    {
                        **silence_keys(campaign_sid),
                        "campaign_sid": campaign_sid,
                        "heard": heard,
                        "expires_at": expires_at,
                    }
                ),
                ConditionExpression="attribute_not_exists(heard) OR heard < :heard",
                ExpressionAttributeValues=to_item({":heard": heard}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def campaign_items(self, campaign_sid: str) -> list[dict[str, Any]]:
        """The summary and every counter item, in one Query (consistent: the counters' sum)."""
        return self.query_all(
            {
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": to_item(
                    {":pk": campaign_pk(campaign_sid), ":prefix": CAMPAIGN_ITEMS_PREFIX}
                ),
                "ConsistentRead": True,
            }
        )

    def remove_campaign(self, campaign_sid: str) -> int:
        """Delete a campaign's summary and counter items (`make smoke`'s clean-up, once its
        attempts and outcomes are erased and counted out). Returns how many were deleted."""
        items = self.campaign_items(campaign_sid)
        for item in items:
            self.client.delete_item(TableName=self.name, Key=to_item(key_of(item)))
        return len(items)

    def campaign_counters(self, campaign_sid: str) -> dict[str, int]:
        """Every counter of a campaign, summed over its counter items."""
        return sum_counters(
            [item for item in self.campaign_items(campaign_sid) if is_counter(item)]
        )

    def recount(self, campaign_sid: str) -> dict[str, int]:
        """Rebuild the campaign's counters from its items: `#COUNTER#recount` takes whatever
        makes the sum equal what the items say (the stream's items keep their place in the
        stream). Returns the corrections made; run it again and it makes none."""
        truth: Counter[str] = Counter()
        for item in self.campaign_numbers(campaign_sid):
            family = counter_family(item)
            if family:
                truth.update(status_deltas(family, None, item))
        counters = self.campaign_counters(campaign_sid)
        corrections = {
            name: truth.get(name, 0) - counters.get(name, 0)
            for name in sorted(set(truth) | set(counters))
            if truth.get(name, 0) != counters.get(name, 0)
        }
        if corrections:
            names = {f"#c{i}": name for i, name in enumerate(corrections)}
            adds = [f"#c{i} :d{i}" for i in range(len(names))]
            names["#revision"] = "revision"  # what a reset checks is unchanged
            self.client.update_item(
                TableName=self.name,
                Key=to_item(item_key(campaign_pk(campaign_sid), RECOUNT_SK)),
                UpdateExpression="ADD " + ", ".join([*adds, "#revision :one"]) + " REMOVE #e",
                ExpressionAttributeNames=names | {"#e": "expires_at"},
                ExpressionAttributeValues=to_item(
                    {f":d{i}": delta for i, delta in enumerate(corrections.values())} | {":one": 1}
                ),
            )
        if not self.reset_counters_if_empty(campaign_sid, time.time()):
            self._keep_counters(campaign_sid)
        return corrections

    def _keep_counters(self, campaign_sid: str) -> None:
        """Counters that still count something never expire (counter items written before
        2026-12-03 carried the expiry of the items they counted, and those of a closed stream
        shard would keep it for ever)."""
        for item in self.campaign_items(campaign_sid):
            if is_counter(item) and "expires_at" in item:
                self._update_if(
                    item,
                    "REMOVE #e",
                    "attribute_exists(#e)",
                    {"#e": "expires_at"},
                    {},
                )

    def reset_counters_if_empty(self, campaign_sid: str, now: float) -> bool:
        """Once a campaign's counters sum to zero (each item they counted erased or expired),
        reset them: in one transaction, each on condition it is unchanged, the items that hold
        counts lose them (the sum stays zero) and expire after EMPTY_COUNTERS_LINGER_SECONDS,
        keeping their last sequence numbers; the bare ones expire too. More counting items than
        one transaction takes are first folded, 99 at a time, into `#COUNTER#recount` (each
        fold one transaction: the sums never change). Counters that do not sum to zero are never
        touched, so they cannot expire before an item they counted. True if reset."""
        cancelled = 0  # transactions a concurrent change cancelled: tried again a few times
        while True:
            counters = [item for item in self.campaign_items(campaign_sid) if is_counter(item)]
            if not counters or any(sum_counters(counters).values()):
                return False
            counting = [item for item in counters if counts_of(item)]
            if len(counting) <= MAX_TRANSACTION_ITEMS:
                expires_at = int(now) + EMPTY_COUNTERS_LINGER_SECONDS
                updates = [self._take_counts(item, expires_at) for item in counting]
            else:  # each fold leaves fewer items counting: this ends
                chunk = [item for item in counting if sort_key_of(item) != RECOUNT_SK]
                chunk = chunk[: MAX_TRANSACTION_ITEMS - 1]
                folded = self._fold_into_recount(campaign_sid, chunk)
                updates = [*(self._take_counts(item) for item in chunk), folded]
            if not updates or self._transact(updates):
                if len(counting) <= MAX_TRANSACTION_ITEMS:
                    break
                continue
            cancelled += 1
            if cancelled > _MAX_TRIES:
                return False  # they stay, summing to zero, until a recount or a removal
            _backoff(cancelled)
        for item in counters:
            if item not in counting and "expires_at" not in item:
                self._transact([self._take_counts(item, expires_at)])  # counts nothing either way
        return True

    def _take_counts(self, item: Mapping[str, Any], expires_at: int | None = None) -> Any:  # noqa: ANN401
        """A transaction's Update removing a counter item's counts (and setting its expiry), on
        condition it is unchanged since it was read."""
        counts = counts_of(item)
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        clauses, values = [], {}
        if expires_at is not None:
            names["#e"], values[":e"] = "expires_at", expires_at
            clauses.append("SET #e = :e")
        if counts:
            clauses.append("REMOVE " + ", ".join(f"#c{i}" for i in range(len(counts))))
        for token in ("last_sequence", "revision"):
            if token in item:
                condition = "#u = :u"
                names["#u"], values[":u"] = token, item[token]
                break
        else:
            condition = "attribute_exists(PK)"
        update = {
            "TableName": self.name,
            "Key": to_item(key_of(item)),
            "UpdateExpression": " ".join(clauses),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

    def _fold_into_recount(self, campaign_sid: str, chunk: Sequence[Mapping[str, Any]]) -> Any:  # noqa: ANN401
        """A transaction's Update adding `chunk`'s counts to `#COUNTER#recount`."""
        totals = sum_counters(chunk)
        names = {f"#c{i}": name for i, name in enumerate(totals)} | {"#r": "revision"}
        values: dict[str, Any] = {f":d{i}": delta for i, delta in enumerate(totals.values())}
        values[":one"] = 1
        adds = [f"#c{i} :d{i}" for i in range(len(totals))]
        return {
            "Update": {
                "TableName": self.name,
                "Key": to_item(item_key(campaign_pk(campaign_sid), RECOUNT_SK)),
                "UpdateExpression": "ADD " + ", ".join([*adds, "#r :one"]),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def _transact(self, updates: list[Any]) -> bool:
        """One TransactWriteItems; False if a condition failed (it wrote nothing)."""
        try:
            self.client.transact_write_items(TransactItems=updates)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return False
        return True

    # ------------------------------------------------------------------ reads
    def number_collection(
        self, campaign_sid: str, subscriber: str, consistent: bool = False
    ) -> list[dict[str, Any]]:
        """A number's outcome and attempts in one campaign: one item collection, one Query."""
        return self.query_all(
            {
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": to_item({":pk": number_pk(campaign_sid, subscriber)}),
                "ConsistentRead": consistent,
            }
        )

    def attempts(
        self, campaign_sid: str, number: str, call_sids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The stored attempts among these call SIDs of a number as sent."""
        return self.batch_get(
            [
                item_key(number_pk(campaign_sid, subscriber_key(number, [sid])), attempt_sk(sid))
                for sid in sorted(set(call_sids))
            ]
        )

    def outcomes(self, campaign_sid: str, subscribers: Sequence[str]) -> list[dict[str, Any]]:
        """The stored outcomes of these numbers (consistent)."""
        keys = [outcome_keys(campaign_sid, subscriber) for subscriber in sorted(set(subscribers))]
        return self.batch_get(keys, consistent=True)

    def calls_page(
        self,
        campaign_sid: str,
        shard: int,
        limit: int,
        status: str | None = None,
        start_key: dict[str, Any] | None = None,
    ) -> Page:
        """Up to `limit` of one call shard's attempts (GSI1), of one status if given (a
        filter: a page may hold fewer, and `last_key` says where to go on)."""
        query: dict[str, Any] = {
            "IndexName": CALLS_INDEX,
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": calls_pk(campaign_sid, shard)},
            "Limit": limit,
        }
        if status:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"][":status"] = status
        query["ExpressionAttributeValues"] = to_item(query["ExpressionAttributeValues"])
        if start_key:
            query["ExclusiveStartKey"] = start_key
        response = self.client.query(TableName=self.name, **query)
        return Page(
            [from_item(item) for item in response.get("Items", [])],
            response.get("LastEvaluatedKey"),
        )

    def stored_call(self, campaign_sid: str, call_sid: str) -> dict[str, Any] | None:
        """The attempt stored for this call SID in this campaign, whatever number it is keyed
        under (GSI1: `PK`, `number`, `status`, ...), or None. Eventually consistent."""
        spellings = self.stored_calls(campaign_sid, call_sid)
        return spellings[0] if spellings else None

    def stored_calls(self, campaign_sid: str, call_sid: str) -> list[dict[str, Any]]:
        """Every attempt stored for this call SID in this campaign (one, unless two doors keyed
        its number differently): GSI1's projection of each."""
        return self.query_all(
            {
                "IndexName": CALLS_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK = :sid",
                "ExpressionAttributeValues": to_item(
                    {":pk": calls_pk(campaign_sid, call_shard(call_sid)), ":sid": call_sid}
                ),
            }
        )

    def stored(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """What is stored under `item`'s key (eventually consistent)."""
        return self.get(partition_key_of(item), sort_key_of(item))

    def remove_other_spellings(self, attempt: Mapping[str, Any]) -> None:
        """Remove an attempt the Campaign API stored for `attempt`'s call under another
        spelling of its number: one call SID is one attempt, whichever door names it."""
        for other in self.stored_calls(str(attempt["campaign_sid"]), str(attempt["call_sid"])):
            if partition_key_of(other) != partition_key_of(attempt):
                self.remove_api_attempt(other)

    def remove_api_attempt(self, keys: Mapping[str, str]) -> bool:
        """Delete the attempt at `keys` if the Campaign API wrote it (a callback names the same
        call under another spelling of its number: the callback's is the one attempt)."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=to_item(key_of(keys)),
                ConditionExpression="#source = :api",
                ExpressionAttributeNames={"#source": "source"},
                ExpressionAttributeValues=to_item({":api": "api"}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def campaigns_with_status(
        self, status: str, updated_after: str, updated_before: str
    ) -> list[dict[str, Any]]:
        """The summaries of the campaigns whose status is `status`, last updated in
        [updated_after, updated_before) (UTC text, as the index sorts them): GSI1."""
        return self.query_all(
            {
                "IndexName": CALLS_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK BETWEEN :after AND :before",
                "ExpressionAttributeValues": to_item(
                    {
                        ":pk": campaigns_by_status_pk(status),
                        ":after": updated_after,
                        ":before": updated_before,
                    }
                ),
            }
        )

    def campaign_numbers(self, campaign_sid: str) -> Iterator[dict[str, Any]]:
        """Every attempt and outcome of a campaign: a Scan, for repairs (`make recount`), never
        on a request's path."""
        return self._scan("begins_with(PK, :prefix)", {":prefix": numbers_prefix(campaign_sid)})

    def number_items(
        self, subscriber: str, campaign_sid: str | None = None
    ) -> list[dict[str, Any]]:
        """A number's attempts and outcomes in one campaign (one Query), or in every campaign
        (a Scan: erasure is rare, and an index for it would cost a write per attempt)."""
        if campaign_sid:  # consistent: an erasure's last look must see the latest write
            return self.number_collection(campaign_sid, subscriber, consistent=True)
        suffix = number_pk_suffix(subscriber)
        return [
            item
            for item in self._scan("contains(PK, :suffix)", {":suffix": suffix})
            if partition_key_of(item).endswith(suffix)
        ]

    def every_item(self) -> Iterator[dict[str, Any]]:
        """Every item of the table, whatever its layout (`make migrate` reads an old one)."""
        return self._scan(None, {})

    def _scan(self, condition: str | None, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        scan: dict[str, Any] = {"TableName": self.name, "ConsistentRead": True}
        if condition:
            scan |= {"FilterExpression": condition, "ExpressionAttributeValues": to_item(values)}
        while True:
            response = self.client.scan(**scan)
            yield from (from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def query_all(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        query = {"TableName": self.name, **query}
        items: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**query)
            items += [from_item(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def batch_get(
        self, keys: Sequence[Mapping[str, str]], consistent: bool = False
    ) -> list[dict[str, Any]]:
        """The items stored under these keys (BatchGetItem, 100 keys a request, unprocessed keys
        asked again with backoff). Raises RaceLost if DynamoDB keeps some unprocessed."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [to_item(key_of(key)) for key in keys[start : start + 100]],
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


def _winner(error: ClientError) -> dict[str, Any] | None:
    """What a refused conditional write found (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item: Mapping[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
    return from_item(item) if item else None


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not security
