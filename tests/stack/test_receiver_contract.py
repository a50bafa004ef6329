"""The webhook contract on the stack deployed from the template: each callback type to its own
queue, the secret read once per container, the body limit and AWS failures as the template wires
them, the logs, and SAM's local events. The contract's other rows run in the unit tier, on
in-memory fakes of the receiver's ports (tests/unit/test_receiver_contract.py)."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime

import boto3
import pytest

from localaws.emulation import REGION, Deployment
from localaws.template import PROJECT_ROOT
from tests.support.events import TOKEN, body_of, load_event, with_token
from tests.support.stack import AwsCalls, Invoke, LoadFunction, quarantined_objects, queued_messages

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


def test_body_limit_is_configurable(load_function: LoadFunction) -> None:
    # Given a receiver configured for at most 100 bytes, beside one with the default
    default_limit = load_function("ReceiverFunction")
    small_limit = load_function("ReceiverFunction", MAX_BODY_BYTES="100")
    event = with_token(load_event("receiver/call-status.json"))

    # When a normal callback (about 200 bytes) is received by both
    statuses = [default_limit(event)["statusCode"], small_limit(event)["statusCode"]]

    # Then only the small-limit receiver refuses it
    assert statuses == [200, 413]


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
