"""Processors: ordering, counters, failures, races, follow-ups, and the access patterns."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, Deployment
from localaws.event_sources import poll_once
from localaws.sqs_events import sqs_event
from tests.support.campaigns import Message, message
from tests.support.events import http_get
from tests.support.pipeline import LedgerStream
from tests.support.stack import AwsCalls, LoadFunction

PROCESSORS = {
    CallbackType.CALL_STATUS: "CallStatusProcessorFunction",
    CallbackType.CALL_SCHEDULE: "CallScheduleProcessorFunction",
    CallbackType.CAMPAIGN_STATUS: "CampaignStatusProcessorFunction",
}


def attempt(status: str, minute: int, call_sid: str = "call_1") -> Message:
    return message(
        CallbackType.CALL_STATUS,
        {
            "campaign_sid": "camp_1",
            "call_sid": call_sid,
            "number": "+919876543210",
            "status": status,
            "date_created": "2024-01-15T09:00:00+05:30",
            "date_updated": f"2024-01-15T09:{minute:02d}:00+05:30",
        },
    )


def outcome(
    status: str,
    minute: int,
    number: str = "+919876543210",
    sid: str = "camp_1",
    call_sids: tuple[str, ...] = ("call_1",),
) -> Message:
    return message(
        CallbackType.CALL_SCHEDULE,
        {
            "campaign_sid": sid,
            "to": number,
            "from": "08047104890",
            "call_sids": list(call_sids),
            "status": status,
            "date_updated": f"2024-01-15T09:{minute:02d}:00+05:30",
        },
    )


def campaign_status(status: str, minute: int, report_url: str | None = None) -> Message:
    fields = {
        "campaign_sid": "camp_1",
        "status": status,
        "date_updated": f"2024-01-15T10:{minute:02d}:00+05:30",
    }
    if report_url:
        fields["report_url"] = report_url
    return message(CallbackType.CAMPAIGN_STATUS, fields)


class Processors:
    def __init__(self, load_function: LoadFunction, stack: Deployment) -> None:
        self.handlers = {kind: load_function(name) for kind, name in PROCESSORS.items()}
        self.read_api = load_function("ReadApiFunction")
        self.stream = LedgerStream(stack, load_function("LedgerStreamFunction"))
        # the analytics dataset's consumer of the same stream (settled by who asks the dataset)
        self.dataset = LedgerStream(
            stack, load_function("AnalyticsStreamFunction"), "AnalyticsStreamFunction"
        )

    def process(self, *messages: Message) -> list[str]:
        """One batch per message type; returns the failed message ids."""
        failed: list[str] = []
        for index, sent in enumerate(messages):
            record = {"MessageId": f"msg-{index}", "ReceiptHandle": "r", "Body": sent.body}
            response = self.handlers[sent.callback_type](sqs_event("arn:queue", [record]))
            failed += [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
        self.stream.settle()
        return failed

    def get(self, path: str, query: str = "") -> tuple[int, dict[str, Any]]:
        self.stream.settle()  # the counters follow the stored items within a window
        response = self.read_api(http_get(path, query))
        return response["statusCode"], json.loads(response["body"])

    def campaign(self) -> dict[str, Any]:
        status, body = self.get("/campaigns/camp_1")
        assert status == 200
        return body


@pytest.fixture
def processors(load_function: LoadFunction, stack: Deployment) -> Processors:
    return Processors(load_function, stack)


# ----------------------------------------------------------------------------- ordering
def test_an_older_update_never_overwrites_a_newer_one(processors: Processors) -> None:
    # Given a call that completed at 09:10, whose earlier 'failed' (09:05) arrives late
    processors.process(attempt("completed", 10), attempt("failed", 5))

    # Then it stays completed and counts once
    assert processors.campaign()["attempts"] == {"total": 1, "by_status": {"completed": 1}}


def test_a_status_change_moves_the_attempt_between_counters(processors: Processors) -> None:
    # Given a call first reported failed, then (later) completed
    processors.process(attempt("failed", 5), attempt("completed", 10))

    # Then it is one attempt, counted under its latest status only
    assert processors.campaign()["attempts"] == {"total": 1, "by_status": {"completed": 1}}


def test_a_duplicate_costs_one_read_and_changes_nothing(
    processors: Processors, aws_calls: AwsCalls
) -> None:
    processors.process(attempt("busy", 5))
    before = aws_calls.count("dynamodb")

    processors.process(attempt("busy", 5))

    assert aws_calls.count("dynamodb") - before == {"GetItem": 1}
    assert processors.campaign()["attempts"] == {"total": 1, "by_status": {"busy": 1}}


# ----------------------------------------------------------------------------- failures
def test_only_the_failed_records_of_a_batch_are_reported(
    processors: Processors, aws_calls: AwsCalls
) -> None:
    # Given a batch of three valid attempts whose second write is throttled
    batch = [
        attempt("busy", 1, "call_a"),
        attempt("busy", 2, "call_b"),
        attempt("busy", 3, "call_c"),
    ]
    records = [
        {"MessageId": f"msg-{i}", "ReceiptHandle": "r", "Body": m.body} for i, m in enumerate(batch)
    ]
    aws_calls.calls.clear()
    handler = processors.handlers[CallbackType.CALL_STATUS]
    aws_calls.before_next("GetItem", lambda: None)  # the first record's read goes through
    aws_calls.fail_next("GetItem", "ProvisionedThroughputExceededException")

    # When the batch is processed
    response = handler(sqs_event("arn:queue", records))

    # Then exactly the throttled record is reported, and the other two are stored
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert processors.campaign()["attempts"]["total"] == 2

    # And its redelivery stores it, counted once
    assert handler(sqs_event("arn:queue", [records[1]])) == {"batchItemFailures": []}
    assert processors.campaign()["attempts"] == {"total": 3, "by_status": {"busy": 3}}


def test_a_newer_write_between_read_and_write_wins_the_race(
    processors: Processors, load_function: LoadFunction, aws_calls: AwsCalls
) -> None:
    # Given another processor stores a newer update of the same call between this one's read
    # and its write
    rival = load_function("CallStatusProcessorFunction")
    newer = attempt("completed", 20)
    aws_calls.before_next(
        "UpdateItem",
        lambda: rival(
            sqs_event(
                "arn:queue", [{"MessageId": "rival", "ReceiptHandle": "r", "Body": newer.body}]
            )
        ),
    )

    # When the older update is processed
    assert processors.process(attempt("failed", 5)) == []

    # Then its write's condition fails, the refusal names the winner (no second read), and the
    # newer one stays, counted once; no transaction is ever used
    assert processors.campaign()["attempts"] == {"total": 1, "by_status": {"completed": 1}}
    assert aws_calls.count("dynamodb")["GetItem"] == 2  # each processor's one read
    assert aws_calls.of("TransactWriteItems") == []
    _, calls = processors.get("/campaigns/camp_1/calls")
    assert [item["status"] for item in calls["items"]] == ["completed"]


def test_a_poison_message_reaches_the_dead_letter_queue_by_redrive(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given a message no processor can read, on the call-status queue
    sqs = boto3.client("sqs", region_name=REGION)
    source = stack.event_source_of("CallStatusProcessorFunction")
    sqs.send_message(QueueUrl=source.queue_url, MessageBody='{"not": "a queued callback"}')
    handler = load_function("CallStatusProcessorFunction")

    # When the event source mapping delivers it until the queue gives up (maxReceiveCount 5)
    deliveries = 0
    while poll_once(sqs, source, handler, visibility_timeout=0):
        deliveries += 1

    # Then it was tried five times and now waits in the dead-letter queue
    dead_letters = sqs.receive_message(QueueUrl=stack.physical_id("CallStatusDeadLetterQueue"))
    assert deliveries == 5
    assert [m["Body"] for m in dead_letters["Messages"]] == ['{"not": "a queued callback"}']


# ----------------------------------------------------------------------------- follow-ups
def published(aws_calls: AwsCalls, detail_type: str) -> list[dict[str, Any]]:
    return [
        json.loads(entry["Detail"])
        for call in aws_calls.of("PutEvents", succeeded=True)
        for entry in call["Entries"]
        if entry["DetailType"] == detail_type
    ]


def test_number_outcome_publishes_once_however_often_it_arrives(
    processors: Processors, aws_calls: AwsCalls
) -> None:
    final = outcome("failed", 35)
    processors.process(final, final, final)

    events = published(aws_calls, "CallScheduleCompleted")
    assert [(e["number"], e["status"], e["event_id"]) for e in events] == [
        ("+919876543210", "failed", final.event.event_id)
    ]


def test_an_event_that_fails_to_publish_is_published_when_its_window_is_retried(
    processors: Processors, aws_calls: AwsCalls
) -> None:
    # Given EventBridge fails when the stored outcome's window first publishes it
    final = outcome("completed", 35)
    aws_calls.fail_next("PutEvents", "InternalException")

    # When the record is processed (stored at once), and redelivered twice
    assert processors.process(final) == []
    assert processors.process(final, final) == []

    # Then the event went out exactly once, and the number counted once
    assert len(published(aws_calls, "CallScheduleCompleted")) == 1
    assert processors.campaign()["numbers"] == {"total": 1, "by_status": {"completed": 1}}


def test_final_campaign_status_requests_the_report_and_announces_completion(
    stack: Deployment, processors: Processors, aws_calls: AwsCalls
) -> None:
    url = "https://s3.amazonaws.com/exotel/camp_1.csv?X-Amz-Signature=secret"
    processors.process(campaign_status("InProgress", 0), campaign_status("Completed", 30, url))
    processors.process(campaign_status("Completed", 30, url))  # Exotel retried

    report_requests = [
        json.loads(call["MessageBody"])
        for call in aws_calls.of("SendMessage")
        if call["QueueUrl"] == stack.physical_id("ReportQueue")
    ]
    assert [(r["campaign_sid"], r["report_url"]) for r in report_requests] == [("camp_1", url)]
    completed = published(aws_calls, "CampaignCompleted")
    assert [(e["status"], e["report_host"]) for e in completed] == [
        ("Completed", "s3.amazonaws.com")
    ]
    assert "X-Amz-Signature" not in json.dumps(completed)  # a pre-signed URL is a credential
    summary = processors.campaign()
    assert (summary["status"], summary["report"]) == ("Completed", {"status": "pending"})


def test_non_final_statuses_are_stored_without_follow_ups(
    processors: Processors, aws_calls: AwsCalls
) -> None:
    processors.process(campaign_status("Paused", 5), campaign_status("InProgress", 1))

    assert processors.campaign()["status"] == "Paused"
    assert aws_calls.of("PutEvents") == []


# ----------------------------------------------------------------------------- access patterns
def test_campaigns_by_status_and_date(stack: Deployment, processors: Processors) -> None:
    processors.process(campaign_status("Completed", 30))

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    found = dynamodb.query(
        TableName=stack.physical_id("CampaignTable"),
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :status",
        ExpressionAttributeValues={":status": {"S": "CAMPAIGN_STATUS#Completed"}},
        ScanIndexForward=False,
    )["Items"]
    assert [item["campaign_sid"]["S"] for item in found] == ["camp_1"]


def test_a_numbers_items_across_campaigns(stack: Deployment, processors: Processors) -> None:
    processors.process(outcome("failed", 35, sid="camp_1"), outcome("completed", 40, sid="camp_2"))

    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    found = sorted(table.number_items("+919876543210"), key=lambda item: item["campaign_sid"])
    assert [(i["campaign_sid"], i["status"]) for i in found] == [
        ("camp_1", "failed"),
        ("camp_2", "completed"),
    ]


# ----------------------------------------------------------------------------- read API
def test_read_api_shapes(processors: Processors) -> None:
    processors.process(
        attempt("busy", 5, "call_1"),
        attempt("completed", 15, "call_2"),
        outcome("completed", 20),
        campaign_status("Completed", 30),
    )

    assert processors.campaign() == {
        "campaign_sid": "camp_1",
        "status": "Completed",
        "date_created": None,
        "date_updated": "2024-01-15T10:30:00+05:30",
        "attempts": {"total": 2, "by_status": {"busy": 1, "completed": 1}},
        "numbers": {"total": 1, "by_status": {"completed": 1}},
        "report": None,
        "reconciliation": None,
        "sweep": None,
        "cost": None,  # no attempt has Exotel's call details (CallDetails off)
        # these callbacks arrived in 2024: not heard now (a running campaign's silence counts
        # from callbacks Exotel sent lately, tests/stack/test_silence.py)
        "last_callback_at": None,
        "silent_since": None,
    }
    status, number = processors.get("/campaigns/camp_1/numbers/09876543210")
    assert status == 200
    assert number == {
        "campaign_sid": "camp_1",
        "number": "+919876543210",
        "status": "completed",
        "from": "+918047104890",
        "call_sids": ["call_1"],
        "attempts": [
            {
                "call_sid": "call_1",
                "status": "busy",
                "date_created": "2024-01-15T09:00:00+05:30",
                "date_updated": "2024-01-15T09:05:00+05:30",
                "source": "callback",
                "details": None,
                "recording_url": None,
            },
            {
                "call_sid": "call_2",
                "status": "completed",
                "date_created": "2024-01-15T09:00:00+05:30",
                "date_updated": "2024-01-15T09:15:00+05:30",
                "source": "callback",
                "details": None,
                "recording_url": None,
            },
        ],
        "source": "callback",
    }
    status, calls = processors.get("/campaigns/camp_1/calls", "status=Completed")
    assert status == 200
    assert calls == {
        "items": [
            {
                "call_sid": "call_2",
                "number": "+919876543210",
                "status": "completed",
                "date_created": "2024-01-15T09:00:00+05:30",
                "date_updated": "2024-01-15T09:15:00+05:30",
            }
        ],
        "next_token": None,
    }


def test_pages_cover_every_call_once(processors: Processors) -> None:
    processors.process(*(attempt("busy", i, f"call_{i:02d}") for i in range(7)))

    seen: list[str] = []
    query = "limit=3"
    while True:
        _, page = processors.get("/campaigns/camp_1/calls", query)
        seen += [item["call_sid"] for item in page["items"]]
        if not page["next_token"]:
            break
        query = f"limit=3&next_token={page['next_token']}"
    assert sorted(seen) == [f"call_{i:02d}" for i in range(7)]  # once each, in shard order


def test_a_token_cannot_be_used_to_read_another_campaign(processors: Processors) -> None:
    processors.process(*(attempt("busy", i, f"call_{i}") for i in range(3)))
    processors.process(
        message(
            CallbackType.CALL_STATUS,
            {"campaign_sid": "camp_2", "call_sid": "x", "number": "1", "status": "busy"},
        )
    )
    _, page = processors.get("/campaigns/camp_1/calls", "limit=1")

    status, body = processors.get("/campaigns/camp_2/calls", f"next_token={page['next_token']}")

    assert status == 400
    assert "another query" in body["message"]


@pytest.mark.parametrize(
    "path", ["/campaigns/nope", "/campaigns/nope/calls", "/campaigns/nope/numbers/09876543210"]
)
def test_unknown_campaigns_are_404_on_every_route(processors: Processors, path: str) -> None:
    status, body = processors.get(path)
    assert (status, body) == (404, {"message": "no campaign nope"})


def forged(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "limit=0", "limit=101", "limit=ten", "limit=%C2%B2", "limit=%EF%BC%95",
        "next_token=%%%", "status=%19", "status=%20-",
        f"next_token={forged({'PK': {'S': 'CAMPAIGN#camp_1'}})}",
        f"next_token={forged({'PK': {'S': 'CAMPAIGN#camp_1'}, 'SK': {'N': '1'}})}",
        f"next_token={forged({'PK': {'S': 'CAMPAIGN#camp_1'}, 'SK': {'S': 'NUMBER#1'}})}",
        f"status=busy&next_token={forged({'PK': {'S': 'CAMPAIGN#camp_1'}, 'SK': {'S': 'x'}})}",
        f"next_token={forged([1, 2])}", f"next_token={forged('text')}",
    ],
)  # fmt: skip
def test_bad_parameters_are_400(processors: Processors, query: str) -> None:
    processors.process(attempt("busy", 5))
    status, body = processors.get("/campaigns/camp_1/calls", query)
    assert status == 400, body
    assert body["message"]


def test_a_truncated_token_is_400(processors: Processors) -> None:
    processors.process(*(attempt("busy", i, f"call_{i}") for i in range(3)))
    _, page = processors.get("/campaigns/camp_1/calls", "limit=1")
    for cut in range(1, len(page["next_token"])):
        status, _ = processors.get(
            "/campaigns/camp_1/calls", f"next_token={page['next_token'][:cut]}"
        )
        assert status == 400


def test_with_a_data_retention_every_item_of_a_campaign_expires(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given processors deployed with DataRetentionDays = 30
    handlers = {
        kind: load_function(name, DATA_RETENTION_DAYS="30") for kind, name in PROCESSORS.items()
    }

    # When a campaign's attempt, outcome and status are stored
    for sent in (attempt("busy", 1), outcome("busy", 30), campaign_status("Completed", 5)):
        record = {"MessageId": "m", "ReceiptHandle": "r", "Body": sent.body}
        handlers[sent.callback_type](sqs_event("arn:queue", [record]))
    LedgerStream(stack, load_function("LedgerStreamFunction")).settle()

    # Then every item of the campaign carries its expiry, but its counters: they leave with the
    # last item they count (tests/stack/test_doors.py)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    items = dynamodb.scan(
        TableName=stack.physical_id("CampaignTable"),
        FilterExpression="begins_with(PK, :pk)",
        ExpressionAttributeValues={":pk": {"S": "CAMPAIGN#camp_1"}},
    )["Items"]
    kinds = {item["SK"]["S"].strip("#").split("#")[0] for item in items}
    assert kinds == {"SUMMARY", "COUNTER", "ATTEMPT", "OUTCOME"}
    counters = [item for item in items if item["SK"]["S"].startswith("#COUNTER#")]
    assert all("expires_at" in item for item in items if item not in counters)
    assert counters
    assert not any("expires_at" in item for item in counters)
