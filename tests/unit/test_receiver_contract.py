"""The webhook contract (docs/architecture.md, "The webhook contract"), row by row, on the
receiver wired to in-memory fakes of its ports (tests/support/fakes.py), for each ingress: every
request as the HTTP API delivers it and as the receiver's function URL does. The same receiver
on the stack deployed from the template: tests/stack/test_receiver_contract.py."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from exotel_webhooks.intake.receive import UNEXPECTED_ERROR_REASON
from exotel_webhooks.observability import metrics
from tests.support.events import (
    ROTATED_TOKEN,
    TOKEN,
    as_function_url,
    body_of,
    load_event,
    with_token,
)
from tests.support.fakes import QUEUE_OF, Intake

type Receive = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def intake() -> Iterator[Intake]:
    yield Intake()
    metrics.clear_metrics()  # what a Lambda invocation's flush would do


@pytest.fixture(params=["HttpApi", "FunctionUrl"])
def receiver(intake: Intake, request: pytest.FixtureRequest) -> Receive:
    receive = intake.receiver()
    if request.param == "HttpApi":
        return receive
    return lambda event: receive(as_function_url(event))


def assert_queues_empty(intake: Intake) -> None:
    for queue in QUEUE_OF:
        assert intake.queued_messages(queue) == []


def assert_nothing_stored(intake: Intake) -> None:
    assert_queues_empty(intake)
    assert intake.quarantined_objects() == {}


def test_form_encoded_call_status_is_normalised(intake: Intake, receiver: Receive) -> None:
    # Given a form-encoded callback with a national number and zone-less timestamps
    event = with_token(load_event("receiver/call-status-form.json"))

    # When it is received
    receiver(event)

    # Then the queued callback has E.164, the raw number, IST offsets and unknown fields kept
    callback = json.loads(intake.queued_messages("CallStatusQueue")[0]["Body"])["callback"]
    assert callback == {
        "campaign_sid": "camp_abc123",
        "call_sid": "call_ghi789",
        "number": "+919876543210",
        "number_raw": "09876543210",
        "status": "busy",
        "date_created": "2024-01-15T09:15:00+05:30",
        "date_updated": "2024-01-15T09:15:21+05:30",
        "extra": {"duration": "0"},
    }


def test_pascal_case_fields_and_spelling_variants_are_understood(
    intake: Intake, receiver: Receive
) -> None:
    # Given a PascalCase callback saying "No Answer"
    event = with_token(load_event("receiver/call-status-pascal-case.json"))

    # When it is received
    receiver(event)

    # Then the names and the status are normalised and unknown fields keep their names
    callback = json.loads(intake.queued_messages("CallStatusQueue")[0]["Body"])["callback"]
    assert callback["call_sid"] == "call_jkl012"
    assert callback["status"] == "no-answer"
    assert callback["number"] == "+919876543210"
    assert callback["extra"] == {"RecordingUrl": None, "Direction": "outbound-api"}


def test_indexed_form_lists_keep_their_index_order(intake: Intake, receiver: Receive) -> None:
    # Given call_sids sent as CallSids[1] before CallSids[0]
    event = with_token(load_event("receiver/call-schedule-form-indexed.json"))

    # When it is received
    receiver(event)

    # Then the list is in index order and the ExoPhone is in E.164
    callback = json.loads(intake.queued_messages("CallScheduleQueue")[0]["Body"])["callback"]
    assert callback["call_sids"] == ["call_pqr678", "call_mno345"]
    assert callback["from"] == "+918047104890"
    assert callback["status"] == "completed"


def test_the_same_callback_twice_gets_the_same_event_id(receiver: Receive) -> None:
    # Given one callback delivered twice, and the same values in another encoding
    json_event = with_token(load_event("receiver/campaign-status.json"))
    form_event = with_token(load_event("receiver/campaign-status-form.json"))

    # When all three are received
    ids = {body_of(receiver(event))["event_id"] for event in (json_event, json_event, form_event)}

    # Then they share one event_id
    assert len(ids) == 1


@pytest.mark.parametrize("event_file", ["no-secret.json", "wrong-secret.json"])
def test_missing_or_wrong_secret_gets_401_and_nothing_is_stored(
    intake: Intake, receiver: Receive, event_file: str
) -> None:
    # Given a request without the right token
    event = load_event(f"receiver/{event_file}")

    # When it is received
    response = receiver(event)

    # Then it is refused with a message, and nothing is queued or quarantined
    assert response["statusCode"] == 401
    assert "message" in body_of(response)
    assert_nothing_stored(intake)


def test_unauthenticated_garbage_is_refused_not_quarantined(
    intake: Intake, receiver: Receive
) -> None:
    # Given an unusable body without a token
    event = load_event("receiver/malformed-json.json")
    event = {**event, "rawQueryString": "", "queryStringParameters": None}

    # When it is received
    response = receiver(event)

    # Then nothing is stored: the quarantine is for authenticated senders only
    assert response["statusCode"] == 401
    assert_nothing_stored(intake)


def test_basic_auth_password_is_the_secret_whatever_the_user_name(
    intake: Intake, receiver: Receive
) -> None:
    # Given the token as the password of HTTP Basic auth, under two user names
    event = load_event("receiver/call-status-basic-auth.json")
    other_user = {
        **event,
        "headers": {
            **event["headers"],
            "authorization": "Basic " + base64.b64encode(f"anyone:{TOKEN}".encode()).decode(),
        },
    }
    wrong_password = {
        **event,
        "headers": {
            **event["headers"],
            "authorization": "Basic " + base64.b64encode(b"x:y").decode(),
        },
    }

    # When they are received
    responses = [receiver(e) for e in (other_user, wrong_password)]

    # Then the right password is accepted under any user name, a wrong one refused
    assert [r["statusCode"] for r in responses] == [200, 401]
    assert len(intake.queued_messages("CallStatusQueue")) == 1


def test_both_tokens_are_valid_during_a_rotation(receiver: Receive) -> None:
    # Given a secret holding the new token beside the previous one
    event = load_event("receiver/call-status.json")

    # When requests carry either of them, or neither
    statuses = [
        receiver(with_token(event, token))["statusCode"]
        for token in (TOKEN, ROTATED_TOKEN, "test-token-retired")
    ]

    # Then both are accepted and anything else is refused
    assert statuses == [200, 200, 401]


def test_oversized_body_gets_413_and_nothing_is_stored(intake: Intake, receiver: Receive) -> None:
    # Given a callback of 300 KiB against the default 256 KiB limit
    event = with_token(load_event("receiver/oversized.json"))

    # When it is received
    response = receiver(event)

    # Then it is refused as too large
    assert response["statusCode"] == 413
    assert "262144" in body_of(response)["message"]
    assert_nothing_stored(intake)


@pytest.mark.parametrize(
    ("event_file", "reason"),
    [
        ("malformed-json.json", "body is not valid JSON"),
        ("missing-call-sid.json", "missing call_sid"),
        ("unparseable-timestamp.json", "date_updated: unrecognised timestamp"),
    ],
)
def test_unusable_request_is_quarantined_with_its_reason(
    intake: Intake, receiver: Receive, event_file: str, reason: str
) -> None:
    # Given an authenticated request whose content cannot be used
    event = with_token(load_event(f"receiver/{event_file}"))

    # When it is received
    response = receiver(event)

    # Then Exotel gets 200 (no pointless retries) and the raw request is kept with the reason
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "quarantined"
    assert body["reason"].startswith(reason)
    objects = intake.quarantined_objects()
    assert list(objects) == [f"quarantine/call-status/2024/01/15/{body['event_id']}.json"]
    record = next(iter(objects.values()))
    assert record["reason"] == body["reason"]
    assert record["request"]["body"] == event["body"]
    assert record["request"]["source_ip"] == "203.0.113.10"
    assert_queues_empty(intake)


def test_quarantine_never_keeps_the_secret(intake: Intake, receiver: Receive) -> None:
    # Given an unusable request carrying the token both as ?token= and as Basic auth
    event = with_token(load_event("receiver/malformed-json.json"))
    basic = "Basic " + base64.b64encode(f"exotel:{TOKEN}".encode()).decode()
    event["headers"] = {**event["headers"], "authorization": basic}
    event["rawQueryString"] = f"token={TOKEN}&campaign=spring"

    # When it is quarantined
    receiver(event)

    # Then the stored request has neither, but keeps everything else
    stored = next(iter(intake.quarantined_objects().values()))
    assert TOKEN not in json.dumps(stored)
    assert "authorization" not in stored["request"]["headers"]
    assert stored["request"]["query"] == {"campaign": ["spring"]}


def test_the_same_unusable_request_twice_is_quarantined_once(
    intake: Intake, receiver: Receive
) -> None:
    # Given one unusable request delivered twice (Exotel retried)
    event = with_token(load_event("receiver/missing-call-sid.json"))

    # When both are received
    first, second = receiver(event), receiver(event)

    # Then they share the event_id and one quarantine object
    assert body_of(first)["event_id"] == body_of(second)["event_id"]
    assert len(intake.quarantined_objects()) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/webhooks/exotel/unknown-callback", 404),
        ("POST", "/elsewhere", 404),
        ("GET", "/webhooks/exotel/call-status", 405),
    ],
)
def test_other_routes_and_methods_are_answered_plainly(
    receiver: Receive, method: str, path: str, status: int
) -> None:
    # Given a request to something that is not a webhook route
    event = with_token(load_event("receiver/call-status.json"))
    event.update(routeKey=f"{method} {path}", rawPath=path)

    # When it is received, Then it gets a JSON error and no crash
    response = receiver(event)
    assert response["statusCode"] == status
    assert "message" in body_of(response)


def test_body_mislabelled_as_base64_is_quarantined_as_sent(
    intake: Intake, receiver: Receive
) -> None:
    # Given a hand-made event whose body is flagged base64 but is plain text
    event = with_token(load_event("receiver/call-status.json"))
    event["isBase64Encoded"] = True
    event["body"] = "campaign_sid=camp_abc123&status=!!"

    # When it is received
    response = receiver(event)

    # Then it is not lost: it is quarantined (no call_sid) with the text as sent
    assert body_of(response)["status"] == "quarantined"
    stored = next(iter(intake.quarantined_objects().values()))
    assert stored["request"]["body"] == event["body"]


def test_a_receiver_bug_quarantines_the_request_instead_of_losing_it(
    intake: Intake, receiver: Receive, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given normalisation that crashes on some input nobody foresaw
    def crash(*_: object) -> None:
        raise RecursionError("unforeseen")

    monkeypatch.setattr("exotel_webhooks.intake.receive.build_callback", crash)
    event = with_token(load_event("receiver/call-status.json"))

    # When a callback arrives
    response = receiver(event)

    # Then Exotel gets 200 and the request is kept for replay after the fix
    assert response["statusCode"] == 200
    assert body_of(response)["status"] == "quarantined"
    stored = next(iter(intake.quarantined_objects().values()))
    assert stored["reason"] == UNEXPECTED_ERROR_REASON
    assert json.loads(stored["request"]["body"])["call_sid"] == "call_def456"


@pytest.mark.parametrize(
    ("broken", "event_file"),
    [
        ("queues", "call-status.json"),  # a valid callback cannot be queued
        ("quarantine", "malformed-json.json"),  # an unusable one cannot be quarantined
        ("secrets", "call-status.json"),  # the token cannot be checked
    ],
)
def test_storage_unavailable_gets_503_so_exotel_retries(
    intake: Intake, receiver: Receive, broken: str, event_file: str
) -> None:
    # Given one of the receiver's ports failing
    if broken == "secrets":
        intake.secrets.readable = False
    else:
        getattr(intake, broken).reachable = False

    # When a request arrives
    response = receiver(with_token(load_event(f"receiver/{event_file}")))

    # Then the sender is told to try again, and nothing is stored
    assert response["statusCode"] == 503
    assert "message" in body_of(response)
    assert_nothing_stored(intake)


def test_an_accepted_webhook_adds_no_custom_metric_sqs_counts_it_free(
    intake: Intake, receiver: Receive
) -> None:
    # Given a valid webhook (the millions): AWS/SQS NumberOfMessagesSent on its type's queue
    # already counts it, at no charge; a metrics document would add about 300 bytes of log
    response = receiver(with_token(load_event("receiver/call-status.json")))
    assert body_of(response)["status"] == "accepted"

    # Then the receiver has recorded no metric for it
    assert metrics.metric_set == {}


def test_a_quarantined_webhook_is_counted_by_type(intake: Intake, receiver: Receive) -> None:
    # Given an authenticated request that cannot be used (rare: its metric costs only then)
    event = with_token(load_event("receiver/call-status.json"))
    event["body"] = "not a callback"
    event["isBase64Encoded"] = False
    response = receiver(event)
    assert body_of(response)["status"] == "quarantined"

    # Then it is counted, by its callback type
    assert "WebhooksQuarantined" in metrics.metric_set
    assert metrics.dimension_set.get("callback_type") == "call-status"
