"""Which attempts are due their call details (docs/architecture.md, "Call details"): read by
the table's stream (ledger/stream.py), which hands them to the call details function
(sweep/enrichment.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exotel_webhooks.ledger.keys import is_attempt, partition_key_of, sort_key_of
from exotel_webhooks.ledger.precedence import FINAL_CALL_STATUSES


@dataclass(frozen=True)
class DueAttempt:
    """One stored attempt whose call details are due (its item's key, its call, its date)."""

    campaign_sid: str
    call_sid: str
    pk: str
    sk: str
    date_created: str | None = None  # as stored (UTC text)

    @classmethod
    def of_item(cls, item: Mapping[str, Any]) -> DueAttempt:
        created = item.get("date_created")
        return cls(
            campaign_sid=str(item["campaign_sid"]),
            call_sid=str(item["call_sid"]),
            pk=str(partition_key_of(item)),
            sk=str(sort_key_of(item)),
            date_created=str(created) if created else None,
        )

    @classmethod
    def of_message(cls, message: Mapping[str, Any]) -> DueAttempt:
        created = message.get("date_created")
        return cls(
            campaign_sid=str(message["campaign_sid"]),
            call_sid=str(message["call_sid"]),
            pk=str(message["pk"]),
            sk=str(message["sk"]),
            date_created=str(created) if created else None,
        )

    def message(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @property
    def created(self) -> datetime | None:
        return datetime.fromisoformat(self.date_created) if self.date_created else None


def details_due(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """A stored change leaves an attempt final without details, as a new version (a details
    write, or a note on the attempt, is no news)."""
    if after is None or not is_attempt(after) or after.get("details"):
        return False
    if after.get("status") not in FINAL_CALL_STATUSES:
        return False
    return before is None or before.get("version") != after.get("version")


def recording_due(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """An attempt's call details have just said it was recorded, and no copy is kept yet."""
    if after is None or not is_attempt(after) or after.get("recording"):
        return False
    recorded = bool((after.get("details") or {}).get("recorded"))
    was = bool(((before or {}).get("details") or {}).get("recorded"))
    return recorded and not was
