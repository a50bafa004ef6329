"""Which campaigns need a sweep (docs/architecture.md, "Sweeps"): those not final and quiet for
`quiet` (Exotel may have dropped their callbacks, or stopped them without a final status), and
those that became final in the last week without a reconciliation (no report, or a failed
one), until a sweep has read them to the end as final; each at most once per `quiet`, unless a
sweep of it stopped short (it resumes at once, unless it stopped short twice in a row without
reading a row). A campaign the API refused, or whose sweep failed, waits a quiet period before
the next try.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from exotel_webhooks.ledger.keys import SUMMARY_SK, campaign_pk
from exotel_webhooks.ledger.precedence import (
    CAMPAIGN_STATUS_RANKS,
    EARLIEST,
    FINAL_CAMPAIGN_STATUSES,
    utc_text,
)
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.sweep.sweeper import STALLED_RUNS

FINAL_LOOKBACK = timedelta(days=7)
NOT_FINAL_STATUSES = tuple(
    status for status in CAMPAIGN_STATUS_RANKS if status not in FINAL_CAMPAIGN_STATUSES
    and status not in ("Archived", "Deleted")
)  # fmt: skip


def campaigns_to_sweep(table: CampaignTable, now: datetime, quiet: timedelta) -> list[str]:
    """The campaigns a scheduled run sweeps, oldest first."""
    quiet_since = str(utc_text(now - quiet))
    candidates = [
        summary["campaign_sid"]
        for status in NOT_FINAL_STATUSES
        for summary in table.campaigns_with_status(status, EARLIEST, quiet_since)
    ]
    week_ago = str(utc_text(now - FINAL_LOOKBACK))
    candidates += [
        summary["campaign_sid"]
        for status in sorted(FINAL_CAMPAIGN_STATUSES)
        for summary in table.campaigns_with_status(status, week_ago, quiet_since)
    ]
    due = []
    for sid in candidates:
        summary = table.get(campaign_pk(sid), SUMMARY_SK, consistent=True) or {}
        if _due(summary, now, quiet):
            due.append(sid)
    return due


def _due(summary: dict[str, Any], now: datetime, quiet: timedelta) -> bool:
    sweep = summary.get("sweep") or {}
    refused = bool(sweep.get("refused"))  # the API refused the last try: wait, then try again
    stalled = int(sweep.get("short_runs") or 0) >= STALLED_RUNS  # cut short without a row read
    if sweep.get("cursor") is not None and not refused and not stalled:
        return True  # a sweep that stopped short resumes at once
    last_run = sweep.get("last_run")
    rested = not last_run or datetime.fromisoformat(last_run) <= now - quiet
    if summary.get("status") in FINAL_CAMPAIGN_STATUSES:
        # once read to the end as final (a sweep while it ran wrote no outcomes)
        unsettled = summary.get("reconciliation") is None and not sweep.get("final")
        return unsettled and (rested or not refused)
    return rested
