"""Sweeping one campaign: what Exotel's Campaign API knows that the ledger lacks, written with
the API as its source (docs/architecture.md, "Sweeps").

The campaign object first, then every page of its call details, each page starting where the
rows of the last one ended (a page may hold more or fewer rows than asked; `metadata.total` is
followed as each page states it). Each row is an attempt and, once the campaign is final, its
number's outcome; then the campaign's status. A final campaign's rows no longer change, so they
are read newest first: a number's first row is its latest attempt, and its outcome is written,
and announced, once. Without a reconciled report, a final campaign is reconciled against the
API's rows (`api_status` on each outcome, `reconciliation.source: api`). Every write is
conditional (a callback's record is never replaced, the same row written twice changes nothing),
so sweeping twice changes nothing. A sweep that runs out of time saves where it stopped
(`sweep.cursor`, in its reading order) and the next one resumes there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from exotel_webhooks.ledger.api_records import ApiCall
from exotel_webhooks.ledger.counting import report_reconciled
from exotel_webhooks.ledger.keys import SUMMARY_SK, campaign_pk, is_e164, subscriber_key
from exotel_webhooks.ledger.precedence import FINAL_CAMPAIGN_STATUSES
from exotel_webhooks.ledger.recording import ApiRowWritten, CampaignLedger, api_version
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.observability import logger
from exotel_webhooks.sweep.campaign_api import CampaignApi, CampaignApiRefused

PAGE_SIZE = 100
WRITERS = 8  # rows of a page written at once
OLDEST_FIRST, NEWEST_FIRST = "oldest first", "newest first"
# Exotel's largest campaign: 500,000 numbers, each called at most 4 times (3 retries). A sweep
# reading more rows than that is reading an API that never stops (a total that keeps growing).
MAX_ROWS = 2_000_000
SEEN_LIMIT = 200_000  # call SIDs a run remembers to tell a page it has read before (~20 MB)
STALLED_RUNS = 2  # runs cut short in a row, no row read: the campaign waits a quiet period


@dataclass(frozen=True)
class SweepReport:
    campaign_sid: str
    attempts_recovered: int  # by this run
    numbers_recovered: int
    rows_read: int
    unusable_rows: int  # refused rows (their reasons in `rows_refused`)
    status: str | None  # the API's campaign status
    status_source: str | None  # where the stored status came from after the sweep
    finished: bool  # False: out of time; the next sweep resumes at the saved cursor
    reconciled: bool = False  # reconciled against the API's rows (no report was)
    rows_refused: dict[str, int] = field(default_factory=dict)  # this run's, by reason

    @property
    def changed(self) -> bool:
        """The sweep wrote something the campaign's figures show."""
        return bool(self.attempts_recovered or self.numbers_recovered or self.reconciled)

    def summary(self) -> str:
        state = "finished" if self.finished else "paused (resumes at the next sweep)"
        reconciled = "; reconciled against the API's rows (no report)" if self.reconciled else ""
        return (
            f"{self.campaign_sid}: {self.attempts_recovered} attempts and "
            f"{self.numbers_recovered} numbers recovered from {self.rows_read} rows "
            f"({self.unusable_rows} refused); status {self.status or 'unknown'} "
            f"from {self.status_source or 'nowhere'}{reconciled}; {state}"
        )


def placed(calls: Sequence[ApiCall], homes: Sequence[str]) -> list[tuple[ApiCall, str]]:
    """Each row under the number the ledger keys its call by (`homes`: the number a door
    already stored that call SID under, else the API's), with the subscriber whose outcome it
    would be. One call SID is one attempt whichever door names it: a call the callbacks sent
    masked (`0XXXXXX4890`) and the API in full is the callbacks' attempt. A number the API
    gives in E.164 groups its rows; if the callbacks spelled its calls masked, its outcome is
    keyed as theirs would be (`<mask>@<first call SID>`). A masked row of the API's is its own
    subscriber (a mask may stand for many)."""
    groups: dict[str, list[int]] = {}
    for index, call in enumerate(calls):
        group = call.number if is_e164(call.number) else f"@{call.call_sid}"
        groups.setdefault(group, []).append(index)
    subscribers: dict[int, str] = {}
    for members in groups.values():
        spellings = [homes[index] for index in members]
        masked = next((home for home in spellings if not is_e164(home)), None)
        sids = [calls[index].call_sid for index in members]
        subscriber = subscriber_key(masked, sids) if masked else spellings[0]
        subscribers |= dict.fromkeys(members, subscriber)
    return [
        (_as_stored(call, home), subscribers[index])
        for index, (call, home) in enumerate(zip(calls, homes, strict=True))
    ]


def _as_stored(call: ApiCall, home: str) -> ApiCall:
    """The row under the number its call is stored by. Under a mask it carries only the mask:
    the full number must not hide where `make erase` of the mask's key, or of the number,
    cannot find it (nor reach a masked subscriber's events)."""
    if home == call.number:
        return call
    return replace(call, number=home, number_raw=call.number_raw if is_e164(home) else home)


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
        writers: int = WRITERS,
    ) -> None:
        self.table, self.api = table, api
        self.writers = writers
        # recovered items expire like the callbacks' (DATA_RETENTION_DAYS): personal data
        self.ledger = CampaignLedger(table, retention=retention)
        self.page_size, self.clock = page_size, clock
        self.seconds_left, self.reserve_seconds = seconds_left, reserve_seconds

    def sweep(self, campaign_sid: str) -> SweepReport:
        """Raises CampaignApiRefused (noted on the campaign: it waits a quiet period before
        the next try) or CampaignApiUnavailable; what was read before either stays read."""
        pk = campaign_pk(campaign_sid)
        stored = self.table.get(pk, SUMMARY_SK, consistent=True) or {}
        progress: dict[str, Any] = dict(stored.get("sweep") or {})
        now = self.clock()
        try:
            campaign = self.api.campaign(campaign_sid)
        except CampaignApiRefused as error:
            if stored:  # a campaign the ledger never heard of stays unheard of
                self._save(pk, progress | {"last_run": now.isoformat(), "refused": str(error)})
            raise
        final = campaign.status in FINAL_CAMPAIGN_STATUSES
        order = NEWEST_FIRST if final else OLDEST_FIRST
        resuming = progress.get("cursor") is not None and progress.get("order") == order
        tally = Tally(
            offset=int(progress["cursor"]) if resuming else 0,
            unusable_before=int(progress.get("unusable_rows") or 0) if resuming else 0,
            refused_before=Counter(progress.get("rows_refused") or {}) if resuming else Counter(),
            short_runs_before=int(progress.get("short_runs") or 0),
        )
        reconciling = final and not report_reconciled(stored)
        progress |= {"last_run": now.isoformat(), "order": order, "refused": None}
        try:
            finished = self._read_pages(campaign_sid, final, reconciling, now, tally)
        except CampaignApiRefused as error:
            self._save(pk, tally.progress(progress, finished=False) | {"refused": str(error)})
            raise
        except Exception:  # unavailable, or a fault: keep what this run read, then say so
            try:
                self._save(pk, tally.progress(progress, finished=False))
            except Exception:  # the table itself may be what failed
                logger.warning("sweep progress not saved", campaign_sid=campaign_sid)
            raise
        if finished:
            self.ledger.record_api_campaign_status(campaign, now)
        reconciled = False
        if finished and reconciling:
            # the rows read in this order from the first page on; the counts follow the stream
            scan = {
                "source": "api",
                "report_rows": tally.offset,
                "unparseable": tally.unusable_before + tally.unusable,
            }
            reconciled = self.table.record_api_reconciliation(pk, scan)
        after = self.table.get(pk, SUMMARY_SK, consistent=True) or {}
        progress = tally.progress(progress, finished=finished)
        # a final campaign swept to its end is not due again (due.py)
        progress["final"] = bool(progress.get("final")) or (final and finished)
        self._save(pk, progress)
        report = SweepReport(
            campaign_sid=campaign_sid,
            attempts_recovered=tally.attempts,
            numbers_recovered=tally.numbers,
            rows_read=tally.rows,
            unusable_rows=tally.unusable,
            rows_refused=dict(tally.refused),
            status=campaign.status,
            status_source=(after.get("status_source") or "callback")
            if after.get("status")
            else None,
            finished=finished,
            reconciled=reconciled,
        )
        logger.info(
            "campaign swept",
            campaign_sid=campaign_sid,
            attempts_recovered=tally.attempts,
            numbers_recovered=tally.numbers,
            rows=tally.rows,
            unusable_rows=tally.unusable,
            finished=finished,
        )
        return report

    def note_failure(self, campaign_sid: str, error: Exception) -> None:
        """A sweep that failed for a reason of its own (a bug, input nobody foresaw): noted on
        a campaign the ledger knows, like a refusal, so it waits a quiet period and the
        campaigns behind it are swept meanwhile."""
        pk = campaign_pk(campaign_sid)
        stored = self.table.get(pk, SUMMARY_SK, consistent=True)
        if stored is None:
            return
        reason = f"the sweep failed: {type(error).__name__}"  # its message is in the logs only
        progress = dict(stored.get("sweep") or {})
        self._save(pk, progress | {"last_run": self.clock().isoformat(), "refused": reason})

    def _read_pages(
        self, campaign_sid: str, final: bool, reconciling: bool, now: datetime, tally: Tally
    ) -> bool:
        """Every page from `tally.offset` on, while time lasts; True if the last was read.
        Raises CampaignApiRefused for an API that repeats a page (it ignores `offset`) or
        never stops (more rows than any campaign holds)."""

        def home(call: ApiCall) -> str:
            stored = self.table.stored_call(campaign_sid, call.call_sid)
            return str(stored["number"]) if stored and stored.get("number") else call.number

        def record(row: tuple[ApiCall, str | None]) -> ApiRowWritten:
            call, outcome_of = row
            return self.ledger.record_api_call(
                campaign_sid, call, outcome_of=outcome_of, now=now, reconcile=reconciling
            )

        # A page's rows are independent items (each number's outcome written from one row of
        # it), so they are written a few at a time: a sweep's time is DynamoDB's round trips.
        seen: set[str] = set()  # this run's call SIDs, up to SEEN_LIMIT
        with ThreadPoolExecutor(self.writers, thread_name_prefix="sweep") as writers:
            while True:
                if self.seconds_left() < self.reserve_seconds:
                    return False
                if tally.offset >= MAX_ROWS:
                    raise CampaignApiRefused(
                        f"call-details goes on past {MAX_ROWS:,} rows, more than any campaign"
                    )
                page = self.api.call_page(
                    campaign_sid, tally.offset, self.page_size, newest_first=final
                )
                if page.call_sids and seen.issuperset(page.call_sids):
                    raise CampaignApiRefused(
                        f"call-details answered offset {tally.offset} with rows it had already "
                        "given (it ignores offset)"
                    )
                if len(seen) < SEEN_LIMIT:
                    seen.update(page.call_sids)
                rows = placed(page.calls, list(writers.map(home, page.calls)))
                # a number's outcome is written once a page, from its latest row there (the
                # version decides between pages too)
                latest: dict[str, ApiCall] = {}
                for call, subscriber in rows:
                    if subscriber not in latest or api_version(call) > api_version(
                        latest[subscriber]
                    ):
                        latest[subscriber] = call
                written = [
                    (call, subscriber if final and latest[subscriber] is call else None)
                    for call, subscriber in rows
                ]
                for result in writers.map(record, written):
                    tally.attempts += result.attempt_recovered
                    tally.numbers += result.number_recovered
                    if result.erased:  # counted with the refused rows; never logged by number
                        tally.refused["erased"] += 1
                for refusal in page.refused:
                    logger.warning(
                        "campaign API row refused",
                        campaign_sid=campaign_sid,
                        reason=refusal.reason,
                        detail=str(refusal),
                    )
                    tally.refused[refusal.reason] += 1
                tally.rows += page.rows
                tally.unusable += len(page.refused)
                tally.offset += page.rows
                if page.rows == 0 or (page.total is not None and tally.offset >= page.total):
                    return True

    def _save(self, pk: str, progress: dict[str, Any]) -> None:
        self.table.set(pk, SUMMARY_SK, {"sweep": progress})


@dataclass
class Tally:
    """What one sweep has read and recovered so far, and where it is."""

    offset: int  # rows read in this order from the first page on
    unusable_before: int  # refused rows of the runs this one resumes
    refused_before: Counter[str] = field(default_factory=Counter)  # ... by reason
    short_runs_before: int = 0  # runs cut short in a row before this one without a row read
    attempts: int = 0
    numbers: int = 0
    rows: int = 0
    unusable: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def progress(self, saved: dict[str, Any], *, finished: bool) -> dict[str, Any]:
        """The campaign's `sweep` after this run (the read API shows its totals; the refused
        rows are those of the reading this run belongs to, from its first page on)."""
        stalled = not finished and self.rows == 0
        return saved | {
            "attempts_recovered": int(saved.get("attempts_recovered") or 0) + self.attempts,
            "numbers_recovered": int(saved.get("numbers_recovered") or 0) + self.numbers,
            "cursor": None if finished else self.offset,
            "unusable_rows": self.unusable_before + self.unusable,
            "rows_refused": dict(self.refused_before + self.refused),
            "short_runs": self.short_runs_before + 1 if stalled else 0,
        }
