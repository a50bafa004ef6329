"""Fuzzing the receiver: arbitrary bytes, JSON, forms, headers, content types, encodings and
tokens. Whatever arrives, it answers from the contract's table, never with an unhandled error,
never 5xx while storage works, and every 200 is on a queue or in the quarantine."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import boto3
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from localaws.emulation import REGION, Deployment
from tests.support.events import TOKEN, load_event
from tests.support.stack import Invoke

ROUTES = ("call-status", "call-schedule", "campaign-status")
QUEUES = {
    "call-status": "CallStatusQueue",
    "call-schedule": "CallScheduleQueue",
    "campaign-status": "CampaignStatusQueue",
}
FIELD_NAMES = (
    "campaign_sid", "CampaignSid", "call_sid", "CallSid", "number", "To", "to", "from", "status",
    "Status", "date_created", "date_updated", "DateUpdated", "call_sids", "call_sids[]",
    "call_sids[0]", "report_url", "ReportUrl", "custom_field",
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["+919876543210", "09876543210", "0XXXXXX4890", "2024-01-15 09:05:47",
                     "2024-01-15T09:05:47+05:30", "completed", "No Answer", "", " "]),
    json_values,
)  # fmt: skip
callback_like = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=12), field_values)
content_types = st.sampled_from(
    [None, "application/json", "application/json; charset=utf-8",
     "application/x-www-form-urlencoded",
     "application/x-www-form-urlencoded; charset=ISO-8859-1", "text/plain", "multipart/form-data",
     "application/xml", "APPLICATION/JSON"]
) | st.text(max_size=30)  # fmt: skip


VALID = {
    route: json.loads(load_event(f"receiver/{route}.json")["body"]) for route in ROUTES
}  # the samples' JSON bodies


@st.composite
def near_valid(draw: st.DrawFn, route: str) -> bytes:
    """A valid callback with a few fields changed, removed or added."""
    fields: dict[str, Any] = dict(VALID[route])
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(fields)) | st.sampled_from(FIELD_NAMES))
        if draw(st.booleans()):
            fields[name] = draw(field_values)
        else:
            fields.pop(name, None)
    return json.dumps(fields, default=str).encode()


@st.composite
def bodies(draw: st.DrawFn, route: str) -> bytes:
    kind = draw(
        st.sampled_from(
            ["near-valid", "near-valid", "json", "form", "bytes", "text", "json-value", "huge"]
        )
    )
    if kind == "near-valid":
        return draw(near_valid(route))
    if kind == "huge":
        return b"x" * draw(st.integers(262_145, 300_000))
    if kind == "json":
        return json.dumps(draw(callback_like), default=str).encode()
    if kind == "form":
        fields = draw(callback_like)
        return urlencode(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        ).encode()
    if kind == "json-value":
        return json.dumps(draw(json_values)).encode()
    if kind == "text":
        return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    return draw(st.binary(max_size=300))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    event = load_event("receiver/call-status.json")
    route = draw(st.sampled_from(ROUTES))
    body = draw(bodies(route))
    headers = draw(
        st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), max_size=4)
    )
    content_type = draw(content_types)
    if content_type is not None:
        headers["Content-Type"] = content_type
    token = draw(st.sampled_from([TOKEN, TOKEN, TOKEN, "", "wrong", TOKEN.upper()]))
    encoded = draw(st.booleans())
    event.update(
        routeKey=f"POST /webhooks/exotel/{route}",
        rawPath=f"/webhooks/exotel/{route}",
        rawQueryString=urlencode({"token": token}),
        queryStringParameters={"token": token},
        headers=headers,
        body=base64.b64encode(body).decode() if encoded else body.decode("utf-8", "replace"),
        isBase64Encoded=encoded,
    )
    event["requestContext"]["http"]["path"] = event["rawPath"]
    return event


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_whatever_arrives_gets_a_contract_answer_and_every_200_is_kept(
    stack: Deployment, receiver: Invoke, request: dict[str, Any]
) -> None:
    # When an arbitrary request reaches the receiver
    response = receiver(request)

    # Then it answers with one of the contract's statuses, in JSON, never 5xx (storage works)
    status = response["statusCode"]
    answer = json.loads(response["body"])
    event(f"{status} {answer.get('status', '')}")
    assert status in (200, 401, 413), answer
    if status != 200:
        assert set(answer) == {"message"}
        return
    # And a 200 names an event that is on its type's queue, or in the quarantine
    route = request["rawPath"].rsplit("/", 1)[1]
    assert answer["status"] in ("accepted", "quarantined")
    if answer["status"] == "accepted":
        assert answer["event_id"] in queued_event_ids(stack, QUEUES[route])
    else:
        assert answer["reason"]
        assert any(answer["event_id"] in key for key in quarantine_keys(stack, route))


def queued_event_ids(stack: Deployment, queue: str) -> set[str]:
    """Event ids on the queue (read without consuming: visibility 0)."""
    sqs = boto3.client("sqs", region_name=REGION)
    found: set[str] = set()
    for _ in range(20):
        messages = sqs.receive_message(
            QueueUrl=stack.physical_id(queue), MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        found |= {json.loads(message["Body"])["event_id"] for message in messages}
        if not messages:
            break
    return found


def quarantine_keys(stack: Deployment, route: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    listing = s3.list_objects_v2(
        Bucket=stack.physical_id("QuarantineBucket"), Prefix=f"quarantine/{route}/"
    )
    return [item["Key"] for item in listing.get("Contents", [])]
