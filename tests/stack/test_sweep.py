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

from exotel_webhooks.ledger.recording import CampaignLedger
from exotel_webhooks.ledger.table import SUMMARY_SK, CampaignTable, campaign_pk
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.campaign_api import ApiCampaign, ApiCredentials, CampaignApi
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
        self.page_rows: int | None = None  # answer this many rows, whatever was asked
        self.pages = 0

    def __call__(self, url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        parts = urlsplit(url)
        if not parts.path.endswith("/call-details"):
            body: dict[str, Any] = {"response": [{"data": {"id": "camp_1", "status": self.status,
                                    "date_updated": "2024-01-15T18:00:00+05:30"}}]}  # fmt: skip
            return 200, "application/json", json.dumps(body).encode()
        query = parse_qs(parts.query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = self.rows[offset : offset + (self.page_rows or limit)]
        self.pages += 1
        body = {"metadata": {"count": len(page), "offset": offset, "total": len(self.rows)},
                "response": page}  # fmt: skip
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
    assert report == SweepReport("camp_1", 2, 2, 3, 0, "Completed", "api", True)
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

    def growing(campaign_sid: str, offset: int, limit: int) -> Any:
        if offset == 1:
            exotel.rows = list(ROWS)  # the third row appears after the first page
        return original_page(campaign_sid, offset, limit)

    sweep.api.call_page = growing  # type: ignore[method-assign]

    # When it is swept
    report = sweep.sweep("camp_1")

    # Then every row was read once
    assert (report.rows_read, report.finished) == (3, True)
    assert processors.campaign()["attempts"]["total"] == 3


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
             sweep={"last_run": (now - timedelta(days=1)).isoformat(), "cursor": None})  # fmt: skip

    # When the campaigns due an hour's quiet are chosen
    due = campaigns_to_sweep(table, now, timedelta(hours=1))

    # Then the quiet, the cut short and the final without a report are swept, once each
    assert sorted(due) == ["cut_short", "final_no_report", "paused", "quiet"]


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
