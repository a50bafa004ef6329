"""Sweeping a campaign whose callbacks were lost (sweep/sweeper.py), on the deployed stack: the
ledger ends equal to what Exotel's Campaign API says, a callback always wins, sweeping twice
changes nothing, and a sweep out of time resumes where it stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from exotel_webhooks.ledger.api_records import ApiCampaign
from exotel_webhooks.ledger.keys import SUMMARY_SK, campaign_pk
from exotel_webhooks.ledger.recording import CampaignLedger
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.campaign_api import (
    ApiCredentials,
    CampaignApi,
    CampaignApiRefused,
)
from exotel_webhooks.sweep.due import campaigns_to_sweep
from exotel_webhooks.sweep.sweeper import CampaignSweeper, SweepReport
from localaws.emulation import REGION, Deployment
from tests.stack.test_processors import (
    Processors,
    attempt,
    campaign_status,
    outcome,
    published,
)
from tests.support.stack import AwsCalls

# The truth: number A called twice (busy, then completed), number B once (no answer)
ROWS = [
    {"call_sid": "call_1", "number": "+919876543210", "status": "busy",
     "date_created": "2024-01-15T09:00:00+05:30", "end_time": "2024-01-15T09:05:00+05:30"},
    {"call_sid": "call_2", "number": "+919876543210", "status": "completed",
     "date_created": "2024-01-15T09:15:00+05:30", "end_time": "2024-01-15T09:20:00+05:30"},
    {"call_sid": "call_3", "number": "+919812345678", "status": "no-answer",
     "date_created": "2024-01-15T09:01:00+05:30", "end_time": "2024-01-15T09:02:00+05:30"},
]  # fmt: skip


class FakeCampaignApi:
    """Exotel's call-details and campaign routes over `rows`, paged by offset and limit."""

    def __init__(self, rows: list[dict[str, Any]], status: str = "Completed") -> None:
        self.rows, self.status = rows, status
        self.campaign_date = "2024-01-15T18:00:00+05:30"
        self.page_rows: int | None = None  # answer this many rows, whatever was asked
        self.ignores_sort = False  # answer oldest first, whatever was asked
        self.ignores_offset = False  # answer the first page, whatever offset was asked
        self.no_total = False  # leave metadata.total out
        self.missing = False  # answer 404: Exotel does not know the campaign
        self.shuffles = False  # answer a page's rows in another order each time
        self.pages = 0

    def __call__(self, url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        parts = urlsplit(url)
        if self.missing:
            return 404, "application/json", b'{"message": "campaign not found"}'
        if not parts.path.endswith("/call-details"):
            sid = parts.path.rsplit("/", 1)[-1]
            body: dict[str, Any] = {"response": [{"data": {"id": sid, "status": self.status,
                                    "date_updated": self.campaign_date}}]}  # fmt: skip
            return 200, "application/json", json.dumps(body).encode()
        query = parse_qs(parts.query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        offset = 0 if self.ignores_offset else offset
        newest_first = query["sort_by"] == ["date_created:desc"] and not self.ignores_sort
        rows = sorted(self.rows, key=lambda row: row["date_created"], reverse=newest_first)
        page = rows[offset : offset + (self.page_rows or limit)]
        if self.shuffles and self.pages % 2:
            page.reverse()
        self.pages += 1
        metadata = {"count": len(page), "offset": offset}
        if not self.no_total:
            metadata["total"] = len(self.rows)
        body = {"metadata": metadata, "response": page}
        return 200, "application/json", json.dumps(body).encode()


@pytest.fixture
def exotel() -> FakeCampaignApi:
    return FakeCampaignApi(list(ROWS))


@pytest.fixture
def processors(load_function: Any, stack: Deployment) -> Processors:
    return Processors(load_function, stack)


def sweeper(stack: Deployment, exotel: FakeCampaignApi, **options: Any) -> CampaignSweeper:
    api = CampaignApi(
        "api.exotel.com",
        ApiCredentials("key", "token", "acct"),
        NormalisationRules(),
        send=exotel,
        sleep=lambda _: None,
    )
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    return CampaignSweeper(table, api, **options)


def sources(processors: Processors, number: str) -> dict[str, Any]:
    _, view = processors.get(f"/campaigns/camp_1/numbers/{number}")
    return view


def test_a_sweep_recovers_lost_callbacks_and_the_final_status(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi, aws_calls: AwsCalls
) -> None:
    # Given a campaign of which only the first attempt's callback and "InProgress" arrived
    processors.process(attempt("busy", 5, "call_1"), campaign_status("InProgress", 0))

    # When it is swept
    report = sweeper(stack, exotel).sweep("camp_1")

    # Then the attempts and numbers the callbacks missed are recovered, the campaign is final
    assert report == SweepReport("camp_1", 2, 2, 3, 0, "Completed", "api", True, reconciled=True)
    assert report.summary() == (
        "camp_1: 2 attempts and 2 numbers recovered from 3 rows (0 refused); status Completed "
        "from api; reconciled against the API's rows (no report); finished"
    )
    summary = processors.campaign()
    assert summary["status"] == "Completed"
    assert summary["attempts"] == {
        "total": 3,
        "by_status": {"busy": 1, "completed": 1, "no-answer": 1},
    }
    assert summary["numbers"] == {"total": 2, "by_status": {"completed": 1, "no-answer": 1}}
    # ... the number's outcome is its latest attempt, and completion is announced once
    number = sources(processors, "+919876543210")
    assert (number["status"], number["source"]) == ("completed", "api")
    assert [(a["call_sid"], a["source"]) for a in number["attempts"]] == [
        ("call_1", "callback"),
        ("call_2", "api"),
    ]
    assert [e["status"] for e in published(aws_calls, "CampaignCompleted")] == ["Completed"]
    # ... and the read API says what the sweeps recovered
    sweep = summary["sweep"]
    assert (sweep["attempts_recovered"], sweep["numbers_recovered"]) == (2, 2)
    assert sweep["last_run"]


def test_sweeping_twice_changes_nothing(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi, aws_calls: AwsCalls
) -> None:
    # Given a campaign swept once
    sweeper(stack, exotel).sweep("camp_1")
    before = processors.campaign()

    # When it is swept again
    again = sweeper(stack, exotel).sweep("camp_1")

    # Then nothing more is recovered, counted or announced: only the sweep's time moves
    assert (again.attempts_recovered, again.numbers_recovered) == (0, 0)
    after = processors.campaign()
    assert after["sweep"]["last_run"] > before["sweep"]["last_run"]
    after["sweep"]["last_run"] = before["sweep"]["last_run"]
    assert after == before
    assert len(published(aws_calls, "CampaignCompleted")) == 1


@pytest.mark.parametrize("ignores_sort", [False, True], ids=["newest first", "oldest first"])
def test_each_number_a_sweep_recovers_is_announced_once(
    stack: Deployment,
    processors: Processors,
    exotel: FakeCampaignApi,
    aws_calls: AwsCalls,
    ignores_sort: bool,
) -> None:
    # Given a final campaign of which no callback arrived, read a row a page (a number's two
    # attempts on two pages), from an API that may answer oldest first whatever it is asked
    exotel.ignores_sort = ignores_sort

    # When it is swept, twice
    sweeper(stack, exotel, page_size=1).sweep("camp_1")
    sweeper(stack, exotel, page_size=1).sweep("camp_1")
    processors.campaign()  # the stream is read

    # Then each number's latest attempt is announced as its outcome, from the API; read newest
    # first, each number once (oldest first, a number is announced again as each newer
    # attempt is found: its last announcement is the truth)
    events = published(aws_calls, "CallScheduleCompleted")
    latest = {event["number"]: event for event in events}
    assert {number: (e["status"], e["source"]) for number, e in latest.items()} == {
        "+919876543210": ("completed", "api"),
        "+919812345678": ("no-answer", "api"),
    }
    assert len(events) == (3 if ignores_sort else 2)


def test_a_callbacks_outcome_is_announced_by_the_callback_only(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi, aws_calls: AwsCalls
) -> None:
    # Given a number whose outcome callback arrived
    processors.process(outcome("completed", 30))

    # When the campaign is swept
    sweeper(stack, exotel).sweep("camp_1")
    processors.campaign()

    # Then that number was announced by its callback, the other by the sweep
    events = published(aws_calls, "CallScheduleCompleted")
    assert sorted((e["number"], e["source"]) for e in events) == [
        ("+919812345678", "api"),
        ("+919876543210", "callback"),
    ]


# Three numbers: A's callback agrees with the API, C's does not, B's never came
RECONCILED_ROWS = [
    *ROWS,
    {"call_sid": "call_4", "number": "+919800000004", "status": "failed",
     "date_created": "2024-01-15T09:03:00+05:30", "end_time": "2024-01-15T09:04:00+05:30"},
]  # fmt: skip


@pytest.mark.parametrize("page_size", [100, 1])
def test_without_a_report_a_sweep_reconciles_against_the_api_rows(
    stack: Deployment, processors: Processors, page_size: int
) -> None:
    # Given a final campaign with no report: A's outcome callback agrees with the API, the
    # callback of C says busy where the API's latest row says failed, and B's was lost
    exotel = FakeCampaignApi(RECONCILED_ROWS)
    processors.process(
        outcome("completed", 30),
        outcome("busy", 31, number="+919800000004", call_sids=("call_4",)),
    )

    # When it is swept, twice
    sweeper(stack, exotel, page_size=page_size).sweep("camp_1")
    once = processors.campaign()
    sweeper(stack, exotel, page_size=page_size).sweep("camp_1")

    # Then the campaign is reconciled against the API's rows, exactly, once
    assert once["reconciliation"] == {
        "source": "api",
        "report_rows": 4,
        "matched": 1,
        "backfilled": 1,
        "mismatched": 1,
        "unparseable": 0,
    }
    assert processors.campaign()["reconciliation"] == once["reconciliation"]
    # ... and the callbacks' statuses stand
    assert sources(processors, "+919800000004")["status"] == "busy"


def test_a_sweep_leaves_a_reconciled_report_alone(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi
) -> None:
    # Given a campaign whose report was reconciled
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    scan = {"report_rows": 2, "unparseable": 0}
    table.set(campaign_pk("camp_1"), SUMMARY_SK, {"report": {"status": "stored"},
              "reconciliation": scan})  # fmt: skip

    # When it is swept
    sweeper(stack, exotel).sweep("camp_1")

    # Then the report's reconciliation stands
    assert (table.get(campaign_pk("camp_1"), SUMMARY_SK) or {})["reconciliation"] == scan


def test_a_callback_arriving_after_the_sweep_wins(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi, aws_calls: AwsCalls
) -> None:
    # Given a swept campaign
    sweeper(stack, exotel).sweep("camp_1")

    # When the lost callbacks arrive late, dated earlier than the API's rows
    processors.process(outcome("failed", 1), campaign_status("Completed", 30))

    # Then the callbacks' values stand, and completion is still announced only once
    assert sources(processors, "+919876543210")["status"] == "failed"
    assert processors.campaign()["numbers"]["by_status"] == {"failed": 1, "no-answer": 1}
    assert len(published(aws_calls, "CampaignCompleted")) == 1


def test_a_sweep_out_of_time_resumes_where_it_stopped(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi
) -> None:
    # Given pages of 2 rows and time for one page only
    budget: Iterator[float] = iter([100.0, 0.0])
    first = sweeper(stack, exotel, page_size=2, seconds_left=lambda: next(budget)).sweep("camp_1")
    assert not first.finished
    assert first.rows_read == 2

    # When the next sweep runs
    second = sweeper(stack, exotel, page_size=2).sweep("camp_1")

    # Then it reads only the rest, and the totals are those of one whole sweep
    assert second.finished
    assert second.rows_read == 1
    assert first.attempts_recovered + second.attempts_recovered == 3
    assert processors.campaign()["attempts"]["total"] == 3


def test_pages_shorter_than_asked_and_a_growing_total_are_followed(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi
) -> None:
    # Given an API that answers one row a page, whatever is asked, and gains a row meanwhile
    exotel.page_rows = 1
    exotel.rows = ROWS[:2]
    sweep = sweeper(stack, exotel, page_size=50)
    original_page = sweep.api.call_page

    def growing(campaign_sid: str, offset: int, limit: int, **order: bool) -> Any:
        if offset == 1:
            exotel.rows = list(ROWS)  # the third row appears after the first page
        return original_page(campaign_sid, offset, limit, **order)

    sweep.api.call_page = growing  # type: ignore[method-assign]

    # When it is swept
    report = sweep.sweep("camp_1")

    # Then every row was read once
    assert (report.rows_read, report.finished) == (3, True)
    assert processors.campaign()["attempts"]["total"] == 3


def test_pages_longer_than_asked_and_an_unknown_status_are_taken_as_they_come(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi
) -> None:
    # Given an API that answers 3 rows when asked for 1, one of them in a status never seen
    exotel.page_rows = 3
    exotel.rows = [*ROWS[:2], {**ROWS[2], "status": "Voicemail-Detected"}]

    # When it is swept a row a page
    report = sweeper(stack, exotel, page_size=1).sweep("camp_1")

    # Then every row was read once, in one page, and the new status is kept as a status
    assert (report.rows_read, report.finished, exotel.pages) == (3, True, 1)
    summary = processors.campaign()
    assert summary["attempts"]["by_status"] == {
        "busy": 1,
        "completed": 1,
        "voicemail-detected": 1,
    }
    assert summary["numbers"]["by_status"] == {"completed": 1, "voicemail-detected": 1}


def test_the_campaigns_due_a_sweep(stack: Deployment) -> None:
    # Given campaigns in every situation a scheduled sweep must tell apart
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    ledger = CampaignLedger(table)
    now = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)

    def campaign(sid: str, status: str, updated: datetime, **summary: Any) -> None:
        ledger.record_api_campaign_status(ApiCampaign(sid, status, updated), now)
        if summary:
            table.set(campaign_pk(sid), SUMMARY_SK, summary)

    campaign("quiet", "InProgress", now - timedelta(hours=3))
    campaign("busy", "InProgress", now - timedelta(minutes=5))
    campaign("paused", "Paused", now - timedelta(days=3))
    campaign(
        "swept_lately",
        "InProgress",
        now - timedelta(hours=3),
        sweep={"last_run": (now - timedelta(minutes=10)).isoformat(), "cursor": None},
    )
    campaign(
        "cut_short",
        "InProgress",
        now - timedelta(hours=3),
        sweep={"last_run": (now - timedelta(minutes=10)).isoformat(), "cursor": 200},
    )
    campaign("final_no_report", "Completed", now - timedelta(days=2))
    campaign(
        "final_reconciled",
        "Completed",
        now - timedelta(days=2),
        reconciliation={"report_rows": 1},
        report={"status": "stored"},
    )
    campaign("final_long_ago", "Completed", now - timedelta(days=30))
    campaign("final_swept", "Canceled", now - timedelta(days=2),
             sweep={"last_run": (now - timedelta(days=1)).isoformat(), "cursor": None,
                    "final": True})  # fmt: skip
    # swept while it ran, then final by a callback whose report failed
    campaign("swept_before_final", "Completed", now - timedelta(days=2),
             sweep={"last_run": (now - timedelta(days=3)).isoformat(), "cursor": None},
             report={"status": "failed"})  # fmt: skip

    # When the campaigns due an hour's quiet are chosen
    due = campaigns_to_sweep(table, now, timedelta(hours=1))

    # Then the quiet, the cut short and the final without a report are swept, once each
    assert sorted(due) == [
        "cut_short",
        "final_no_report",
        "paused",
        "quiet",
        "swept_before_final",
    ]


def test_a_campaign_the_api_refuses_waits_a_quiet_period_before_the_next_try(
    stack: Deployment, processors: Processors, exotel: FakeCampaignApi
) -> None:
    # Given a quiet campaign that Exotel's Campaign API does not know (404)
    processors.process(campaign_status("InProgress", 0))
    exotel.missing = True
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    now = datetime.now(UTC)
    assert campaigns_to_sweep(table, now, timedelta(hours=1)) == ["camp_1"]

    # When a sweep of it is refused
    with pytest.raises(CampaignApiRefused, match="404"):
        sweeper(stack, exotel).sweep("camp_1")

    # Then the refusal is on the campaign, and it is not due again until it has been quiet
    assert "404" in processors.campaign()["sweep"]["refused"]
    assert campaigns_to_sweep(table, now, timedelta(hours=1)) == []
    assert campaigns_to_sweep(table, now + timedelta(hours=2), timedelta(hours=1)) == ["camp_1"]
    # ... and a sweep that succeeds clears it
    exotel.missing = False
    sweeper(stack, exotel).sweep("camp_1")
    assert processors.campaign()["sweep"]["refused"] is None
    # ... while a campaign neither the ledger nor the API knows leaves no trace
    exotel.missing = True
    with pytest.raises(CampaignApiRefused):
        sweeper(stack, exotel).sweep("camp_typo")
    assert table.campaign_items("camp_typo") == []


def test_recovered_items_expire_like_the_callbacks(
    stack: Deployment, exotel: FakeCampaignApi
) -> None:
    # Given a stack keeping data 30 days, When a campaign is swept
    sweeper(stack, exotel, retention=timedelta(days=30)).sweep("camp_1")

    # Then every item the sweep wrote carries its expiry, as the processors' do
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    written = table.number_collection("camp_1", "+919876543210")
    assert written
    assert all(item.get("expires_at") for item in written)
