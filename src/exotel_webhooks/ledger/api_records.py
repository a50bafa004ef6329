"""What Exotel's Campaign API says of a campaign and of a call, in the ledger's terms: what a
sweep (sweep/) hands the ledger to record (ledger/recording.py). Defined here so the ledger
depends on nothing of the sweeper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ApiCampaign:
    campaign_sid: str
    status: str | None  # normalised as the callbacks' (InProgress, Completed, ...)
    date_updated: datetime | None


@dataclass(frozen=True)
class ApiCall:
    """One call attempt, as a call-details row tells it."""

    call_sid: str
    number: str  # E.164 where it parses, else as sent
    number_raw: str
    status: str  # normalised as the callbacks' (no-answer, completed, ...)
    date_created: datetime | None
    date_updated: datetime | None
