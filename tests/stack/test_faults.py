"""Fault injection: each dependency fails at the worst moment, and the ledger still balances.

A campaign is sent the way Exotel sends it (a 5xx answer is retried), the queues are consumed
the way Lambda consumes them (a failed record comes back, then goes to its DLQ), and then:
every accepted callback is stored (or, where it is older than what is stored, ignored by
design) or still on a queue or DLQ; every quarantined request is in S3; the read API's counters
equal an oracle's; and every follow-up event was published exactly once.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from exotel_webhooks.ledger.table import RaceLost
from localaws.emulation import REGION, Deployment
from localaws.template import Template
from tests.support.events import http_get
from tests.support.pipeline import Pipeline
from tests.support.report_server import ReportServer, Route
from tests.support.stack import AwsCalls, LoadFunction

CAMPAIGN = "camp_faults"
REPORT = b"Phone Number,Final Status\n+919800000001,completed\n+919800000002,failed\n"
EXOTEL_ATTEMPTS = 3  # Exotel retries a failed webhook twice


def call_status(call: int, status: str, minute: int) -> dict[str, Any]:
    return {
        "campaign_sid": CAMPAIGN,
        "call_sid": f"call_{call}",
        "number": f"+91980000000{call}",
        "status": status,
        "date_updated": f"2026-11-26T09:{minute:02d}:00+05:30",
    }


def outcome(call: int, status: str) -> dict[str, Any]:
    return {
        "campaign_sid": CAMPAIGN,
        "to": f"+91980000000{call}",
        "status": status,
        "call_sids": [f"call_{call}"],
        "date_updated": "2026-11-26T09:30:00+05:30",
    }


def campaign(report_url: str) -> list[tuple[str, dict[str, Any] | str]]:
    return [
        ("call-status", call_status(1, "in-progress", 1)),
        ("call-status", call_status(2, "busy", 2)),
        ("call-status", call_status(1, "completed", 5)),
        ("call-status", call_status(1, "completed", 5)),  # a duplicate
        ("call-status", call_status(2, "failed", 4)),
        ("call-status", call_status(1, "ringing", 3)),  # older than what is stored
        ("call-schedule", outcome(1, "completed")),
        ("call-schedule", outcome(2, "failed")),
        ("call-schedule", outcome(2, "failed")),  # a duplicate
        ("call-status", '{"campaign_sid": "camp_faults", "call_sid": '),  # quarantined
        (
            "campaign-status",
            {
                "campaign_sid": CAMPAIGN,
                "status": "Completed",
                "date_updated": "2026-11-26T10:00:00+05:30",
                "report_url": report_url,
            },
        ),
    ]


@dataclass
class Ledger:
    accepted: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    quarantined: set[str] = field(default_factory=set)
    refused: list[int] = field(default_factory=list)  # answers after every Exotel retry


def send_like_exotel(
    pipeline: Pipeline, callbacks: list[tuple[str, dict[str, Any] | str]]
) -> Ledger:
    ledger = Ledger()
    for route, fields in callbacks:
        for _ in range(EXOTEL_ATTEMPTS):
            status, answer = pipeline.send(route, fields)
            if status < 500:
                break
        if status != 200:
            ledger.refused.append(status)
        elif answer["status"] == "accepted":
            ledger.accepted[answer["event_id"]] = (route, fields)  # type: ignore[assignment]
        else:
            ledger.quarantined.add(answer["event_id"])
    return ledger


def waiting_event_ids(stack: Deployment) -> set[str]:
    """Event ids still on a queue or a dead-letter queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    found = set()
    for logical_id in Template.load().resources_of_type("AWS::SQS::Queue"):
        if logical_id not in stack.resources:  # its condition did not hold: not deployed
            continue
        while True:
            messages = sqs.receive_message(
                QueueUrl=stack.physical_id(logical_id), MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                body = json.loads(message["Body"])
                if isinstance(body, dict) and "event_id" in body:
                    found.add(body["event_id"])
    return found


def oracle(ledger: Ledger) -> tuple[Counter[str], Counter[str]]:
    """Attempts and numbers by status: the newest accepted callback of each call and number."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for route, fields in ledger.accepted.values():
        key = (route, fields.get("call_sid") or fields.get("to") or "")
        if route != "campaign-status" and (
            key not in newest or fields["date_updated"] > newest[key]["date_updated"]
        ):
            newest[key] = fields
    attempts = Counter(f["status"] for (route, _), f in newest.items() if route == "call-status")
    numbers = Counter(f["status"] for (route, _), f in newest.items() if route == "call-schedule")
    return attempts, numbers


def assert_balanced(pipeline: Pipeline, ledger: Ledger, aws_calls: AwsCalls) -> None:
    # Every webhook got a 200 in the end (the faults are transient)
    assert ledger.refused == []
    # Nothing accepted is left waiting: no queue and no DLQ holds anything
    assert waiting_event_ids(pipeline.stack) == set()
    # Every quarantined request is in the quarantine
    s3 = boto3.client("s3", region_name=REGION)
    listing = s3.list_objects_v2(Bucket=pipeline.stack.physical_id("QuarantineBucket"))
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert all(any(event_id in key for key in keys) for event_id in ledger.quarantined)
    # The counters are exactly the oracle's: nothing counted twice, nothing lost
    attempts, numbers = oracle(ledger)
    state = pipeline.get(f"/campaigns/{CAMPAIGN}")
    assert state["attempts"] == {"total": sum(attempts.values()), "by_status": dict(attempts)}
    assert state["numbers"] == {"total": sum(numbers.values()), "by_status": dict(numbers)}
    assert state["status"] == "Completed"
    # The report was stored once and reconciled with the stored outcomes
    assert state["report"]["status"] == "stored"
    assert state["reconciliation"] == {
        "source": "report", "report_rows": 2, "matched": 2, "backfilled": 0, "mismatched": 0,
        "unparseable": 0,
    }  # fmt: skip
    # Each follow-up event was published exactly once
    published = Counter(
        entry["DetailType"]
        for call in aws_calls.of("PutEvents", succeeded=True)
        for entry in call["Entries"]
    )
    assert published == {
        "CallScheduleCompleted": 2, "CampaignCompleted": 1, "CampaignReportStored": 1,
    }  # fmt: skip


type Fault = Callable[[AwsCalls, ReportServer], None]


def fail(operation: str, code: str, times: int = 1) -> Fault:
    def plan(aws_calls: AwsCalls, _server: ReportServer) -> None:
        for _ in range(times):
            aws_calls.fail_next(operation, code)

    return plan


def events_fail(aws_calls: AwsCalls, _server: ReportServer) -> None:
    """PutEvents fails twice, wherever it is called first (the stream's consumer, the report
    fetcher); the fetcher's backoff fails too, so its queue redelivers at once."""
    for _failure in range(2):
        aws_calls.fail_next("PutEvents", "InternalException")
        aws_calls.fail_next("ChangeMessageVisibility", "AccessDenied")


def report_host_busy(aws_calls: AwsCalls, server: ReportServer) -> None:
    """Two 503s; the fetcher's backoff (ChangeMessageVisibility) fails too, so the queue
    redelivers at once rather than in minutes."""
    server.routes["/report.csv"].fail_first = 2
    aws_calls.fail_next("ChangeMessageVisibility", "AccessDenied")
    aws_calls.fail_next("ChangeMessageVisibility", "AccessDenied")


FAULTS: dict[str, Fault] = {
    # the receiver: the queue refuses (twice: the SDK retries once), the quarantine is down
    "SQS send fails": fail("SendMessage", "ServiceUnavailable", times=2),
    "SQS throttles": fail("SendMessage", "ThrottlingException", times=2),
    "S3 quarantine fails": fail("PutObject", "InternalError", times=2),
    # the processors and the stream: DynamoDB throttles writes (the processors' and the
    # counters'), a read fails, the stream cannot be read
    "DynamoDB throttles writes": fail(
        "UpdateItem", "ProvisionedThroughputExceededException", times=3
    ),
    "DynamoDB read fails": fail("GetItem", "InternalServerError", times=2),
    "DynamoDB stream read fails": fail("GetRecords", "InternalServerError", times=2),
    # a crash between two steps: stored, then the follow-up fails
    "EventBridge fails after the write": events_fail,
    "report request fails after the write": fail("SendMessage", "InternalError", times=1),
    # the report host answers 503 (stalled and slow-drip bodies: tests/stack/test_reports.py)
    "report host answers 503": report_host_busy,
}


@pytest.mark.enable_socket
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_ledger_balances_whatever_fails(  # noqa: PLR0917 - fixtures
    fault: str,
    load_function: LoadFunction,
    stack: Deployment,
    aws_calls: AwsCalls,
    log_output: io.StringIO,
    report_server: ReportServer,
) -> None:
    # Given a campaign whose report is served, and a dependency that will fail
    report_server.routes["/report.csv"] = Route(body=REPORT)
    pipeline = Pipeline(load_function, stack, log_output, report_server)
    FAULTS[fault](aws_calls, report_server)

    # When Exotel sends the campaign and the queues are consumed
    ledger = send_like_exotel(pipeline, campaign(report_server.url("/report.csv")))
    pipeline.drain()

    # Then the fault was met, and the ledger balances
    assert aws_calls.failed
    assert_balanced(pipeline, ledger, aws_calls)


@pytest.mark.parametrize(
    "path", ["/campaigns/camp_faults", "/campaigns/camp_faults/numbers/+919800000001"]
)
def test_the_read_api_answers_503_with_a_message_when_aws_cannot_be_reached(
    load_function: LoadFunction, aws_calls: AwsCalls, path: str
) -> None:
    # Given the read API, and DynamoDB out of reach (as under `sam local invoke` without an
    # endpoint or credentials for the table)
    read_api = load_function("ReadApiFunction")

    def unreachable() -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.ap-south-1.amazonaws.com")

    for operation in ("GetItem", "Query", "BatchGetItem"):
        aws_calls.before_next(operation, unreachable)

    # When a campaign or a number is asked for
    response = read_api(http_get(path))

    # Then the answer is 503 with a JSON message and a Retry-After, not an unhandled error
    assert response["statusCode"] == 503
    assert "try again" in json.loads(response["body"])["message"]
    assert response["headers"]["Retry-After"] == "5"


def test_the_read_api_answers_503_when_dynamodb_keeps_a_read_unprocessed(
    load_function: LoadFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the read API, and DynamoDB throttling a read until the table gives up (RaceLost:
    # BatchGetItem's keys left unprocessed after every retry)
    read_api = load_function("ReadApiFunction")

    def throttled(*_: object, **__: object) -> None:
        raise RaceLost("DynamoDB kept keys unprocessed")

    monkeypatch.setattr("exotel_webhooks.ledger.table.CampaignTable.number_collection", throttled)

    # When a number is asked for
    response = read_api(http_get("/campaigns/camp_faults/numbers/+919800000001"))

    # Then it is a 503 to try again, not an unhandled error
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "5"
