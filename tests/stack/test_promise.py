"""The product's promise, case by case: a 200 `accepted` ends in the ledger (visible through the
read API), a 200 `quarantined` is in the quarantine with its reason, and no dead-letter queue
ever receives a message. Each case here was once answered `accepted` and then lost or frozen."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from localaws.emulation import Deployment
from tests.stack.test_faults import waiting_event_ids
from tests.support.events import load_event, with_token
from tests.support.pipeline import Pipeline
from tests.support.report_server import ReportServer, Route
from tests.support.stack import arrived_now, quarantined_objects

pytestmark = pytest.mark.enable_socket  # the report host is served on loopback

CALL = {
    "campaign_sid": "camp_promise",
    "call_sid": "call_1",
    "number": "+919800000001",
    "status": "completed",
    "date_updated": "2026-11-26T09:05:00+05:30",
}
OUTCOME = {
    "campaign_sid": "camp_promise",
    "to": "+919800000001",
    "status": "completed",
    "call_sids": ["call_1"],
    "date_updated": "2026-11-26T09:30:00+05:30",
}
CAMPAIGN = {
    "campaign_sid": "camp_promise",
    "status": "Completed",
    "date_updated": "2026-11-26T10:00:00+05:30",
}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


UNSTORABLE: dict[str, tuple[str, str, str]] = {
    # name: (route, body, what the reason says); a body that is not JSON is form-encoded
    "status over 256 bytes": (
        "call-status",
        json.dumps({**CALL, "status": "x" * 300}),
        "status: longer than 256 bytes",
    ),
    "lone surrogate in a known field": (
        "call-status",
        json.dumps({**CALL, "call_sid": "call_\udfff"}),
        "call_sid: not valid Unicode",
    ),
    "lone surrogate in an extra field": (
        "call-status",
        json.dumps({**CALL, "custom_field": "\udfff"}),
        "not valid Unicode",
    ),
    "extra field nested 300 deep": (
        "call-status",
        json.dumps(CALL)[:-1] + ', "custom_field": ' + nested(300) + "}",
        "nested deeper than 32 levels",
    ),
    "body nested 9,996 deep": (
        "call-status",
        json.dumps(CALL)[:-1] + ', "custom_field": ' + nested(9_996) + "}",
        "nested",  # the JSON decoder or the nesting check refuses it, as the stack allows
    ),
    "an integer of 5,000 digits": (
        "call-status",
        json.dumps(CALL)[:-1] + ', "duration": ' + "9" * 5_000 + "}",
        "not usable JSON",
    ),
    "date_updated past year 9999 in UTC": (
        "call-status",
        json.dumps({**CALL, "date_updated": "9999-12-31T23:59:59-05:00"}),
        "implausible date_updated",
    ),
    "date_updated in year 1": (
        "call-status",
        json.dumps({**CALL, "date_updated": "0001-01-01 00:00:00"}),
        "implausible date_updated",
    ),
    "date_updated before 2000": (
        "call-schedule",
        json.dumps({**OUTCOME, "date_updated": "0999-06-01T00:00:00Z"}),
        "implausible date_updated",
    ),
    "date_updated far in the future": (
        "campaign-status",
        json.dumps({**CAMPAIGN, "date_updated": "2999-01-01 00:00:00"}),
        "implausible date_updated",
    ),
    "extra field over an item once escaped": (
        "call-status",
        json.dumps({**CALL, "custom_field": "\u00e9" * 70_000}, ensure_ascii=False),
        "too large to store",
    ),
    "form body of control characters": (
        "call-status",
        urlencode({**CALL, "custom_field": "\x01" * 60_000}),
        "too large to store",
    ),
    "NaN in an extra field": (
        "call-status",
        json.dumps(CALL)[:-1] + ', "duration": NaN}',
        "NaN or Infinity",
    ),
    "campaign SID with the key separator": (
        "call-status",
        json.dumps({**CALL, "campaign_sid": "camp#promise"}),
        "campaign_sid: contains '#'",
    ),
    "call SID with the key separator": (
        "call-status",
        json.dumps({**CALL, "call_sid": "call_1#OUTCOME"}),
        "call_sid: contains '#'",
    ),
    "number with the key separator": (
        "call-schedule",
        json.dumps({**OUTCOME, "to": "0XXXXXX4890#"}),
        "to: contains '#'",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSTORABLE))
def test_what_cannot_be_stored_is_quarantined_with_its_reason(
    pipeline: Pipeline, stack: Deployment, case: str
) -> None:
    # Given an authenticated callback that no processor or table could store
    route, body, reason = UNSTORABLE[case]

    # When it is received and every queue is consumed
    form = "application/x-www-form-urlencoded"
    status, answer = pipeline.send(
        route, body, content_type=form if "=" in body[:20] else "application/json"
    )
    pipeline.drain()

    # Then it is quarantined with its reason, kept in the quarantine, and nothing dead-letters
    assert status == 200, answer
    assert answer["status"] == "quarantined", answer
    assert reason in answer["reason"]
    assert any(
        record["event_id"] == answer["event_id"] for record in quarantined_objects(stack).values()
    )
    assert waiting_event_ids(stack) == set()


def test_the_largest_storable_callback_is_stored(pipeline: Pipeline, stack: Deployment) -> None:
    # Given a callback whose extra fields come close to the storable size
    body = json.dumps({**CALL, "custom_field": "a" * 250_000})

    # When it is received (with a raised body limit) and processed
    status, answer = pipeline.send("call-status", body)
    pipeline.drain()

    # Then it is accepted and visible through the read API, and nothing dead-letters
    assert (status, answer["status"]) == (200, "accepted")
    calls = pipeline.get("/campaigns/camp_promise/calls")["items"]
    assert [call["status"] for call in calls] == ["completed"]
    assert waiting_event_ids(stack) == set()


def test_an_unparseable_report_url_records_the_report_as_failed(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a final campaign status whose report URL can never be parsed
    body = json.dumps({**CAMPAIGN, "report_url": "https://[reports.exotel.com/r.csv"})

    # When it is received and processed
    status, answer = pipeline.send("campaign-status", body)
    pipeline.drain()

    # Then the campaign is final, its report is failed with the reason, nothing dead-letters
    assert (status, answer["status"]) == (200, "accepted")
    campaign = pipeline.get("/campaigns/camp_promise")
    assert campaign["status"] == "Completed"
    assert campaign["report"]["status"] == "failed"
    assert "cannot be parsed" in campaign["report"]["error"]
    assert waiting_event_ids(stack) == set()


def statuses(pipeline: Pipeline) -> dict[str, Any]:
    campaign = pipeline.get("/campaigns/camp_promise")
    return {"attempts": campaign["attempts"], "numbers": campaign["numbers"]}


def test_updates_in_the_same_second_resolve_to_the_final_status(pipeline: Pipeline) -> None:
    # Given two updates of one call stamped with the same second, in both delivery orders
    for order in (("completed", "in-progress"), ("in-progress", "completed")):
        for status in order:
            pipeline.send("call-status", json.dumps({**CALL, "status": status}))
        pipeline.drain()

        # Then the final status wins, whichever came first
        calls = pipeline.get("/campaigns/camp_promise/calls")["items"]
        assert [call["status"] for call in calls] == ["completed"]


def test_masked_numbers_of_different_subscribers_are_never_merged(pipeline: Pipeline) -> None:
    # Given two subscribers, each sent as the same masked number, with their own calls (the
    # second one called twice)
    for calls, status in ((["call_a"], "completed"), (["call_b", "call_b2"], "failed")):
        for call in calls:
            attempt = {**CALL, "number": "0XXXXXX4890", "call_sid": call, "status": "busy"}
            pipeline.send("call-status", json.dumps(attempt))
        outcome = {**OUTCOME, "to": "0XXXXXX4890", "call_sids": calls, "status": status}
        pipeline.send("call-schedule", json.dumps(outcome))
    pipeline.drain()

    # Then the campaign counts two numbers, and each is readable under its own key
    assert statuses(pipeline)["numbers"] == {
        "total": 2,
        "by_status": {"completed": 1, "failed": 1},
    }
    number = pipeline.get(f"/campaigns/camp_promise/numbers/{quote('0XXXXXX4890@call_b')}")
    assert (number["status"], number["call_sids"]) == ("failed", ["call_b", "call_b2"])
    # And its view lists both of its attempts, though each is keyed by its own call SID
    assert [attempt["call_sid"] for attempt in number["attempts"]] == ["call_b", "call_b2"]


def test_counts_are_exact_when_the_report_is_reconciled_before_the_callbacks(
    pipeline: Pipeline, stack: Deployment, report_server: ReportServer
) -> None:
    # Given a report of three numbers and three rows nobody can read (a status of "-", a masked
    # number, a field over the CSV module's limit)
    giant = "x" * 200_000
    report_server.routes["/late.csv"] = Route(
        body=(
            "Number,Status,Notes\n"
            "+919800000001,completed,\n"
            "+919800000002,failed,\n"
            "+919800000003,busy,\n"
            "+919800000004,-,\n"
            "0XXXXXX4890,completed,\n"
            f'+919800000005,completed,"{giant}"\n'
        ).encode()
    )
    campaign = {**CAMPAIGN, "report_url": report_server.url("/late.csv")}

    # When the final status and its report are processed before any call schedule callback
    pipeline.send("campaign-status", json.dumps(campaign))
    pipeline.drain()
    backfilled = pipeline.get("/campaigns/camp_promise")["reconciliation"]

    # And the callbacks come after: one agrees, one disagrees, one carries no date at all
    for number, status in ((1, "completed"), (2, "busy")):
        outcome = {**OUTCOME, "to": f"+91980000000{number}", "status": status}
        pipeline.send("call-schedule", json.dumps(outcome))
    undated = {key: value for key, value in OUTCOME.items() if key != "date_updated"}
    pipeline.send("call-schedule", json.dumps({**undated, "to": "+919800000003"}))
    pipeline.drain()

    # Then the report first backfilled the three, and every callback replaced its backfill,
    # moving the counts in the same write: they equal the truth whatever the order
    assert backfilled == {
        "source": "report", "report_rows": 6, "matched": 0, "backfilled": 3, "mismatched": 0,
        "unparseable": 3,
    }  # fmt: skip
    summary = pipeline.get("/campaigns/camp_promise")
    assert summary["reconciliation"] == {
        "source": "report", "report_rows": 6, "matched": 1, "backfilled": 0, "mismatched": 2,
        "unparseable": 3,
    }  # fmt: skip
    assert summary["numbers"] == {"total": 3, "by_status": {"busy": 1, "completed": 2}}
    undated_number = pipeline.get(f"/campaigns/camp_promise/numbers/{quote('+919800000003')}")
    assert (undated_number["source"], undated_number["status"]) == ("callback", "completed")
    assert waiting_event_ids(stack) == set()


def test_a_request_with_a_lone_surrogate_in_a_header_is_still_quarantined(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given an unusable request whose headers hold text that is not valid Unicode
    event = arrived_now(with_token(load_event("receiver/call-status.json")))
    event["headers"] = {**event["headers"], "x-odd": "\udc80"}
    event["body"] = "{}"

    # When it is received
    response = pipeline.invoke("ReceiverFunction", event)

    # Then it is quarantined (the header escaped in the stored copy), not a 500
    answer = json.loads(response["body"])
    assert (response["statusCode"], answer["status"]) == (200, "quarantined")
    [stored] = [
        r for r in quarantined_objects(stack).values() if r["event_id"] == answer["event_id"]
    ]
    assert stored["request"]["headers"]["x-odd"] == "\udc80"
