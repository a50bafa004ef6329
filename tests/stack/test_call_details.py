"""Each call's cost, duration and recording from Exotel's Call details API (sweep/enrichment.py),
on the deployed stack with CallDetails on: every final attempt gets its details from the queue
the ledger stream fills, the campaign its totals, and every other door keeps them true (asking
twice, a newer callback, an erasure, a recount)."""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from exotel_webhooks.ledger.details import DueAttempt
from exotel_webhooks.ledger.keys import attempt_keys
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.sweep.pacing import SharedPacer
from localaws.analytics import download_dataset
from localaws.emulation import REGION, STACK_NAME, Deployment
from ops.__main__ import _enrich
from ops.enrich import enrich_campaign
from ops.erase import erase_number
from ops.target import Target
from tests.support.openapi import assert_described
from tests.support.pipeline import Pipeline
from tests.support.report_server import Route

pytestmark = [pytest.mark.stack_parameters(CallDetails="true"), pytest.mark.enable_socket]

CALLS_PATH = "/v1/Accounts/demo-account/Calls.json"
A, B = "+919876543210", "+919812345678"
# The truth: A called twice (busy, then completed and recorded), B once (no answer)
ATTEMPTS = [("call_1", A, "busy", 0), ("call_2", A, "completed", 15), ("call_3", B, "no-answer", 1)]
DETAILS: dict[str, dict[str, Any]] = {
    "call_1": {"Status": "busy", "Duration": "0", "Price": "0.000"},
    "call_2": {"Status": "completed", "Duration": "45", "Price": "1.500",
               "RecordingUrl": "https://recordings.exotel.com/call_2.mp3",
               "Details": {"ConversationDuration": 38}},
    "call_3": {"Status": "no-answer", "Duration": "0", "Price": "0.250"},
}  # fmt: skip


def call_status(call_sid: str, number: str, status: str, minute: int) -> dict[str, Any]:
    return {
        "campaign_sid": "camp_1",
        "call_sid": call_sid,
        "number": number,
        "status": status,
        "date_created": f"2024-01-15 09:{minute:02d}:00",
        "date_updated": f"2024-01-15 09:{minute:02d}:40",
    }


def exotel_answers(pipeline: Pipeline, details: dict[str, dict[str, Any]]) -> None:
    """Exotel's Call details API answers with these calls (and one nobody asked about)."""
    calls = [{"Call": {"Sid": sid, "DateCreated": "2024-01-15 09:00:00", **fields}}
             for sid, fields in details.items()]  # fmt: skip
    calls.append({"Call": {"Sid": "someone_elses", "Status": "completed", "Duration": "600",
                           "Price": "99.000"}})  # fmt: skip
    body = {"Metadata": {"Total": len(calls), "PageSize": 100}, "Calls": calls}
    pipeline.server.routes[CALLS_PATH] = Route(
        body=json.dumps(body).encode(), content_type="application/json"
    )


def played(pipeline: Pipeline) -> None:
    for sid, number, status, minute in ATTEMPTS:
        assert pipeline.webhook("call-status", call_status(sid, number, status, minute)) == 200
    pipeline.drain()


def make_enrich(pipeline: Pipeline, campaign_sid: str = "camp_1") -> str:
    """`make enrich LOCAL=1` against the report server's routes, as the demo's credentials."""
    environ = {"EXOTEL_API_KEY": "demo-key", "EXOTEL_API_TOKEN": "demo-token",
               "EXOTEL_ACCOUNT_SID": "demo-account",
               "EXOTEL_API_URL": f"http://127.0.0.1:{pipeline.server.port}"}  # fmt: skip
    target = Target(STACK_NAME, REGION, local_base_url="http://127.0.0.1:1")
    return enrich_campaign(target, campaign_sid, environ).summary(campaign_sid)


def dataset_rows(stack: Deployment) -> list[dict[str, Any]]:
    """Every row of the analytics dataset, as Firehose wrote them."""
    s3 = boto3.client("s3", region_name=REGION)
    with tempfile.TemporaryDirectory() as directory:
        download_dataset(s3, stack.physical_id("ReportBucket"), Path(directory))
        return [
            json.loads(line)
            for path in sorted(Path(directory).iterdir())
            for line in path.read_text().splitlines()
        ]


def table(stack: Deployment) -> CampaignTable:
    client = boto3.client("dynamodb", region_name=REGION)
    return CampaignTable(client, stack.physical_id("CampaignTable"))


def test_each_final_attempt_gets_its_call_details_and_the_campaign_its_cost(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given Exotel's Call details API knows the campaign's three calls
    exotel_answers(pipeline, DETAILS)

    # When their callbacks arrive and the stack settles
    played(pipeline)

    # Then each attempt shows what it lasted, cost and whether it was recorded
    number = pipeline.get(f"/campaigns/camp_1/numbers/{A}")
    assert {a["call_sid"]: a["details"] for a in number["attempts"]} == {
        "call_1": {"duration_seconds": 0, "price": "0.0000", "currency": "INR",
                   "recorded": False},
        "call_2": {"duration_seconds": 45, "talk_seconds": 38, "price": "1.5000",
                   "currency": "INR", "recorded": True},
    }  # fmt: skip
    # ... the campaign its totals and averages
    assert pipeline.get("/campaigns/camp_1")["cost"] == {
        "currency": "INR",
        "attempts_with_details": 3,
        "total": "1.750",
        "average_per_attempt": "0.583",
        "duration_seconds": 45,
        "talk_seconds": 38,
        "average_talk_seconds": 38.0,
        "recorded_attempts": 1,
    }
    # ... both as openapi.yaml describes them
    assert_described("CampaignNumber", number)
    assert_described("Campaign", pipeline.get("/campaigns/camp_1"))
    # ... and the analytics dataset's newest row of each attempt carries them
    rows = dataset_rows(stack)
    newest = {
        r["call_sid"]: r for r in sorted(rows, key=lambda r: r["sequence"]) if r.get("call_sid")
    }
    assert {sid: (r.get("price"), r.get("duration_seconds"), r.get("talk_seconds"),
                  r.get("recorded")) for sid, r in newest.items()} == {
        "call_1": (0.0, 0, None, False),
        "call_2": (1.5, 45, 38, True),
        "call_3": (0.25, 0, None, False),
    }  # fmt: skip
    # ... asked in one request of the three SIDs, within a date range the API accepts
    asked = [parse_qs(q) for q in pipeline.server.queries if "Sid=" in q]
    assert [sorted(q["Sid"][0].split(",")) for q in asked] == [["call_1", "call_2", "call_3"]]
    assert asked[0]["DateCreated"][0].startswith("gte:2024-01-15 08:00:00;lte:")


def test_asking_again_changes_nothing_and_a_newer_callback_keeps_the_details(
    pipeline: Pipeline,
) -> None:
    # Given a campaign whose attempts have their details
    exotel_answers(pipeline, DETAILS)
    played(pipeline)
    before = pipeline.get("/campaigns/camp_1")

    # When make enrich asks about the whole campaign again, and a later callback of call_2 arrives
    answer = make_enrich(pipeline)
    later = call_status("call_2", A, "completed", 15) | {"date_updated": "2024-01-15 09:16:00"}
    assert pipeline.webhook("call-status", later) == 200
    pipeline.drain()

    # Then nothing was due (each has its details): Exotel was asked once in all; the newer
    # version kept its details, and the campaign's figures are as they were
    assert answer.startswith("camp_1: 0 attempts given their call details")
    assert len([q for q in pipeline.server.queries if "Sid=" in q]) == 1
    number = pipeline.get(f"/campaigns/camp_1/numbers/{A}")
    assert number["attempts"][1]["date_updated"] == "2024-01-15T09:16:00+05:30"
    assert number["attempts"][1]["details"]["price"] == "1.5000"
    assert pipeline.get("/campaigns/camp_1")["cost"] == before["cost"]


def test_details_exotel_has_not_settled_are_asked_again_then_wait_for_make_enrich(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given an API that has not priced call_2 yet (no Price), and does not list call_3
    unsettled = {"call_1": DETAILS["call_1"], "call_2": {"Status": "completed", "Duration": ""}}
    exotel_answers(pipeline, unsettled)

    # When the callbacks arrive and the queue is retried until it gives up
    played(pipeline)

    # Then only call_1 has its details; the other two wait in the dead-letter queue
    assert pipeline.get("/campaigns/camp_1")["cost"]["attempts_with_details"] == 1
    assert _dead_letters(stack) == {"call_2", "call_3"}

    # When Exotel has settled them and make enrich asks about the campaign
    exotel_answers(pipeline, DETAILS)
    answer = make_enrich(pipeline)
    pipeline.drain()

    # Then every attempt has its details
    assert answer == (
        "camp_1: 2 attempts given their call details (0 already had them, 0 not settled by "
        "Exotel yet, 0 refused, 0 gone)"
    )
    assert pipeline.get("/campaigns/camp_1")["cost"]["total"] == "1.750"


def test_an_erased_number_is_not_written_back_and_leaves_the_totals(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a campaign whose attempts have their details, then number A erased
    exotel_answers(pipeline, DETAILS)
    played(pipeline)
    erase_number(Target(STACK_NAME, REGION), A, "camp_1")
    pipeline.drain()

    # When a call details request for A's attempt, sent before the erasure, is handled
    keys = attempt_keys("camp_1", A, "call_2")
    due = DueAttempt("camp_1", "call_2", keys["PK"], keys["SK"], "2024-01-15T03:45:00Z")
    event = {"Records": [{"messageId": "m1", "body": json.dumps(due.message())}]}
    answer = pipeline.invoke("CallDetailsFunction", event)
    pipeline.drain()

    # Then it is done with (not retried), nothing of A is back, and the totals are B's alone
    assert answer == {"batchItemFailures": []}
    assert table(stack).number_collection("camp_1", A) == []
    cost = pipeline.get("/campaigns/camp_1")["cost"]
    assert (cost["attempts_with_details"], cost["total"]) == (1, "0.250")


def test_a_recount_finds_the_details_totals_true(pipeline: Pipeline, stack: Deployment) -> None:
    # Given a campaign whose attempts have their details
    exotel_answers(pipeline, DETAILS)
    played(pipeline)

    # When make recount rebuilds its counters from its items
    corrections = table(stack).recount("camp_1")

    # Then the stream had counted every attempt's details: nothing to correct
    assert corrections == {}
    assert table(stack).campaign_counters("camp_1")["details#price_milli"] == 1750


def test_values_no_call_could_have_are_refused_for_that_call_only(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given an API answering a negative duration for call_1 and a price past any tariff for call_3
    exotel_answers(
        pipeline,
        DETAILS
        | {"call_1": DETAILS["call_1"] | {"Duration": "-5"}}
        | {"call_3": DETAILS["call_3"] | {"Price": "1e9"}},
    )

    # When the callbacks arrive
    played(pipeline)

    # Then call_2 has its details; the refused two are logged, not retried, and not stored
    assert pipeline.get("/campaigns/camp_1")["cost"]["attempts_with_details"] == 1
    assert _dead_letters(stack) == set()
    refused = [line for line in pipeline.lines["CallDetailsFunction"]
               if line["message"] == "call details refused"]  # fmt: skip
    assert sorted(line["call_sid"] for line in refused) == ["call_1", "call_3"]
    assert Decimal(pipeline.get("/campaigns/camp_1")["cost"]["total"]) == Decimal("1.5")


def _dead_letters(stack: Deployment) -> set[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    url = stack.physical_id("CallDetailsDeadLetterQueue")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return {json.loads(m["Body"])["call_sid"] for m in messages}


def test_processes_sharing_an_account_take_its_turns_in_order(stack: Deployment) -> None:
    # Given two processes at Exotel's 30 a minute on one account (the sweep, the call details
    # function), and a third on another account, all at one moment
    slept: list[tuple[str, float]] = []

    def pacer(name: str, account: str) -> SharedPacer:
        def sleep(seconds: float) -> None:
            slept.append((name, seconds))

        return SharedPacer(table(stack), account, 30, sleep, clock=lambda: 1e9)

    sweep, details, other = pacer("sweep", "acct_1"), pacer("details", "acct_1"), pacer("o", "x")

    # When each asks for turns, and a 429 asks the account to wait 60 s
    sweep.wait()
    details.wait()
    other.wait()
    sweep.wait()
    details.hold(60)
    details.wait()

    # Then the account's turns are 2 s apart whoever takes them, the hold moves everyone's,
    # and the other account waits for nobody
    assert slept == [("details", 2.0), ("sweep", 4.0), ("details", 60.0)]


def test_make_enrich_says_in_one_line_what_is_missing(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no credentials for Exotel's API on this machine, then credentials but no campaign
    for name in ("EXOTEL_API_KEY", "EXOTEL_API_TOKEN", "EXOTEL_ACCOUNT_SID", "EXOTEL_API_URL",
                 "EXOTEL_API_HOST", "EXOTEL_API_SECRET_ARN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    target = Target(STACK_NAME, REGION, local_base_url="http://127.0.0.1:1")
    unconfigured = _enrich(target, "camp_1")
    monkeypatch.setenv("EXOTEL_API_KEY", "k")
    monkeypatch.setenv("EXOTEL_API_TOKEN", "t")
    monkeypatch.setenv("EXOTEL_ACCOUNT_SID", "a")
    unknown = _enrich(target, "camp_nobody_ran")

    # Then each exits 1 with one line saying why
    assert (unconfigured, unknown) == (1, 1)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "call details of camp_1 not read: the Campaign API is not configured: set "
        "EXOTEL_API_SECRET_ARN, or EXOTEL_API_KEY, EXOTEL_API_TOKEN, EXOTEL_ACCOUNT_SID",
        "call details of camp_nobody_ran not read: the ledger holds no campaign camp_nobody_ran",
    ]
