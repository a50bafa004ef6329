"""Which of two updates of one record wins (docs/architecture.md, "Precedence").

1. Source: a callback beats a row of Exotel's Campaign API (a sweep's), which beats the campaign
   report's backfill, whatever their dates.
2. Time: the later `date_updated` (else `date_created`) wins.
3. Status, for updates stamped with the same instant: a final status beats a non-final one, and
   finals rank completed > failed > busy > no-answer > canceled (campaigns: Completed > Failed >
   Canceled). An unknown status ranks above the known non-final ones (a new value is more likely
   a new outcome than a new progress state) and below every final one.
4. The event id, so that the choice is the same on every delivery.

A record's `version` text encodes 2-4 so that comparing versions as strings orders updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Every stored version starts with a fixed-width UTC instant, so string order is time order.
EARLIEST = "0000-00-00T00:00:00.000000Z"
UNKNOWN_RANK = 4
CALL_STATUS_RANKS = {
    "queued": 1,
    "ringing": 2,
    "in-progress": 3,
    "canceled": 5,
    "no-answer": 6,
    "busy": 7,
    "failed": 8,
    "completed": 9,
}
CAMPAIGN_STATUS_RANKS = {
    "Created": 1,
    "Scheduled": 2,
    "InProgress": 3,
    "Paused": 3,
    "Resumed": 3,
    "Archived": 5,
    "Deleted": 5,
    "Canceled": 6,
    "Failed": 7,
    "Completed": 8,
}
# The call statuses an attempt ends with: Exotel's call details of it can be read.
FINAL_CALL_STATUSES = frozenset(
    status for status, rank in CALL_STATUS_RANKS.items() if rank > UNKNOWN_RANK
)
# The campaign statuses after which Exotel sends nothing more for a campaign.
FINAL_CAMPAIGN_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
SOURCE_RANKS = {"report": 0, "api": 1, "callback": 2}
# What a stored record's `source` may say; a record without one came from a callback.
SOURCES = tuple(SOURCE_RANKS)


def utc_text(moment: datetime | None) -> str | None:
    """Fixed-width UTC text (the year zero-padded): compares in time order as a string."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def version_text(moment: datetime | None, rank: int, event_id: str) -> str:
    return f"{utc_text(moment) or EARLIEST}#{rank}#{event_id}"


def call_status_rank(status: str) -> int:
    return CALL_STATUS_RANKS.get(status, UNKNOWN_RANK)


def campaign_status_rank(status: str) -> int:
    return CAMPAIGN_STATUS_RANKS.get(status, UNKNOWN_RANK)


def outranked_sources(source: str) -> tuple[str, ...]:
    """The sources a record from `source` replaces whatever their versions."""
    return tuple(name for name, rank in SOURCE_RANKS.items() if rank < SOURCE_RANKS[source])


def supersedes(new: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """True if `new` must replace `stored` (both hold `version`, and `source` if not callbacks)."""
    return (_source_rank(new), new["version"]) > (_source_rank(stored), stored["version"])


def _source_rank(item: Mapping[str, Any]) -> int:
    return SOURCE_RANKS.get(item.get("source") or "callback", SOURCE_RANKS["callback"])
