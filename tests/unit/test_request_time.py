"""When a webhook was received, read from API Gateway's event: the time a callback's dates are
judged against, and kept when a quarantined request is replayed (docs/architecture.md,
"The webhook contract")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exotel_webhooks.intake.http import received_at

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)


def event_at(time_epoch: object) -> dict[str, Any]:
    return {"requestContext": {"timeEpoch": time_epoch}}


def sam_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "tests/data/sam" / name).read_text())
    return event


def test_api_gateways_time_in_milliseconds_is_kept_even_long_after() -> None:
    # Given API Gateway's event of a request received in January 2024 (a replay, say)
    event = event_at(1705289747123)

    # When it is read in AWS, Then it is that time, to the millisecond
    expected = datetime(2024, 1, 15, 3, 35, 47, 123000, tzinfo=UTC)
    assert received_at(event, NOW, under_sam_local=False) == expected


def test_a_time_in_seconds_is_read_as_seconds() -> None:
    # Given SAM's local HTTP API's stamp, in seconds (as milliseconds it would be 1970-01-21)
    event = sam_event("start-api-call-status.json")

    # When it is read outside SAM, Then it is that second of 2026
    assert received_at(event, NOW, under_sam_local=False) == datetime(
        2026, 12, 3, 19, 26, 19, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "sample", ["start-api-call-status.json", "generate-event-http-api-proxy.json"]
)
def test_under_sam_a_stamp_far_from_the_clock_gives_way_to_the_clock(sample: str) -> None:
    # Given SAM's frozen start-api stamp (34 minutes old) or its generated event's (2020)
    event = sam_event(sample)

    # When it is read under `sam local` (AWS_SAM_LOCAL), Then the clock is the request's time
    assert received_at(event, NOW, under_sam_local=True) == NOW


def test_under_sam_a_stamp_close_to_the_clock_is_kept() -> None:
    # Given a stamp ten seconds before the clock
    stamped = NOW - timedelta(seconds=10)

    # When it is read under SAM, Then it is kept
    event = event_at(int(stamped.timestamp() * 1000))
    assert received_at(event, NOW, under_sam_local=True) == stamped


@pytest.mark.parametrize(
    "time_epoch", [None, "1705289747000", True, -1, 0, float("nan"), float("inf"), 10**30]
)
def test_a_missing_or_unusable_stamp_is_the_clock(time_epoch: object) -> None:
    # Given an event whose timeEpoch is absent, text, a flag, not positive or out of range
    event = event_at(time_epoch) if time_epoch is not None else {}

    # When it is read, Then it is the clock, without an error
    assert received_at(event, NOW, under_sam_local=False) == NOW


@pytest.mark.parametrize("under_sam_local", [False, True])
def test_a_stamp_ahead_of_the_clock_gives_way_to_the_clock(under_sam_local: bool) -> None:
    # Given a stamp in 2999 (API Gateway never stamps the future; only a direct invocation can)
    event = event_at(int(datetime(2999, 1, 1, tzinfo=UTC).timestamp() * 1000))

    # When it is read, Then the clock is the request's time: a future stamp would widen the
    # plausible dates and let a callback dated 2999 pin its record for ever
    assert received_at(event, NOW, under_sam_local=under_sam_local) == NOW
