"""Which campaigns need a sweep (docs/architecture.md, "Sweeps"): those not final and quiet for
`quiet` (Exotel may have dropped their callbacks, or stopped them without a final status), and
those that became final in the last week without a reconciled report; each at most once per
`quiet`, unless a sweep of it stopped short (it resumes at once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from exotel_webhooks.ledger.precedence import (
    CAMPAIGN_STATUS_RANKS,
    EARLIEST,
    FINAL_CAMPAIGN_STATUSES,
    utc_text,
)
from exotel_webhooks.ledger.table import SUMMARY_SK, CampaignTable, campaign_pk

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
    if sweep.get("cursor") is not None:
        return True  # a sweep that stopped short resumes at once
    if summary.get("status") in FINAL_CAMPAIGN_STATUSES:
        report = summary.get("report") or {}
        settled = summary.get("reconciliation") is not None and report.get("status") != "failed"
        return not settled and not sweep.get("last_run")  # once, after it became final
    last_run = sweep.get("last_run")
    return not last_run or datetime.fromisoformat(last_run) <= now - quiet
