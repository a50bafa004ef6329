"""Recordings kept where the team can reach them (sweep/recordings.py), on the deployed stack
with CallDetails and KeepRecordings on: a recorded attempt's recording is copied into S3 from a
fresh link, fetched with the account's key on Exotel's host only; the read API hands out a
short-lived URL to it; an erasure removes it."""

from __future__ import annotations

import json

import boto3
import pytest

from localaws.emulation import REGION, STACK_NAME, Deployment
from ops.erase import erase_number
from ops.target import Target
from tests.support.pipeline import Pipeline
from tests.support.report_server import Route

pytestmark = [
    pytest.mark.stack_parameters(CallDetails="true", KeepRecordings="true"),
    pytest.mark.enable_socket,
]

CALLS_PATH = "/v1/Accounts/demo-account/Calls.json"
A = "+919876543210"
VOICE = b"ID3" + bytes(range(256)) * 64  # a recording's bytes, as an mp3 starts
BASIC = "Basic ZGVtby1rZXk6ZGVtby10b2tlbg=="  # demo-key:demo-token, the pipeline's account


def exotel_answers(pipeline: Pipeline, recording_path: str) -> None:
    """The Call details API: call_1 unanswered, call_2 answered and recorded at this path."""
    link = pipeline.server.url(recording_path)
    calls = [
        {"Call": {"Sid": "call_1", "Status": "busy", "Duration": "0", "Price": "0.000",
                  "DateCreated": "2024-01-15 09:00:00"}},
        {"Call": {"Sid": "call_2", "Status": "completed", "Duration": "45", "Price": "1.500",
                  "DateCreated": "2024-01-15 09:15:00", "RecordingUrl": link}},
    ]  # fmt: skip
    body = {"Metadata": {"Total": 2, "PageSize": 100}, "Calls": calls}
    pipeline.server.routes[CALLS_PATH] = Route(
        body=json.dumps(body).encode(), content_type="application/json"
    )


def played(pipeline: Pipeline) -> None:
    for call_sid, status, minute in (("call_1", "busy", 0), ("call_2", "completed", 15)):
        callback = {"campaign_sid": "camp_1", "call_sid": call_sid, "number": A,
                    "status": status, "date_created": f"2024-01-15 09:{minute:02d}:00",
                    "date_updated": f"2024-01-15 09:{minute:02d}:40"}  # fmt: skip
        assert pipeline.webhook("call-status", callback) == 200
    pipeline.drain()


def versions(stack: Deployment) -> list[str]:
    """Every version of every object under recordings/, delete markers too."""
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_object_versions(Bucket=stack.physical_id("ReportBucket"), Prefix="recordings/")
    return [v["Key"] for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]]


def kept(stack: Deployment) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("ReportBucket")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="recordings/").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_a_recorded_attempts_recording_is_kept_and_handed_out(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given Exotel's Call details API says call_2 was recorded, and its host serves the file
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(body=VOICE, content_type="audio/mpeg")

    # When the campaign's callbacks arrive and the stack settles
    played(pipeline)

    # Then the recording is in S3, byte for byte, fetched with the account's key
    assert list(kept(stack).values()) == [VOICE]
    [key] = kept(stack)
    assert key.startswith("recordings/camp_1/")
    assert key.endswith("/call_2")
    assert ("/recordings/call_2.mp3", BASIC) in pipeline.server.authorizations
    # ... the attempt names it, and the read API hands out a short-lived URL to it
    number = pipeline.get(f"/campaigns/camp_1/numbers/{A}")
    attempts = {a["call_sid"]: a for a in number["attempts"]}
    assert attempts["call_1"].get("recording_url") is None
    url = attempts["call_2"]["recording_url"]
    assert key in url
    assert "X-Amz-Expires=900" in url


def test_a_link_that_redirects_elsewhere_never_carries_the_key(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a recording link on Exotel's host that redirects to a pre-signed store
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    store = pipeline.server.url("/store/call_2.mp3", host="localhost")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(status=302, location=store)
    pipeline.server.routes["/store/call_2.mp3"] = Route(body=VOICE, content_type="audio/mpeg")

    # When the campaign is played
    played(pipeline)

    # Then the recording is kept, and the store never saw the account's key
    assert list(kept(stack).values()) == [VOICE]
    assert ("/store/call_2.mp3", None) in pipeline.server.authorizations
    assert ("/store/call_2.mp3", BASIC) not in pipeline.server.authorizations


def test_erasing_the_number_removes_its_recordings(pipeline: Pipeline, stack: Deployment) -> None:
    # Given a kept recording
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(body=VOICE, content_type="audio/mpeg")
    played(pipeline)
    assert kept(stack)

    # When the subscriber is erased, Then no copy of the recording is left
    erase_number(Target(STACK_NAME, REGION), A, "camp_1")
    assert kept(stack) == {}
    assert versions(stack) == []


def test_a_second_erasure_finds_recordings_its_items_no_longer_name(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a kept recording whose attempt item is already gone (an erasure stopped after
    # deleting the items, or the item expired before the recording)
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(body=VOICE, content_type="audio/mpeg")
    played(pipeline)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for call_sid in ("call_1", "call_2"):
        dynamodb.delete_item(
            TableName=stack.physical_id("CampaignTable"),
            Key={"PK": {"S": f"CAMPAIGN#camp_1#NUMBER#{A}"}, "SK": {"S": f"ATTEMPT#{call_sid}"}},
        )

    # When the number is erased (in every campaign), Then its recording goes too
    erase_number(Target(STACK_NAME, REGION), A)
    assert versions(stack) == []


def test_a_recording_copied_for_an_attempt_erased_meanwhile_is_deleted_again(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a recording request for an attempt that is no longer in the ledger (erased while
    # its request waited on the queue)
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(body=VOICE, content_type="audio/mpeg")
    request = {"campaign_sid": "camp_1", "call_sid": "call_2",
               "pk": f"CAMPAIGN#camp_1#NUMBER#{A}", "sk": "ATTEMPT#call_2",
               "date_created": "2024-01-15T03:45:00+00:00"}  # fmt: skip
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps(request),
                          "attributes": {"ApproximateReceiveCount": "1"},
                          "eventSource": "aws:sqs", "eventSourceARN": "arn:q"}]}  # fmt: skip

    # When the recording function copies it
    answer = pipeline.invoke("RecordingFunction", event)

    # Then the copy it made is deleted again, every version: nothing of the attempt is kept
    assert answer == {"batchItemFailures": []}
    assert pipeline.server.hits["/recordings/call_2.mp3"] == 1
    assert kept(stack) == {}
    assert versions(stack) == []


def test_an_empty_recording_fails_only_itself(pipeline: Pipeline, stack: Deployment) -> None:
    # Given two recorded calls of a batch: one file empty, the other whole
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(body=b"", content_type="audio/mpeg")
    played(pipeline)

    # Then the empty one is refused (logged), kept nowhere, and nothing is left failing
    assert kept(stack) == {}
    refused = [line for line in pipeline.lines["RecordingFunction"]
               if line.get("message") == "recording refused"]  # fmt: skip
    assert [line["call_sid"] for line in refused] == ["call_2"]


def test_a_recording_not_there_yet_is_asked_for_again_then_waits_in_its_dlq(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given Exotel's host answering 404 for a recording its API already links (not uploaded yet)
    exotel_answers(pipeline, "/recordings/call_2.mp3")
    pipeline.server.routes["/recordings/call_2.mp3"] = Route(status=404, body=b"not yet")

    # When the campaign is played and the queues are drained
    played(pipeline)

    # Then it was asked for again, each time with a fresh link, and waits in the DLQ (alarmed)
    # for a redrive, not dropped
    assert pipeline.server.hits["/recordings/call_2.mp3"] == 5
    sqs = boto3.client("sqs", region_name=REGION)
    dead = sqs.receive_message(QueueUrl=stack.physical_id("RecordingDeadLetterQueue"))
    assert [json.loads(m["Body"])["call_sid"] for m in dead.get("Messages", [])] == ["call_2"]
