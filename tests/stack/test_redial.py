"""Redial lists through the deployed read API (docs/architecture.md, "Redial lists"). That a
list equals the numbers the campaign left unanswered, whatever the delivery order, is checked
with the ledger's delivery property (tests/stack/test_ledger.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import build_callback
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.views import http as read_routes
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.sqs_events import sqs_event
from ops.__main__ import main
from tests.support.events import http_get
from tests.support.pipeline import LedgerStream
from tests.support.stack import Invoke, LoadFunction

SID = "camp_redial"


def queued(kind: CallbackType, fields: dict[str, Any]) -> dict[str, Any]:
    received_at = datetime(2024, 1, 15, tzinfo=UTC)
    sent = decode_fields(json.dumps(fields).encode(), "application/json")
    body = build_callback(kind, sent, NormalisationRules(), received_at).queued_event(received_at)
    return {"MessageId": fields.get("call_sid") or fields["to"], "ReceiptHandle": "r", "Body": body}


def store_campaign(load_function: LoadFunction, finals: dict[str, str]) -> None:
    """One attempt and one final outcome per number."""
    attempts = [
        queued(
            CallbackType.CALL_STATUS,
            {
                "campaign_sid": SID,
                "call_sid": f"call_{i}",
                "number": number,
                "status": status,
                "date_updated": "2024-01-15 09:05:00",
            },
        )
        for i, (number, status) in enumerate(finals.items())
    ]
    outcomes = [
        queued(
            CallbackType.CALL_SCHEDULE,
            {
                "campaign_sid": SID,
                "to": number,
                "call_sids": [f"call_{i}"],
                "status": status,
                "date_updated": "2024-01-15 09:35:00",
            },
        )
        for i, (number, status) in enumerate(finals.items())
    ]
    for name, records in (
        ("CallStatusProcessorFunction", attempts),
        ("CallScheduleProcessorFunction", outcomes),
    ):
        answer = load_function(name)(sqs_event("arn:q", records))
        assert answer == {"batchItemFailures": []}


def ask(read_api: Invoke, query: str = "") -> tuple[int, dict[str, Any]]:
    response = read_api(http_get(f"/campaigns/{SID}/redial", query))
    return response["statusCode"], json.loads(response["body"])


def test_a_number_erased_meanwhile_is_left_out_and_counted(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given a campaign with two unanswered numbers, one of them erased while its records are
    # still being removed (its tombstone is written first)
    store_campaign(
        load_function,
        {"+919800000001": "busy", "+919800000002": "no-answer", "+919800000003": "completed"},
    )
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION),
        stack.physical_id("CampaignTable"),
        stack.functions["ReadApiFunction"].environment["NUMBER_HASH_KEY"],
    )
    table.bury("+919800000002", SID, None)

    # When the redial list is asked for
    status, body = ask(load_function("ReadApiFunction"))

    # Then only the number that may be called is in it, and the erased one is counted
    assert status == 200
    assert body["csv"] == "number\n+919800000001\n"
    assert body["numbers"] == 1
    assert body["left_out"] == {"erased (make erase)": 1}


def test_an_unknown_status_is_a_400_and_an_unknown_campaign_a_404(
    stack: Deployment, load_function: LoadFunction
) -> None:
    read_api = load_function("ReadApiFunction")
    store_campaign(load_function, {"+919800000001": "busy"})

    status, body = ask(read_api, "statuses=busy,voicemail")
    assert status == 400
    assert "'voicemail' is not a final call status" in body["message"]

    response = read_api(http_get("/campaigns/camp_nowhere/redial"))
    assert response["statusCode"] == 404


def test_make_redial_writes_the_csv_and_says_what_it_left_out(
    stack: Deployment,
    load_function: LoadFunction,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a campaign with one busy number and one a mask stands for
    store_campaign(load_function, {"+919800000001": "busy", "0XXXXXX4890": "busy"})

    # When `make redial` writes the list to a file
    out = tmp_path / "redial.csv"
    code = main(["--stack", STACK_NAME, "redial", SID, "--out", str(out)])

    # Then the file is Exotel's contact list, and one line says how many and what was left out
    assert code == 0
    assert out.read_text() == "number\n+919800000001\n"
    assert out.stat().st_mode & 0o777 == 0o600  # unmasked numbers: the owner's only
    said = capsys.readouterr().err
    assert f"{SID}: 1 number(s) to call again -> {out}" in said
    assert "left out: 1 number masked or partial (not dialable)" in said

    # and a status that is not one is refused in one line, exit 2
    assert main(["--stack", STACK_NAME, "redial", SID, "--statuses", "voicemail"]) == 2
    assert "'voicemail' is not a final call status" in capsys.readouterr().err


def test_a_campaign_too_large_for_the_api_is_a_413_naming_the_command(
    stack: Deployment, load_function: LoadFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the API's limit below the campaign's attempts
    store_campaign(load_function, {"+919800000001": "busy", "+919800000002": "busy"})
    monkeypatch.setattr(read_routes, "MAX_REDIAL_ATTEMPTS", 1)

    # Then the API refuses it in time, and says what lists it
    status, body = ask(load_function("ReadApiFunction"))
    assert status == 413
    assert "make redial lists it" in body["message"]


def test_an_outcome_past_its_retention_is_not_handed_out(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given a busy number whose outcome expired (DataRetentionDays) before DynamoDB's TTL ran
    store_campaign(load_function, {"+919800000001": "busy", "+919800000002": "busy"})
    table = boto3.client("dynamodb", region_name=REGION)
    table.update_item(
        TableName=stack.physical_id("CampaignTable"),
        Key={"PK": {"S": f"CAMPAIGN#{SID}#NUMBER#+919800000002"}, "SK": {"S": "OUTCOME"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )

    # Then only the other number is listed, and the expired one is not counted as missing
    status, body = ask(load_function("ReadApiFunction"))
    assert (status, body["csv"], body["left_out"]) == (200, "number\n+919800000001\n", {})


def test_outcomes_no_attempt_names_are_counted_as_not_found(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given a number whose schedule callback came, but whose call status callbacks were lost
    store_campaign(load_function, {"+919800000001": "busy"})
    lost = queued(CallbackType.CALL_SCHEDULE, {"campaign_sid": SID, "to": "+919800000002",
                  "call_sids": ["call_lost"], "status": "busy",
                  "date_updated": "2024-01-15 09:35:00"})  # fmt: skip
    assert load_function("CallScheduleProcessorFunction")(sqs_event("arn:q", [lost])) == {
        "batchItemFailures": []
    }
    LedgerStream(stack, load_function("LedgerStreamFunction")).settle()  # the counters

    # Then the list cannot find it, and says so
    status, body = ask(load_function("ReadApiFunction"))
    assert (status, body["csv"]) == (200, "number\n+919800000001\n")
    assert body["left_out"] == {
        "outcome stored without an attempt (not found; make sweep recovers them)": 1
    }
