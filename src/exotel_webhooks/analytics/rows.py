"""The analytics dataset's rows: what the ledger's stream says of each stored attempt, number
outcome and campaign, as one newline-delimited JSON row per change (docs/architecture.md,
"The analytics dataset").

A row never holds a phone number, a key that spells one, or an unknown field a callback carried
(`extra` may hold anything): it names its item and its subscriber by the keyed hash the logs use
(observability.number_hash). Every change of an item adds a row; the newest by stream sequence
says what the ledger holds, and a removal (erasure, expiry, a spelling folded into another)
says only that the item is gone. `make erase` rewrites the objects holding an erased
subscriber's rows (ops/erase.py). The queries under analytics/ take the newest row of each item.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from exotel_webhooks.ledger.keys import (
    call_sid_of,
    campaign_of,
    is_attempt,
    is_e164,
    is_outcome,
    is_summary,
    key_text,
    sequence_text,
    subscriber_of,
)
from exotel_webhooks.normalise import parse_timestamp
from exotel_webhooks.observability import number_hash

ATTEMPT, OUTCOME, CAMPAIGN = "attempt", "outcome", "campaign"
# Fields a call status callback may carry beyond the documented ones, talk time first (seen on
# Exotel's call objects: reference in docs/architecture.md)
_TALK_TIME_FIELDS = ("ConversationDuration", "conversation_duration", "Duration", "duration")
_MAX_TALK_SECONDS = 86_400


def dataset_row(
    keys: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    sequence: str,
    *,
    zone: ZoneInfo,
    hash_key: str | None = None,
) -> dict[str, Any] | None:
    """The row one stream record adds to the dataset, or None for items it does not carry
    (counters, tombstones)."""
    item = after or before
    if item is None:
        return None
    kind = _kind(keys)
    if kind is None:
        return None
    row: dict[str, Any] = {
        "kind": kind,
        "item": item_id(keys, hash_key),
        "campaign_sid": campaign_of(keys),  # the key's: bookkeeping alone may hold no field
        "sequence": sequence_text(sequence),
        "removed": after is None,
    }
    if after is None:  # that it is gone is all a removal says: nothing of whom it was
        return row
    row |= {
        "status": item.get("status"),
        "date_created": _utc(item.get("date_created"), zone),
        "date_updated": _utc(item.get("date_updated"), zone),
        "received_at": _utc(item.get("received_at"), zone),
    }
    if kind == CAMPAIGN:
        return row
    subscriber = subscriber_of({**item, **keys, "campaign_sid": row["campaign_sid"]})
    row["number_hash"] = number_hash(subscriber, hash_key)
    row["source"] = item.get("source") or "callback"
    if kind == OUTCOME:
        listed = item.get("call_sids")
        row["call_sids"] = [str(sid) for sid in listed] if isinstance(listed, list | set) else []
        row["dialable"] = is_e164(subscriber)  # a masked or partial number cannot be redialled
        return row
    row["call_sid"] = call_sid_of(keys)
    dialled = _moment(item.get("date_created") or item.get("date_updated"), zone)
    row["dialled_at"] = _text(dialled)
    row["dialled_hour"] = dialled.astimezone(zone).hour if row["dialled_at"] and dialled else None
    details = item.get("details") or {}
    talk = details.get("talk_seconds")
    row["talk_seconds"] = int(talk) if talk is not None else _talk_seconds(item.get("extra"))
    if details:  # Exotel's call details of the attempt (CallDetails on)
        row["duration_seconds"] = int(details["duration_seconds"])
        row["price"] = float(details["price"])
        row["currency"] = details.get("currency")
        row["recorded"] = bool(details.get("recorded"))
    return row


def item_id(keys: Mapping[str, Any], hash_key: str | None = None) -> str:
    """The row's item, by the keyed hash of its key (the key spells the number)."""
    return str(number_hash(key_text(keys), hash_key))


def _kind(keys: Mapping[str, Any]) -> str | None:
    if is_attempt(keys):
        return ATTEMPT
    if is_outcome(keys):
        return OUTCOME
    return CAMPAIGN if is_summary(keys) else None


def _moment(value: object, zone: ZoneInfo) -> datetime | None:
    """A stored time as an instant (a zone-less one read in the campaign's zone), or None."""
    if not value:
        return None
    try:
        return parse_timestamp(str(value), zone)
    except (ValueError, OverflowError):
        return None


def _text(moment: datetime | None) -> str | None:
    try:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
    except (ValueError, OverflowError):  # a time at the calendar's edge no UTC date holds
        return None


def _utc(value: object, zone: ZoneInfo) -> str | None:
    """Every time in the dataset is UTC, `YYYY-MM-DDTHH:MM:SSZ`: text order is time order and
    neither engine needs to parse an offset. An unreadable one is left out, not guessed."""
    return _text(_moment(value, zone))


def _talk_seconds(extra: object) -> int | None:
    """A talk time the callback carried among its unknown fields, if it carried a sane one."""
    if not isinstance(extra, str):
        return None
    try:
        fields = json.loads(extra)
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    for name in _TALK_TIME_FIELDS:
        value = fields.get(name)
        if isinstance(value, bool):
            continue
        try:
            seconds = float(value) if isinstance(value, int | float | str) else None
        except (ValueError, OverflowError):  # a JSON integer no float holds
            continue
        if seconds is not None and 0 <= seconds <= _MAX_TALK_SECONDS:
            return round(seconds)
    return None
