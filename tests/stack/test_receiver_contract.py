"""The webhook contract (docs/architecture.md, "The webhook contract"), row by row, on the stack
deployed from the template."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime

import boto3
import pytest

from exotel_webhooks.intake.receive import UNEXPECTED_ERROR_REASON
from localaws.emulation import REGION, Deployment
from localaws.template import PROJECT_ROOT
from tests.support.stack import (
    ROTATED_TOKEN,
    TOKEN,
    AwsCalls,
    Invoke,
    LoadFunction,
    body_of,
    load_event,
    quarantined_objects,
    queued_messages,
    with_token,
)

QUEUES = ("CallStatusQueue", "CallScheduleQueue", "CampaignStatusQueue")


def assert_queues_empty(stack: Deployment) -> None:
    for queue in QUEUES:
        assert queued_messages(stack, queue) == []


def assert_nothing_stored(stack: Deployment) -> None:
    assert_queues_empty(stack)
    assert quarantined_objects(stack) == {}


@pytest.mark.parametrize(
    ("event_file", "queue"),
    [
        ("call-status.json", "CallStatusQueue"),
        ("call-status-form.json", "CallStatusQueue"),
        ("call-schedule.json", "CallScheduleQueue"),
        ("call-schedule-form.json", "CallScheduleQueue"),
        ("campaign-status.json", "CampaignStatusQueue"),
        ("campaign-status-form.json", "CampaignStatusQueue"),
    ],
)
def test_valid_callback_is_accepted_and_queued_on_its_own_queue(
    stack: Deployment, receiver: Invoke, event_file: str, queue: str
) -> None:
    # Given a valid callback with the right token
    event = with_token(load_event(f"receiver/{event_file}"))

    # When it is received
    response = receiver(event)

    # Then it is accepted, and exactly one message is on its type's queue and none elsewhere
    assert response["statusCode"] == 200
    assert body_of(response)["status"] == "accepted"
    messages = queued_messages(stack, queue)
    assert len(messages) == 1
    queued = json.loads(messages[0]["Body"])
    assert queued["event_id"] == body_of(response)["event_id"]
    assert queued["callback_type"] == event["rawPath"].rsplit("/", 1)[1]
    assert queued["received_at"] == "2024-01-15T03:35:47+00:00"  # API Gateway's timeEpoch
    for other in set(QUEUES) - {queue}:
        assert queued_messages(stack, other) == []


def test_form_encoded_call_status_is_normalised(stack: Deployment, receiver: Invoke) -> None:
    # Given a form-encoded callback with a national number and zone-less timestamps
    event = with_token(load_event("receiver/call-status-form.json"))

    # When it is received
    receiver(event)

    # Then the queued callback has E.164, the raw number, IST offsets and unknown fields kept
    callback = json.loads(queued_messages(stack, "CallStatusQueue")[0]["Body"])["callback"]
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
    stack: Deployment, receiver: Invoke
) -> None:
    # Given a PascalCase callback saying "No Answer"
    event = with_token(load_event("receiver/call-status-pascal-case.json"))

    # When it is received
    receiver(event)

    # Then the names and the status are normalised and unknown fields keep their names
    callback = json.loads(queued_messages(stack, "CallStatusQueue")[0]["Body"])["callback"]
    assert callback["call_sid"] == "call_jkl012"
    assert callback["status"] == "no-answer"
    assert callback["number"] == "+919876543210"
    assert callback["extra"] == {"RecordingUrl": None, "Direction": "outbound-api"}


def test_indexed_form_lists_keep_their_index_order(stack: Deployment, receiver: Invoke) -> None:
    # Given call_sids sent as CallSids[1] before CallSids[0]
    event = with_token(load_event("receiver/call-schedule-form-indexed.json"))

    # When it is received
    receiver(event)

    # Then the list is in index order and the ExoPhone is in E.164
    callback = json.loads(queued_messages(stack, "CallScheduleQueue")[0]["Body"])["callback"]
    assert callback["call_sids"] == ["call_pqr678", "call_mno345"]
    assert callback["from"] == "+918047104890"
    assert callback["status"] == "completed"


def test_the_same_callback_twice_gets_the_same_event_id(receiver: Invoke) -> None:
    # Given one callback delivered twice, and the same values in another encoding
    json_event = with_token(load_event("receiver/campaign-status.json"))
    form_event = with_token(load_event("receiver/campaign-status-form.json"))

    # When all three are received
    ids = {body_of(receiver(event))["event_id"] for event in (json_event, json_event, form_event)}

    # Then they share one event_id
    assert len(ids) == 1


@pytest.mark.parametrize("event_file", ["no-secret.json", "wrong-secret.json"])
def test_missing_or_wrong_secret_gets_401_and_nothing_is_stored(
    stack: Deployment, receiver: Invoke, event_file: str
) -> None:
    # Given a request without the right token
    event = load_event(f"receiver/{event_file}")

    # When it is received
    response = receiver(event)

    # Then it is refused with a message, and nothing is queued or quarantined
    assert response["statusCode"] == 401
    assert "message" in body_of(response)
    assert_nothing_stored(stack)


def test_unauthenticated_garbage_is_refused_not_quarantined(
    stack: Deployment, receiver: Invoke
) -> None:
    # Given an unusable body without a token
    event = load_event("receiver/malformed-json.json")
    event = {**event, "rawQueryString": "", "queryStringParameters": None}

    # When it is received
    response = receiver(event)

    # Then nothing is stored: the quarantine is for authenticated senders only
    assert response["statusCode"] == 401
    assert_nothing_stored(stack)


def test_basic_auth_password_is_the_secret_whatever_the_user_name(
    stack: Deployment, receiver: Invoke
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
    assert len(queued_messages(stack, "CallStatusQueue")) == 1


def test_both_tokens_are_valid_during_a_rotation(receiver: Invoke) -> None:
    # Given a secret holding the new token beside the previous one
    event = load_event("receiver/call-status.json")

    # When requests carry either of them, or neither
    statuses = [
        receiver(with_token(event, token))["statusCode"]
        for token in (TOKEN, ROTATED_TOKEN, "test-token-retired")
    ]

    # Then both are accepted and anything else is refused
    assert statuses == [200, 200, 401]


def test_secret_is_fetched_once_per_container_not_per_request(
    load_function: LoadFunction, aws_calls: AwsCalls
) -> None:
    # Given a fresh receiver container
    receiver = load_function("ReceiverFunction")
    event = with_token(load_event("receiver/call-status.json"))

    # When it serves five requests
    statuses = [receiver(event)["statusCode"] for _ in range(5)]

    # Then the secret was read once
    assert statuses == [200] * 5
    assert aws_calls.count("secrets-manager")["GetSecretValue"] == 1


def test_oversized_body_gets_413_and_nothing_is_stored(stack: Deployment, receiver: Invoke) -> None:
    # Given a callback of 300 KiB against the default 256 KiB limit
    event = with_token(load_event("receiver/oversized.json"))

    # When it is received
    response = receiver(event)

    # Then it is refused as too large
    assert response["statusCode"] == 413
    assert "262144" in body_of(response)["message"]
    assert_nothing_stored(stack)


def test_body_limit_is_configurable(load_function: LoadFunction) -> None:
    # Given a receiver configured for at most 100 bytes, beside one with the default
    default_limit = load_function("ReceiverFunction")
    small_limit = load_function("ReceiverFunction", MAX_BODY_BYTES="100")
    event = with_token(load_event("receiver/call-status.json"))

    # When a normal callback (about 200 bytes) is received by both
    statuses = [default_limit(event)["statusCode"], small_limit(event)["statusCode"]]

    # Then only the small-limit receiver refuses it
    assert statuses == [200, 413]


@pytest.mark.parametrize(
    ("event_file", "reason"),
    [
        ("malformed-json.json", "body is not valid JSON"),
        ("missing-call-sid.json", "missing call_sid"),
        ("unparseable-timestamp.json", "date_updated: unrecognised timestamp"),
    ],
)
def test_unusable_request_is_quarantined_with_its_reason(
    stack: Deployment, receiver: Invoke, event_file: str, reason: str
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
    objects = quarantined_objects(stack)
    assert list(objects) == [f"quarantine/call-status/2024/01/15/{body['event_id']}.json"]
    record = next(iter(objects.values()))
    assert record["reason"] == body["reason"]
    assert record["request"]["body"] == event["body"]
    assert record["request"]["source_ip"] == "203.0.113.10"
    assert_queues_empty(stack)


def test_quarantine_never_keeps_the_secret(stack: Deployment, receiver: Invoke) -> None:
    # Given an unusable request carrying the token both as ?token= and as Basic auth
    event = with_token(load_event("receiver/malformed-json.json"))
    basic = "Basic " + base64.b64encode(f"exotel:{TOKEN}".encode()).decode()
    event["headers"] = {**event["headers"], "authorization": basic}
    event["rawQueryString"] = f"token={TOKEN}&campaign=spring"

    # When it is quarantined
    receiver(event)

    # Then the stored request has neither, but keeps everything else
    stored = next(iter(quarantined_objects(stack).values()))
    assert TOKEN not in json.dumps(stored)
    assert "authorization" not in stored["request"]["headers"]
    assert stored["request"]["query"] == {"campaign": ["spring"]}


def test_the_same_unusable_request_twice_is_quarantined_once(
    stack: Deployment, receiver: Invoke
) -> None:
    # Given one unusable request delivered twice (Exotel retried)
    event = with_token(load_event("receiver/missing-call-sid.json"))

    # When both are received
    first, second = receiver(event), receiver(event)

    # Then they share the event_id and one quarantine object
    assert body_of(first)["event_id"] == body_of(second)["event_id"]
    assert len(quarantined_objects(stack)) == 1


def test_queue_failure_gets_503_so_exotel_retries(stack: Deployment, receiver: Invoke) -> None:
    # Given the call-status queue is gone
    boto3.client("sqs", region_name=REGION).delete_queue(
        QueueUrl=stack.physical_id("CallStatusQueue")
    )

    # When a valid callback arrives
    response = receiver(with_token(load_event("receiver/call-status.json")))

    # Then the sender is told to retry
    assert response["statusCode"] == 503
    assert "message" in body_of(response)


def test_quarantine_failure_gets_503_so_exotel_retries(stack: Deployment, receiver: Invoke) -> None:
    # Given the quarantine bucket is gone
    boto3.client("s3", region_name=REGION).delete_bucket(
        Bucket=stack.physical_id("QuarantineBucket")
    )

    # When an unusable request arrives
    response = receiver(with_token(load_event("receiver/malformed-json.json")))

    # Then the sender is told to retry rather than the request being lost
    assert response["statusCode"] == 503


def test_unreadable_secret_gets_503_not_401(stack: Deployment, receiver: Invoke) -> None:
    # Given the webhook secret cannot be read
    boto3.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=stack.physical_id("WebhookSecret"), ForceDeleteWithoutRecovery=True
    )

    # When a valid callback arrives
    response = receiver(with_token(load_event("receiver/call-status.json")))

    # Then it is a temporary failure (retry), not a refusal
    assert response["statusCode"] == 503
    assert_nothing_stored(stack)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/webhooks/exotel/unknown-callback", 404),
        ("POST", "/elsewhere", 404),
        ("GET", "/webhooks/exotel/call-status", 405),
    ],
)
def test_other_routes_and_methods_are_answered_plainly(
    receiver: Invoke, method: str, path: str, status: int
) -> None:
    # Given a request to something that is not a webhook route
    event = with_token(load_event("receiver/call-status.json"))
    event.update(routeKey=f"{method} {path}", rawPath=path)

    # When it is received, Then it gets a JSON error and no crash
    response = receiver(event)
    assert response["statusCode"] == status
    assert "message" in body_of(response)


def test_body_mislabelled_as_base64_is_quarantined_as_sent(
    stack: Deployment, receiver: Invoke
) -> None:
    # Given a hand-made event whose body is flagged base64 but is plain text
    event = with_token(load_event("receiver/call-status.json"))
    event["isBase64Encoded"] = True
    event["body"] = "campaign_sid=camp_abc123&status=!!"

    # When it is received
    response = receiver(event)

    # Then it is not lost: it is quarantined (no call_sid) with the text as sent
    assert body_of(response)["status"] == "quarantined"
    stored = next(iter(quarantined_objects(stack).values()))
    assert stored["request"]["body"] == event["body"]


def test_logs_never_show_the_secret_or_a_whole_phone_number(
    receiver: Invoke, log_output: io.StringIO
) -> None:
    # Given requests carrying the token every way, accepted, refused and quarantined
    basic = "Basic " + base64.b64encode(f"exotel:{TOKEN}".encode()).decode()
    accepted = with_token(load_event("receiver/call-status.json"))
    by_basic_auth = load_event("receiver/call-status-basic-auth.json")
    by_basic_auth["headers"] = {**by_basic_auth["headers"], "authorization": basic}
    refused = with_token(load_event("receiver/call-status.json"), f"{TOKEN}-but-wrong")
    quarantined = with_token(load_event("receiver/malformed-json.json"))

    # When they are handled
    for event in (accepted, by_basic_auth, refused, quarantined):
        receiver(event)

    # Then the logs hold neither the token nor the number (the processor's line names it by
    # its hash: the receiver's leaves it out)
    logs = log_output.getvalue()
    assert '"message":"webhook accepted"' in logs
    assert '"number' not in logs
    assert TOKEN not in logs
    assert basic.split()[1] not in logs
    assert "9876543210" not in logs


def test_a_receiver_bug_quarantines_the_request_instead_of_losing_it(
    stack: Deployment, receiver: Invoke, monkeypatch: pytest.MonkeyPatch
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
    stored = next(iter(quarantined_objects(stack).values()))
    assert stored["reason"] == UNEXPECTED_ERROR_REASON
    assert json.loads(stored["request"]["body"])["call_sid"] == "call_def456"


def test_under_sam_local_start_api_a_valid_webhook_is_accepted_when_it_arrives(
    stack: Deployment, load_function: LoadFunction
) -> None:
    # Given the receiver under `sam local start-api` (which sets AWS_SAM_LOCAL), and the event
    # SAM makes for a valid webhook: timeEpoch in seconds, frozen at the server's start
    receiver = load_function("ReceiverFunction", AWS_SAM_LOCAL="true")
    event = json.loads((PROJECT_ROOT / "tests/data/sam/start-api-call-status.json").read_text())
    before = datetime.now(UTC).replace(microsecond=0)

    # When it is received
    response = receiver(event)

    # Then it is accepted (not quarantined as dated after a 1970 request), received now
    assert body_of(response)["status"] == "accepted", body_of(response)
    assert quarantined_objects(stack) == {}
    [message] = queued_messages(stack, "CallStatusQueue")
    received = datetime.fromisoformat(json.loads(message["Body"])["received_at"])
    assert before <= received <= datetime.now(UTC)
