"""The words every component shares: the callback types, what "storable" means (identifiers,
dates, URLs, sizes) and the checks that enforce it. Plain Python, no pydantic: the receiver's
cold start imports it (docs/architecture.md, "Storable")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

# What "storable" means: the limits the processors' models, the table's keys and items, and the
# queue enforce. The receiver checks them all before it answers `accepted`; messages.py applies
# the same checks, so the two cannot drift.
MAX_IDENTIFIER_BYTES = 256  # UTF-8: two identifiers and a prefix stay inside a 1,024-byte key
MAX_URL_LENGTH = 8192
MAX_NESTING = 32  # levels inside `extra`: far below any parser's recursion limit
MAX_CALLBACK_BYTES = 300 * 1024  # the callback's JSON as queued: a table item stays under 400 KB
KEY_SEPARATOR = "#"  # joins the parts of the table's keys: no identifier may contain it
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
PLAUSIBLE_AHEAD = timedelta(days=1)  # clocks differ; a date further ahead would pin a record


class CallbackType(StrEnum):
    """Which webhook a request came to; also the last segment of its route."""

    CALL_STATUS = "call-status"
    CALL_SCHEDULE = "call-schedule"
    CAMPAIGN_STATUS = "campaign-status"


def check_identifier(identifier: str) -> str:
    """An identifier (SID, number, status) the table can key: bounded, without the separator."""
    try:
        size = len(identifier.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise ValueError("not valid Unicode (a lone surrogate)") from error
    if size > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"longer than {MAX_IDENTIFIER_BYTES} bytes")
    if KEY_SEPARATOR in identifier:
        raise ValueError(f"contains {KEY_SEPARATOR!r}, which separates the parts of stored keys")
    return identifier


def check_plausible(name: str, moment: datetime, received_at: datetime) -> None:
    """A date before 2000 or more than a day after the request arrived is a sender's bug: stored,
    it would outrank every real update of its record for ever."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"implausible {name}: out of range") from error
    if not EARLIEST_PLAUSIBLE <= utc <= received_at + PLAUSIBLE_AHEAD:
        raise ValueError(f"implausible {name}: {moment.isoformat()}")


def nesting_exceeds(value: object, limit: int) -> bool:
    """True if lists and objects nest deeper than `limit` (iterative: no recursion limit)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
