"""Sweeping one campaign: what Exotel's Campaign API knows that the ledger lacks, written with
the API as its source (docs/architecture.md, "Sweeps").

The campaign object first, then every page of its call details, each page starting where the
rows of the last one ended (a page may hold more or fewer rows than asked; `metadata.total` is
followed as each page states it). Each row is an attempt and, once the campaign is final, its
number's outcome; then the campaign's status. Every write is conditional (a callback's record is
never replaced, the same row written twice changes nothing), so sweeping twice changes nothing.
A sweep that runs out of time saves where it stopped (`sweep.cursor`) and the next one resumes
there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from exotel_webhooks.ledger.precedence import FINAL_CAMPAIGN_STATUSES
from exotel_webhooks.ledger.recording import CampaignLedger, api_version
from exotel_webhooks.ledger.table import SUMMARY_SK, CampaignTable, campaign_pk, subscriber_key
from exotel_webhooks.observability import logger
from exotel_webhooks.sweep.campaign_api import ApiCall, CampaignApi

PAGE_SIZE = 100
MAX_PAGES = 100_000  # 10 million rows: a bound on a total that never stops growing


@dataclass(frozen=True)
class SweepReport:
    campaign_sid: str
    attempts_recovered: int  # by this run
    numbers_recovered: int
    rows_read: int
    unusable_rows: int
    status: str | None  # the API's campaign status
    status_source: str | None  # where the stored status came from after the sweep
    finished: bool  # False: out of time; the next sweep resumes at the saved cursor

    def summary(self) -> str:
        state = "finished" if self.finished else "paused (resumes at the next sweep)"
        return (
            f"{self.campaign_sid}: {self.attempts_recovered} attempts and "
            f"{self.numbers_recovered} numbers recovered from {self.rows_read} rows "
            f"({self.unusable_rows} unusable); status {self.status or 'unknown'} "
            f"from {self.status_source or 'nowhere'}; {state}"
        )


def subscriber(call: ApiCall) -> str:
    """Whose outcome a row is (a masked number's rows are each their own subscriber)."""
    return subscriber_key(call.number, [call.call_sid])


class CampaignSweeper:
    def __init__(
        self,
        table: CampaignTable,
        api: CampaignApi,
        *,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        seconds_left: Callable[[], float] = lambda: math.inf,
        reserve_seconds: float = 30,
        retention: timedelta | None = None,
    ) -> None:
        self.table, self.api = table, api
        # recovered items expire like the callbacks' (DATA_RETENTION_DAYS): personal data
        self.ledger = CampaignLedger(table, retention=retention)
        self.page_size, self.clock = page_size, clock
        self.seconds_left, self.reserve_seconds = seconds_left, reserve_seconds

    def sweep(self, campaign_sid: str) -> SweepReport:
        pk = campaign_pk(campaign_sid)
        stored = self.table.get(pk, SUMMARY_SK, consistent=True) or {}
        progress: dict[str, Any] = dict(stored.get("sweep") or {})
        offset = int(progress.get("cursor") or 0)
        campaign = self.api.campaign(campaign_sid)
        final = campaign.status in FINAL_CAMPAIGN_STATUSES
        now = self.clock()
        attempts = numbers = rows = unusable = 0
        finished = False
        for _ in range(MAX_PAGES):
            if self.seconds_left() < self.reserve_seconds:
                break
            page = self.api.call_page(campaign_sid, offset, self.page_size)
            # a number's outcome is written once a page, from its latest row there (the version
            # decides between pages too)
            latest = {subscriber(call): call for call in sorted(page.calls, key=api_version)}
            for call in page.calls:
                as_outcome = final and latest[subscriber(call)] is call
                attempt, number = self.ledger.record_api_call(
                    campaign_sid, call, as_outcome=as_outcome, now=now
                )
                attempts += attempt
                numbers += number
            for reason in page.unusable:
                logger.warning(
                    "campaign API row unusable", campaign_sid=campaign_sid, reason=reason
                )
            rows, unusable, offset = (
                rows + page.rows,
                unusable + len(page.unusable),
                offset + page.rows,
            )
            if page.rows == 0 or (page.total is not None and offset >= page.total):
                finished = True
                break
        if finished:
            self.ledger.record_api_campaign_status(campaign, now)
        after = self.table.get(pk, SUMMARY_SK, consistent=True) or {}
        progress |= {
            "last_run": now.isoformat(),
            "attempts_recovered": int(progress.get("attempts_recovered") or 0) + attempts,
            "numbers_recovered": int(progress.get("numbers_recovered") or 0) + numbers,
            "cursor": None if finished else offset,
        }
        self.table.set(pk, SUMMARY_SK, {"sweep": progress})
        report = SweepReport(
            campaign_sid=campaign_sid,
            attempts_recovered=attempts,
            numbers_recovered=numbers,
            rows_read=rows,
            unusable_rows=unusable,
            status=campaign.status,
            status_source=(after.get("status_source") or "callback")
            if after.get("status")
            else None,
            finished=finished,
        )
        logger.info(
            "campaign swept",
            campaign_sid=campaign_sid,
            attempts_recovered=attempts,
            numbers_recovered=numbers,
            rows=rows,
            unusable_rows=unusable,
            finished=finished,
        )
        return report
