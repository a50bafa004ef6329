"""Summary pages end to end (docs/architecture.md, "Summary page"): written when a campaign
completes or a sweep changes it, handed out by the read API, and equal to what the analytics
dataset's queries say of the same campaign."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.keys import SUMMARY_SK, campaign_pk
from exotel_webhooks.notifications import EVENT_SOURCE
from exotel_webhooks.views.pages import ReconciliationNotRecorded
from localaws.emulation import REGION, STACK_NAME, Deployment, bus_event
from ops.__main__ import main
from ops.target import Target
from tests.support.analytics import dataset_answers
from tests.support.events import http_get
from tests.support.pipeline import Pipeline
from tests.support.report_server import ReportServer, Route

pytestmark = pytest.mark.enable_socket  # the pipeline serves reports over HTTP
SID = "camp_summary"


def call(call_sid: str, number: str, status: str, dialled: str) -> dict[str, Any]:
    return {"campaign_sid": SID, "call_sid": call_sid, "number": number, "status": status,
            "date_created": dialled, "date_updated": dialled}  # fmt: skip


def outcome(number: str, status: str, call_sids: list[str]) -> dict[str, Any]:
    return {"campaign_sid": SID, "to": number, "status": status, "call_sids": call_sids,
            "date_updated": "2026-11-30 19:00:00"}  # fmt: skip


def run_campaign(
    pipeline: Pipeline, status: str = "Completed", report_url: str | None = None
) -> None:
    for fields in (
        call("c1", "+919800000001", "busy", "2026-11-30 09:10:00"),
        call("c2", "+919800000001", "completed", "2026-11-30 11:10:00"),
        call("c3", "+919800000002", "no-answer", "2026-11-30 09:20:00"),
        call("c4", "+919800000003", "completed", "2026-11-30 10:20:00"),
    ):
        assert pipeline.webhook("call-status", fields) == 200
    for fields in (
        outcome("+919800000001", "completed", ["c1", "c2"]),
        outcome("+919800000002", "no-answer", ["c3"]),
        outcome("+919800000003", "completed", ["c4"]),
    ):
        assert pipeline.webhook("call-schedule", fields) == 200
    final = {"campaign_sid": SID, "status": status, "date_created": "2026-11-30 08:00:00",
             "date_updated": "2026-11-30 20:00:00"}  # fmt: skip
    if report_url:
        final["report_url"] = report_url
    assert pipeline.webhook("campaign-status", final) == 200
    pipeline.drain()


def stored_page(stack: Deployment) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("ReportBucket")
    return s3.get_object(Bucket=bucket, Key=f"summaries/{SID}.html")["Body"].read().decode()


def drawn(page: str, chart: str) -> list[tuple[int, int, int]]:
    """A rate chart's bars as (key, attempts, connected)."""
    svg = re.search(rf'<svg id="{chart}".*?</svg>', page, re.S)
    assert svg is not None, chart
    bars = re.findall(r'data-key="(\d+)" data-attempts="(\d+)" data-connected="(\d+)"', svg.group())
    return [(int(k), int(a), int(c)) for k, a, c in bars]


def test_a_completed_campaign_has_a_page_that_agrees_with_the_dataset(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a campaign that completed (its CampaignCompleted event reached the summary rule)
    run_campaign(pipeline)

    # Then its page is in S3, and the read API hands out a short-lived URL to it
    page = stored_page(stack)
    answer = pipeline.invoke("ReadApiFunction", http_get(f"/campaigns/{SID}/summary"))
    assert answer["statusCode"] == 200, answer["body"]
    body = json.loads(answer["body"])
    assert body["expires_in"] == 900
    assert f"summaries/{SID}.html" in body["url"]
    assert "X-Amz-Signature=" in body["url"]
    # and its charts show what the analytics queries answer of the same campaign
    asked = dataset_answers(stack, SID)
    for chart, query, key in (
        ("by-hour", "connect_rate_by_hour", "hour"),
        ("by-attempt", "connect_rate_by_attempt", "attempt_number"),
    ):
        expected = [(r[key], r["attempts"], r["connected"]) for r in asked[query]]
        assert drawn(page, chart) == expected, chart
    mix = {r["status"]: r["numbers"] for r in asked["outcome_mix"]}
    for status, numbers in mix.items():
        assert f'data-label="{status}" data-value="{numbers}"' in page
    assert "campaign Completed" in page


def test_a_campaign_without_a_page_is_a_404_that_says_how_to_make_one(
    pipeline: Pipeline,
) -> None:
    # Given a campaign still running (no event has asked for its page)
    run_campaign(pipeline, status="InProgress")

    # Then the read API says there is no page yet, and how to write one now
    answer = pipeline.invoke("ReadApiFunction", http_get(f"/campaigns/{SID}/summary"))
    assert answer["statusCode"] == 404
    assert f"make summary CAMPAIGN={SID}" in json.loads(answer["body"])["message"]
    # and an unknown campaign is a 404 of its own
    unknown = pipeline.invoke("ReadApiFunction", http_get("/campaigns/camp_nowhere/summary"))
    assert unknown["statusCode"] == 404
    assert "camp_nowhere" in json.loads(unknown["body"])["message"]


def test_a_sweep_that_recovers_calls_rewrites_the_page(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a completed campaign's page
    run_campaign(pipeline)
    assert "last sweep" not in stored_page(stack)

    # When a sweep recovers an attempt whose callback was lost
    lost = {"call_sid": "c5", "number": "+919800000004", "status": "completed",
            "date_created": "2026-11-30T12:00:00+05:30"}  # fmt: skip
    assert pipeline.sweep(SID, [lost])["failed"] == []
    pipeline.drain()

    # Then the page is rewritten with it
    page = stored_page(stack)
    assert "last sweep of Exotel&#x27;s Campaign API" in page
    assert (12, 1, 1) in drawn(page, "by-hour")


def test_make_summary_writes_the_page_here_and_prints_its_path(
    pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_campaign(pipeline, status="InProgress")
    out = tmp_path / "page.html"
    assert main(["--stack", STACK_NAME, "summary", SID, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    assert f"Campaign {SID}" in out.read_text()
    # and an unknown campaign is one line, exit 2
    assert main(["--stack", STACK_NAME, "summary", "camp_nowhere"]) == 2
    assert capsys.readouterr().err.startswith("summary: no campaign camp_nowhere")


def test_the_page_written_on_the_reports_event_shows_the_reconciliation(
    pipeline: Pipeline, stack: Deployment, report_server: ReportServer
) -> None:
    # Given a campaign whose report is fetched and reconciled
    report_server.routes["/summary.csv"] = Route(
        body=b"Number,Status\n+919800000001,completed\n+919800000002,no-answer\n"
        b"+919800000003,completed\n"
    )
    run_campaign(pipeline, report_url=report_server.url("/summary.csv"))

    # Then the page shows the reconciliation's counts
    page = stored_page(stack)
    assert re.search(r"<th>matched</th><td class=\"n\">3</td>", page), page[-800:]


def test_a_reports_event_before_its_reconciliation_is_recorded_is_retried(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign, and a CampaignReportStored event naming a report the ledger does not
    # hold yet (the fetcher publishes it just before recording the reconciliation)
    run_campaign(pipeline, status="InProgress")
    monkeypatch.setattr("exotel_webhooks.views.pages.REPORT_WAIT_SECONDS", 0.0)
    event = bus_event(
        EVENT_SOURCE, "CampaignReportStored", {"campaign_sid": SID, "s3_uri": "s3://b/r.csv"}
    )

    # Then the summary function fails, for Lambda to deliver the event again later
    with pytest.raises(ReconciliationNotRecorded):
        pipeline.invoke("SummaryFunction", event)


def test_a_reports_event_waits_for_its_reconciliation_not_only_its_report(
    pipeline: Pipeline, stack: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign whose report is recorded but not yet its reconciliation (the fetcher
    # records the report, publishes CampaignReportStored, then records the reconciliation)
    run_campaign(pipeline, status="InProgress")
    uri = f"s3://{stack.physical_id('ReportBucket')}/reports/{SID}/r.csv"
    table = Target(STACK_NAME, REGION).campaign_table()
    table.set(campaign_pk(SID), SUMMARY_SK, {"report": {"status": "stored", "s3_uri": uri}})
    monkeypatch.setattr("exotel_webhooks.views.pages.REPORT_WAIT_SECONDS", 0.0)
    event = bus_event(EVENT_SOURCE, "CampaignReportStored", {"campaign_sid": SID, "s3_uri": uri})

    # Then the page is not written without it: the event is delivered again
    with pytest.raises(ReconciliationNotRecorded):
        pipeline.invoke("SummaryFunction", event)
