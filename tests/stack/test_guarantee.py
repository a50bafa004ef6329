"""The promise as a property: whatever arrives (fuzzed bodies, near-valid callbacks, the cases
that once broke it), every `accepted` ends visible through the read API, every `quarantined` is
in the quarantine with its reason, nothing else answers 200, and no dead-letter queue ever
receives a message."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from exotel_webhooks.ledger.keys import subscriber_key
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, Deployment
from tests.stack.test_faults import waiting_event_ids
from tests.stack.test_fuzz_receiver import ROUTES, bodies, json_values
from tests.stack.test_promise import UNSTORABLE
from tests.support.events import http_get
from tests.support.pipeline import Pipeline
from tests.support.stack import AwsCalls

pytestmark = pytest.mark.enable_socket  # the report host is served on loopback

identifiers = st.sampled_from(["camp_g", "call_1", "call_2"]) | st.text(min_size=1, max_size=12)
numbers = st.sampled_from(
    [
        "+919800000001",
        "09800000002",
        "0XXXXXX4890",
        "98765",
        "+1234",
        "",
        "\uff11\uff12\uff13",
    ]  # fullwidth digits
) | st.text(max_size=14)
statuses = st.sampled_from(
    ["completed", "No Answer", "busy", "in-progress", "-", "Completed", "InProgress", "x" * 300]
) | st.text(max_size=12)
plausible = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 1))
dates = plausible.map(str) | st.sampled_from(
    [
        "2024-01-15 09:05:47",
        "2024-01-15T09:05:47+05:30",
        "2026-11-26T10:00:00Z",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01 00:00:00",
        "0999-06-01T00:00:00Z",
        "2999-01-01 00:00:00",
        "",
    ]
)
report_urls = st.sampled_from(
    [
        "https://s3.amazonaws.com/exotel/report.csv",
        "https://[reports.exotel.com/r.csv",
        "https://reports.exotel.com:99999/r.csv",
        "ftp://x",
    ]
)
deep = st.integers(1, 400).map(lambda depth: json.loads("[" * depth + "]" * depth))
unstorable = deep | st.sampled_from([float("nan"), "\udfff", "\x01" * 60_000])
extras = st.dictionaries(
    st.sampled_from(["duration", "custom_field", "digits", "notes"]) | st.text(max_size=8),
    st.one_of(json_values, json_values, json_values, unstorable),
    max_size=3,
)


@st.composite
def callbacks(draw: st.DrawFn, route: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "campaign_sid": draw(identifiers),
        "status": draw(statuses),
        "date_updated": draw(dates),
    }
    if route == "call-status":
        fields |= {"call_sid": draw(identifiers), "number": draw(numbers)}
    elif route == "call-schedule":
        fields |= {"to": draw(numbers), "call_sids": draw(st.lists(identifiers, max_size=3))}
    else:
        fields["report_url"] = draw(report_urls)
    fields = {name: value for name, value in fields.items() if value != "" or draw(st.booleans())}
    return fields | draw(extras)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, str, str]:
    """(route, body, content type)"""
    route = draw(st.sampled_from(ROUTES))
    kind = draw(st.sampled_from(["callback", "callback", "callback", "fuzz", "regression"]))
    if kind == "regression":
        return (*UNSTORABLE[draw(st.sampled_from(sorted(UNSTORABLE)))][:2], "")
    if kind == "fuzz":
        body = draw(bodies(route))
        return route, body.decode("utf-8", "replace"), draw(st.sampled_from(["", "text/plain"]))
    fields = draw(callbacks(route))
    if draw(st.booleans()):
        return route, json.dumps(fields, ensure_ascii=draw(st.booleans())), "application/json"
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    return route, urlencode(form, errors="surrogatepass"), "application/x-www-form-urlencoded"


def read(pipeline: Pipeline, path: str, query: str = "") -> dict[str, Any] | None:
    response = pipeline.invoke("ReadApiFunction", http_get(path, query))
    assert response["statusCode"] in (200, 404), response["body"]
    return json.loads(response["body"]) if response["statusCode"] == 200 else None


def visible(pipeline: Pipeline, callback_type: str, event_id: str, fields: dict[str, Any]) -> bool:
    """The read API shows the callback's record (its values may be a newer update's)."""
    campaign = f"/campaigns/{quote(fields['campaign_sid'], safe='')}"
    if callback_type == CallbackType.CAMPAIGN_STATUS:
        summary = read(pipeline, campaign)
        return summary is not None and summary["status"] is not None
    if callback_type == CallbackType.CALL_STATUS:  # the attempt, whichever number it holds
        query = "limit=100"
        while True:
            page = read(pipeline, f"{campaign}/calls", query)
            if page is None:
                return False
            if fields["call_sid"] in [call["call_sid"] for call in page["items"]]:
                return True
            if not page["next_token"]:
                return False
            query = f"limit=100&next_token={page['next_token']}"
    subscriber = subscriber_key(fields["to"], fields["call_sids"], event_id)
    number = read(pipeline, f"{campaign}/numbers/{quote(subscriber, safe='')}")
    return number is not None and number["status"] is not None


def quarantine_keys(stack: Deployment) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.physical_id("QuarantineBucket")
    )
    return " ".join(item["Key"] for page in pages for item in page.get("Contents", []))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=st.lists(deliveries(), min_size=1, max_size=4))
def test_every_200_ends_in_the_ledger_or_the_quarantine_and_nothing_dead_letters(
    pipeline: Pipeline, stack: Deployment, aws_calls: AwsCalls, sent: list[tuple[str, str, str]]
) -> None:
    # Given whatever Exotel (or anyone holding the token) sends
    answers = []
    for route, body, content_type in sent:
        status, answer = pipeline.send(route, body, content_type=content_type or "text/plain")
        answers.append((route, status, answer))
        event(f"{status} {answer.get('status', '')}")

    # When every queue is consumed, as Lambda consumes them
    pipeline.drain()

    # Then nothing answered 200 but accepted or quarantined, and never 5xx (storage works)
    messages = [json.loads(call["MessageBody"]) for call in aws_calls.of("SendMessage", True)]
    queued = {message["event_id"]: message for message in messages if "callback" in message}
    quarantined = quarantine_keys(stack)
    for route, status, answer in answers:
        assert status in (200, 413), answer
        if status != 200:
            continue
        if answer["status"] == "quarantined":
            # And every quarantined request is in the quarantine, with its reason
            assert answer["reason"]
            assert answer["event_id"] in quarantined
        else:
            # And every accepted callback is visible through the read API
            assert answer["status"] == "accepted", answer
            message = queued[answer["event_id"]]
            assert visible(pipeline, route, answer["event_id"], message["callback"]), message

    # And no dead-letter queue (nor any queue) holds anything
    assert waiting_event_ids(stack) == set(), [(r, b[:400], c) for r, b, c in sent]
