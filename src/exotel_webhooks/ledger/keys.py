"""The campaign table's keys and item encoding: the one module that spells a key attribute, a
key prefix or a sort key (docs/architecture.md, "Data model"; tests/unit/test_layout.py).

Items (PK / SK):
  CAMPAIGN#<sid> / #SUMMARY                  status, dates, report, reconciliation
                                             GSI1: campaigns by status (CAMPAIGN_STATUS#<status>)
  CAMPAIGN#<sid> / #COUNTER#<stream shard>   counters derived from the table's stream, one item
                                             per stream shard (stream.py); `#COUNTER#recount`
                                             holds what `make recount` corrected
                                             GSI1: when the shard last took a callback of the
                                             campaign, to the minute (CAMPAIGNS_HEARD)
  CAMPAIGN#<sid> / #SILENCE                  the last silence of a running campaign announced
                                             (silence.py)
  CAMPAIGN#<sid>#NUMBER#<subscriber> / OUTCOME             one number's final outcome
  CAMPAIGN#<sid>#NUMBER#<subscriber> / ATTEMPT#<call_sid>  one call attempt
                                             GSI1: a campaign's calls, over CALL_SHARDS keys
  ERASED#<number hash> / CAMPAIGN#<sid> or *  an erased subscriber (in one campaign, or in
                                             all): no door writes it back
  TURNS#<account sid> / #TURNS               when the account's next turn at Exotel's API is
                                             free (sweep/pacing.py)

A number's outcome and attempts share one item collection, so the number view is one Query and
one campaign's writes spread over as many partition keys as it has numbers.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

PARTITION_KEY, SORT_KEY = "PK", "SK"
KEY_ATTRIBUTES = frozenset({PARTITION_KEY, SORT_KEY})
SUMMARY_SK = "#SUMMARY"
ERASED_PREFIX = "ERASED#"
EVERY_CAMPAIGN = "*"
COUNTER_SK_PREFIX = "#COUNTER#"
RECOUNT_SK = f"{COUNTER_SK_PREFIX}recount"
CAMPAIGN_ITEMS_PREFIX = "#"  # the summary and the counter items sort first
ATTEMPT_SK_PREFIX = "ATTEMPT#"
OUTCOME_SK = "OUTCOME"
CALLS_INDEX = "GSI1"
# A campaign's calls are listed from this many index keys: at 5,000 attempts a second each
# takes 500 writes a second, half of DynamoDB's 1,000 per partition.
CALL_SHARDS = 10
HEARD_PK = "CAMPAIGNS_HEARD"
SILENCE_SK = "#SILENCE"
COUNTER_BOOKKEEPING = frozenset(
    {"PK", "SK", "expires_at", "last_sequence", "revision", "heard", "campaign_sid"}
    | {"GSI1PK", "GSI1SK"}
)
_SEQUENCE_DIGITS = 40  # DynamoDB stream sequence numbers have up to 40 digits
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# ---------------------------------------------------------------------------------------- keys
def campaign_pk(campaign_sid: str) -> str:
    return f"CAMPAIGN#{campaign_sid}"


def item_key(pk: str, sk: str) -> dict[str, str]:
    """An item's primary key."""
    return {PARTITION_KEY: pk, SORT_KEY: sk}


def key_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The primary key of an item (plain or in DynamoDB's encoding)."""
    return {PARTITION_KEY: item[PARTITION_KEY], SORT_KEY: item[SORT_KEY]}


def partition_key_of(item: Mapping[str, Any]) -> Any:  # noqa: ANN401 - as the item holds it
    return item[PARTITION_KEY]


def sort_key_of(item: Mapping[str, Any]) -> Any:  # noqa: ANN401 - as the item holds it
    return item[SORT_KEY]


def number_pk_suffix(subscriber: str) -> str:
    """How every campaign's item collection of one subscriber ends (an erasure's scan)."""
    return f"#NUMBER#{subscriber}"


def number_pk(campaign_sid: str, subscriber: str) -> str:
    """The item collection of one number in one campaign: its outcome and its attempts."""
    return f"CAMPAIGN#{campaign_sid}#NUMBER#{subscriber}"


def numbers_prefix(campaign_sid: str) -> str:
    return f"CAMPAIGN#{campaign_sid}#NUMBER#"


def attempt_sk(call_sid: str) -> str:
    return f"{ATTEMPT_SK_PREFIX}{call_sid}"


def counter_sk(stream_shard: str) -> str:
    return f"{COUNTER_SK_PREFIX}{stream_shard}"


def calls_pk(campaign_sid: str, shard: int) -> str:
    return f"CAMPAIGN#{campaign_sid}#CALLS#{shard}"


def call_shard(call_sid: str) -> int:
    """The same call always lists under the same key."""
    return zlib.crc32(call_sid.encode()) % CALL_SHARDS


def campaigns_by_status_pk(status: str) -> str:
    return f"CAMPAIGN_STATUS#{status}"


def campaign_status_keys(status: str, updated: str, campaign_sid: str) -> dict[str, str]:
    """A summary's place in GSI1: the campaigns of one status, by when it was last updated."""
    return {"GSI1PK": campaigns_by_status_pk(status), "GSI1SK": f"{updated}#{campaign_sid}"}


def heard_keys(heard: str, campaign_sid: str) -> dict[str, str]:
    """A counter item's place in GSI1: the campaigns by when a callback of theirs was last
    taken (`heard`, UTC text to the minute)."""
    return {"GSI1PK": HEARD_PK, "GSI1SK": f"{heard}#{campaign_sid}"}


def silence_keys(campaign_sid: str) -> dict[str, str]:
    return item_key(campaign_pk(campaign_sid), SILENCE_SK)


def subscriber_key(number: str, call_sids: Sequence[str], event_id: str | None = None) -> str:
    """What a number's records are keyed by. A number in E.164 is one subscriber. Anything else
    (masked `0XXXXXX4890`, partial) may stand for many, so it is told apart by its first call SID
    (in sort order), or, with none, by the callback itself: never merged with another."""
    if is_e164(number):
        return number
    if call_sids:
        return f"{number}@{min(call_sids)}"
    return f"{number}@{event_id}" if event_id else number


def is_e164(number: str) -> bool:
    """One subscriber for certain (anything else may be a mask shared by many)."""
    return _E164.fullmatch(number) is not None


def masked_part(subscriber: str) -> str:
    """The number as sent, of a subscriber key (`0XXXXXX4890@call_1` -> `0XXXXXX4890`)."""
    return subscriber.rsplit("@", 1)[0]


def erasure_keys(subscriber_hash: str, campaign_sid: str | None) -> dict[str, str]:
    """A tombstone: the subscriber's keyed hash (never the number), in one campaign or all."""
    return {
        "PK": f"{ERASED_PREFIX}{subscriber_hash}",
        "SK": campaign_pk(campaign_sid) if campaign_sid else EVERY_CAMPAIGN,
    }


def turns_keys(account_sid: str) -> dict[str, str]:
    """The item holding an Exotel account's next free turn at its API."""
    return {"PK": f"TURNS#{account_sid}", "SK": "#TURNS"}


def campaign_of(keys: Mapping[str, Any]) -> str:
    """The campaign a summary's, an attempt's or an outcome's key names."""
    pk = str(keys[PARTITION_KEY]).removeprefix(campaign_pk(""))
    return pk.split(number_pk_suffix(""), 1)[0]


def call_sid_of(keys: Mapping[str, Any]) -> str:
    """The call an attempt's key names."""
    return str(keys[SORT_KEY]).removeprefix(ATTEMPT_SK_PREFIX)


def key_text(keys: Mapping[str, Any]) -> str:
    """An item's primary key as one string (what the analytics dataset hashes it from)."""
    return f"{keys[PARTITION_KEY]}|{keys[SORT_KEY]}"


def subscriber_of(item: Mapping[str, Any]) -> str:
    """The subscriber key an attempt's or outcome's item is stored under."""
    return subscriber_in(str(item["PK"]), str(item["campaign_sid"]))


def subscriber_in(partition_key: str, campaign_sid: str) -> str:
    """The subscriber key a number's partition key names."""
    return partition_key.removeprefix(numbers_prefix(campaign_sid))


def attempt_keys(campaign_sid: str, number: str, call_sid: str) -> dict[str, str]:
    return {
        "PK": number_pk(campaign_sid, subscriber_key(number, [call_sid])),
        "SK": attempt_sk(call_sid),
        "GSI1PK": calls_pk(campaign_sid, call_shard(call_sid)),
        "GSI1SK": call_sid,
    }


def outcome_keys(campaign_sid: str, subscriber: str) -> dict[str, str]:
    return {"PK": number_pk(campaign_sid, subscriber), "SK": OUTCOME_SK}


def is_attempt(item: Mapping[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(ATTEMPT_SK_PREFIX)


def is_summary(item: Mapping[str, Any]) -> bool:
    return item.get("SK") == SUMMARY_SK


def is_silence(item: Mapping[str, Any]) -> bool:
    return item.get("SK") == SILENCE_SK


def is_outcome(item: Mapping[str, Any]) -> bool:
    return item.get("SK") == OUTCOME_SK


def is_counter(item: Mapping[str, Any]) -> bool:
    return str(item.get("SK", "")).startswith(COUNTER_SK_PREFIX)


def counter_family(item: Mapping[str, Any]) -> str | None:
    """Which counters an item moves: "attempts", "numbers", or None (summary, counters)."""
    if is_attempt(item):
        return "attempts"
    return "numbers" if is_outcome(item) else None


# ---------------------------------------------------------------------------------- attributes
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


def sequence_text(sequence_number: str) -> str:
    """Stream sequence numbers as fixed-width text, so that string order is stream order."""
    return sequence_number.zfill(_SEQUENCE_DIGITS)


class ForeignStartKey(ValueError):
    """A paging key of another campaign or call shard than the query it is handed to."""


def calls_start_key(campaign_sid: str, shard: int, key: object) -> dict[str, Any]:
    """`key`, a `calls_page` LastEvaluatedKey handed back by a client, if it can only continue
    that query: exactly the index's key attributes, as text, in that call shard of this campaign
    and among attempts; so an edited key can neither read another campaign nor reach DynamoDB
    malformed. Raises ForeignStartKey or ValueError."""
    if (
        not isinstance(key, dict)
        or set(key) != {"PK", "SK", "GSI1PK", "GSI1SK"}
        or not all(isinstance(value, dict) and set(value) == {"S"} for value in key.values())
        or not all(isinstance(value["S"], str) for value in key.values())
    ):
        raise ValueError("not a calls paging key")
    plain = {name: value["S"] for name, value in key.items()}
    if plain["GSI1PK"] != calls_pk(campaign_sid, shard) or not plain["PK"].startswith(
        numbers_prefix(campaign_sid)
    ):
        raise ForeignStartKey("a paging key of another query")
    if not plain["SK"].startswith(ATTEMPT_SK_PREFIX):
        raise ValueError("not an attempt's key")
    return key


# The single-partition layout a stack kept before this one (ops/migrate.py reads it).
_OLD_LAYOUT_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "notify_pending")
_OLD_NUMBER_SK_PREFIX = "NUMBER#"


@dataclass(frozen=True)
class OldLayoutItem:
    """One item of the single-partition layout (every item under `CAMPAIGN#<sid>`, outcomes as
    `NUMBER#<subscriber>`, GSI2, ten counter shards), read for `make migrate`."""

    kind: str  # "summary", "attempt", "outcome" or "counter"
    pk: str
    subscriber: str | None  # an outcome's
    status_index_keys: dict[str, Any]  # a summary's GSI1 keys, as they were
    values: dict[str, Any]  # every attribute but the layout's keys


def read_old_layout(old: Mapping[str, Any]) -> OldLayoutItem:
    sk: str = old["SK"]
    values = {name: value for name, value in old.items() if name not in _OLD_LAYOUT_KEYS}
    index = {"GSI1PK": old.get("GSI1PK"), "GSI1SK": old.get("GSI1SK")}
    if sk == SUMMARY_SK:
        kind, subscriber = "summary", None
    elif sk.startswith(ATTEMPT_SK_PREFIX):
        kind, subscriber = "attempt", None
    elif sk.startswith(_OLD_NUMBER_SK_PREFIX):
        kind, subscriber = "outcome", sk.removeprefix(_OLD_NUMBER_SK_PREFIX)
    else:
        kind, subscriber = "counter", None
    return OldLayoutItem(kind, str(old["PK"]), subscriber, index, values)
