"""Exotel's Call details API (v1) read: what a call lasted, cost and whether it was recorded
(docs/architecture.md, "Call details").

`GET /v1/Accounts/<sid>/Calls.json?Sid=<a>,<b>,...` answers `{"Metadata": ..., "Calls": [{"Call":
{...}}, ...]}` for up to 100 call SIDs. `Duration` and `Price` are filled in about five minutes
after a call ends: a call the API lists without them, or still in progress, is not settled yet
and is asked again later. Fields are read whatever their spelling; a call not asked about is
ignored, and a value no call could have (a negative duration, a price past any tariff) refuses
that call, never the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from exotel_webhooks.ledger.precedence import FINAL_CALL_STATUSES
from exotel_webhooks.normalise import field_key, normalise_call_status

MAX_SIDS = 100  # the bulk form's limit
MAX_SPAN = timedelta(days=30)  # the API's DateCreated range is at most a month wide
MAX_SECONDS = 24 * 3600  # no call lasts longer
MAX_PRICE = Decimal(100_000)  # in the account's currency: no call costs more
CURRENCY_FIELDS = ("priceunit", "currency")


@dataclass(frozen=True)
class CallDetails:
    """One settled call as the ledger stores it on its attempt (`details`)."""

    call_sid: str
    duration_seconds: int
    talk_seconds: int | None  # the conversation's, if the API says
    price: Decimal
    currency: str
    recorded: bool
    recording_url: str | None = None  # a link that expires: never stored in the ledger

    def stored(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "duration_seconds": self.duration_seconds,
            "price": self.price,
            "currency": self.currency,
            "recorded": self.recorded,
        }
        if self.talk_seconds is not None:
            details["talk_seconds"] = self.talk_seconds
        return details


@dataclass
class CallDetailsAnswer:
    settled: dict[str, CallDetails] = field(default_factory=dict)
    unsettled: set[str] = field(default_factory=set)  # listed, not final or not yet priced
    refused: dict[str, str] = field(default_factory=dict)  # call SID -> why


def date_range(created: Iterable[datetime | None], zone: ZoneInfo) -> str | None:
    """The `DateCreated` filter spanning these calls (the API lists only the last 31 days
    without one), in the account's time without a zone as the API writes it; None if no call's
    date is known."""
    known = sorted(moment for moment in created if moment is not None)
    if not known:
        return None
    first = (known[0] - timedelta(hours=1)).astimezone(zone)
    last = (known[-1] + timedelta(hours=1)).astimezone(zone)
    return f"gte:{first:%Y-%m-%d %H:%M:%S};lte:{last:%Y-%m-%d %H:%M:%S}"


def batches(
    calls: Sequence[tuple[str, datetime | None]],
) -> list[list[tuple[str, datetime | None]]]:
    """Calls in requests of at most MAX_SIDS whose dates span at most MAX_SPAN (dates unknown
    go with the first)."""
    ordered = sorted(calls, key=lambda call: (call[1] is not None, call[1] or datetime.min))
    chunks: list[list[tuple[str, datetime | None]]] = []
    for call in ordered:
        chunk = chunks[-1] if chunks else None
        start = next((moment for _, moment in chunk or [] if moment is not None), None)
        fits = (
            chunk is not None
            and len(chunk) < MAX_SIDS
            and (start is None or call[1] is None or call[1] - start <= MAX_SPAN)
        )
        if fits and chunk is not None:
            chunk.append(call)
        else:
            chunks.append([call])
    return chunks


def read_calls(
    document: Mapping[str, Any], asked: set[str], currency: str, answer: CallDetailsAnswer
) -> None:
    """The asked-about calls of one page of the bulk answer, into `answer`."""
    rows = document.get("Calls", document.get("calls"))
    if rows is None and isinstance(document.get("Call"), dict):
        rows = [document]  # the single-call form
    if not isinstance(rows, list):
        raise ValueError("the Calls answer holds no list of calls")
    for row in rows:
        data = row.get("Call", row) if isinstance(row, dict) else None
        if not isinstance(data, dict):
            continue
        fields = {field_key(name): value for name, value in data.items()}
        sid = _text(fields.get("sid")) or _text(fields.get("callsid"))
        if sid is None or sid not in asked:
            continue
        try:
            details = _details(sid, fields, currency)
        except ValueError as error:
            answer.refused[sid] = str(error)
            continue
        if details is None:
            answer.unsettled.add(sid)
        else:
            answer.settled[sid] = details


def next_page(document: Mapping[str, Any]) -> str | None:
    """`Metadata.NextPageUri`: a path on the same host, or None."""
    metadata = document.get("Metadata") or document.get("metadata")
    if not isinstance(metadata, dict):
        return None
    uri = _text({field_key(k): v for k, v in metadata.items()}.get("nextpageuri"))
    return uri if uri and uri.startswith("/") and not uri.startswith("//") else None


def _details(sid: str, fields: Mapping[str, Any], currency: str) -> CallDetails | None:
    status = _text(fields.get("status"))
    if status is None or normalise_call_status(status) not in FINAL_CALL_STATUSES:
        return None
    duration, price = _text(fields.get("duration")), _text(fields.get("price"))
    if duration is None or price is None:
        return None
    extra = fields.get("details")
    details = {field_key(k): v for k, v in extra.items()} if isinstance(extra, dict) else {}
    talk = _text(details.get("conversationduration"))
    recording = _text(fields.get("recordingurl"))
    unit = next((text for name in CURRENCY_FIELDS if (text := _text(fields.get(name)))), None)
    return CallDetails(
        call_sid=sid,
        duration_seconds=_seconds("Duration", duration),
        talk_seconds=_seconds("ConversationDuration", talk) if talk is not None else None,
        price=_price(price),
        currency=(unit or currency).upper()[:3],
        recorded=recording is not None,
        recording_url=recording,
    )


def _seconds(name: str, text: str) -> int:
    try:
        seconds = int(Decimal(text))
    except (InvalidOperation, ValueError) as error:
        raise ValueError(f"{name} {text[:32]!r} is not a number of seconds") from error
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"{name} {seconds} is not a call's length")
    return seconds


def _price(text: str) -> Decimal:
    """A charge, whatever its sign (some APIs write charges negative)."""
    try:
        price = abs(Decimal(text))
    except InvalidOperation as error:
        raise ValueError(f"Price {text[:32]!r} is not a number") from error
    if not price.is_finite() or price > MAX_PRICE:
        raise ValueError(f"Price {text[:32]!r} is not a call's price")
    return price.quantize(Decimal("0.0001"))


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return None
