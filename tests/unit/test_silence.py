"""A silence's event, and the sweep function's reading of what it is asked to sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exotel_webhooks.ledger.keys import (
    SUMMARY_SK,
    attempt_keys,
    campaign_pk,
    item_key,
    outcome_keys,
)
from exotel_webhooks.ledger.silence import Silence
from exotel_webhooks.ledger.stream import Change, heard_minute
from exotel_webhooks.sweep.scheduled import requested_campaign


def test_a_silence_says_since_when_and_how_long_with_an_id_per_silence() -> None:
    silence = Silence("camp_1", "2026-12-04T09:30:00.000000Z", "InProgress")
    kind, detail = silence.event(datetime(2026, 12, 4, 10, 5, 30, tzinfo=UTC))
    assert kind == "CampaignSilent"
    assert detail == {
        "event_id": "silent-camp_1-2026-12-04T09:30:00.000000Z",
        "campaign_sid": "camp_1",
        "status": "InProgress",
        "last_callback_at": "2026-12-04T09:30:00.000000Z",
        "silent_minutes": 35,
    }


@pytest.mark.parametrize(
    "event",
    [
        {"campaign_sid": "camp_x"},
        {"detail-type": "CampaignSilent", "detail": {"campaign_sid": "camp_x"}},
    ],
)
def test_the_sweep_function_takes_a_campaign_by_name_or_by_its_silent_event(
    event: dict[str, Any],
) -> None:
    assert requested_campaign(event) == "camp_x"


@pytest.mark.parametrize("event", [{"detail-type": "Scheduled Event", "detail": {}}, {}, "x"])
def test_on_its_schedule_the_sweep_function_takes_the_campaigns_due(event: Any) -> None:
    assert requested_campaign(event) is None


STORED_AT = datetime(2026, 12, 4, 9, 31, tzinfo=UTC)


def change(
    keys: dict[str, str],
    source: str | None,
    version: str = "v2",
    received: datetime | None = STORED_AT - timedelta(seconds=3),
) -> Change:
    after = {**keys, "campaign_sid": "camp_1", "status": "busy", "version": version}
    if source:
        after["source"] = source
    if received:
        after["received_at"] = received.isoformat()
    before = {**after, "version": "v1"}
    return Change(keys, before, after, sequence="1", stored_at=STORED_AT.timestamp())


@pytest.mark.parametrize(
    ("stored", "heard"),
    [
        (change(attempt_keys("camp_1", "+919876543210", "c1"), None), True),
        (change(outcome_keys("camp_1", "+919876543210"), "callback"), True),
        (change(attempt_keys("camp_1", "+919876543210", "c1"), "api"), False),  # a sweep's row
        (change(outcome_keys("camp_1", "+919876543210"), "report"), False),  # a backfill
        (change(attempt_keys("camp_1", "+919876543210", "c1"), None, "v1"), False),  # a note
        # a campaign status, not a call
        (change(item_key(campaign_pk("camp_1"), SUMMARY_SK), None), False),
        # a day-old callback stored now (a redrive, make migrate), or one with no arrival time
        (
            change(outcome_keys("camp_1", "+91"), None, received=STORED_AT - timedelta(days=2)),
            False,
        ),
        (change(outcome_keys("camp_1", "+91"), None, received=None), False),
    ],
)
def test_only_a_callbacks_new_attempt_or_outcome_is_heard(stored: Change, heard: bool) -> None:
    assert stored.from_callback is heard


def test_the_heard_minute_sorts_as_the_index_does() -> None:
    moment = datetime(2026, 12, 4, 9, 30, 59, tzinfo=UTC).timestamp()
    assert heard_minute(moment) == "2026-12-04T09:30:00.000000Z"
