"""events/: every function has samples; each parses and gives its documented response."""

from __future__ import annotations

import json

import pytest

from localaws.emulation import DEFAULT_WEBHOOK_TOKEN
from localaws.template import Template
from tests.conftest import EVENTS, LoadFunction, body_of, events_of, load_event

# What each receiver sample is for: (status code, body "status" or None for an error body).
RECEIVER_OUTCOMES = {
    "call-status.json": (200, "accepted"),
    "call-status-form.json": (200, "accepted"),
    "call-status-pascal-case.json": (200, "accepted"),
    "call-status-basic-auth.json": (200, "accepted"),
    "call-schedule.json": (200, "accepted"),
    "call-schedule-form.json": (200, "accepted"),
    "call-schedule-form-indexed.json": (200, "accepted"),
    "campaign-status.json": (200, "accepted"),
    "campaign-status-form.json": (200, "accepted"),
    "campaign-status-in-progress.json": (200, "accepted"),
    "no-secret.json": (401, None),
    "wrong-secret.json": (401, None),
    "oversized.json": (413, None),
    "malformed-json.json": (200, "quarantined"),
    "missing-call-sid.json": (200, "quarantined"),
    "unparseable-timestamp.json": (200, "quarantined"),
}


def event_directory(template: Template, logical_id: str) -> str:
    """events/<the function's code directory name>/"""
    return template.function_code_directory(logical_id).name


def test_every_function_has_sample_events(template: Template) -> None:
    functions = template.resources_of_type("AWS::Serverless::Function")
    assert functions
    for logical_id in functions:
        assert events_of(event_directory(template, logical_id)), f"no events for {logical_id}"


def test_every_event_file_is_json_of_an_http_api_route_in_the_template(template: Template) -> None:
    routes = {
        f"{event['Properties']['Method']} {event['Properties']['Path']}"
        for function in template.resources_of_type("AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    for path in EVENTS.rglob("*.json"):
        event = json.loads(path.read_text())
        assert event["version"] == "2.0", path
        assert event["routeKey"] in routes, path
        assert event["requestContext"]["http"]["method"] == event["routeKey"].split()[0]


def test_every_receiver_event_is_listed_with_its_outcome() -> None:
    assert {path.name for path in events_of("receiver")} == set(RECEIVER_OUTCOMES)


@pytest.mark.webhook_tokens(DEFAULT_WEBHOOK_TOKEN)
@pytest.mark.parametrize(("event_file", "outcome"), sorted(RECEIVER_OUTCOMES.items()))
def test_receiver_event_gives_its_documented_response(
    load_function: LoadFunction, event_file: str, outcome: tuple[int, str | None]
) -> None:
    # Given the receiver with the secret the sample events carry (make invoke's default)
    receiver = load_function("ReceiverFunction")
    event = load_event(f"receiver/{event_file}")

    # When the sample is invoked
    response = receiver(event)

    # Then it gets the response the sample is named for
    status, body_status = outcome
    assert response["statusCode"] == status
    assert body_of(response).get("status") == body_status
