"""Reading Exotel's Call details API (sweep/call_details.py) and asking it in bulk
(CampaignApi.call_details); the delay before an attempt is asked about (DetailsQueue)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from exotel_webhooks.notifications import DetailsQueue
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.call_details import (
    CallDetails,
    CallDetailsAnswer,
    batches,
    read_calls,
)
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi

DAY = datetime(2024, 1, 15, 3, 30, tzinfo=UTC)


def read(*calls: dict[str, Any], asked: set[str] | None = None) -> CallDetailsAnswer:
    answer = CallDetailsAnswer()
    document = {"Calls": [{"Call": call} for call in calls]}
    read_calls(document, asked or {str(c["Sid"]) for c in calls}, "INR", answer)
    return answer


def test_a_settled_call_is_read_whatever_its_spelling() -> None:
    # Given a call listed with lower-case names, a numeric duration and a charge written negative
    call = {"sid": "c1", "STATUS": "Completed", "duration": 45, "Price": "-1.5",
            "RecordingUrl": "https://r/1.mp3", "details": {"conversation_duration": "38"},
            "PriceUnit": "usd"}  # fmt: skip

    # When it is read
    answer = read(call, asked={"c1"})

    # Then it is settled, with the price's magnitude and the answer's currency
    assert answer.settled == {
        "c1": CallDetails("c1", 45, 38, Decimal("1.5000"), "USD", True, "https://r/1.mp3")
    }
    assert answer.settled["c1"].stored() == {
        "duration_seconds": 45, "talk_seconds": 38, "price": Decimal("1.5000"),
        "currency": "USD", "recorded": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        {"Sid": "c1", "Status": "in-progress", "Duration": "", "Price": ""},
        {"Sid": "c1", "Status": "completed", "Duration": "45", "Price": None},
        {"Sid": "c1", "Status": "completed", "Duration": "", "Price": "1.0"},
    ],
    ids=["in progress", "not priced", "no duration"],
)
def test_a_call_not_yet_priced_or_ended_is_unsettled(call: dict[str, Any]) -> None:
    assert read(call).unsettled == {"c1"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("Duration", "-5"), ("Duration", "100000"), ("Duration", "abc"), ("Price", "1e9"),
     ("Price", "NaN"), ("Price", "cheap")],
)  # fmt: skip
def test_values_no_call_could_have_refuse_that_call(field: str, value: str) -> None:
    call = {"Sid": "c1", "Status": "busy", "Duration": "0", "Price": "0"} | {field: value}
    answer = read(call, asked={"c1"})
    assert (answer.settled, list(answer.refused)) == ({}, ["c1"])


def test_calls_nobody_asked_about_are_ignored() -> None:
    call = {"Sid": "other", "Status": "busy", "Duration": "0", "Price": "0"}
    answer = read(call, asked={"c1"})
    assert (answer.settled, answer.unsettled, answer.refused) == ({}, set(), {})


def test_requests_hold_at_most_100_calls_within_30_days() -> None:
    # Given 250 calls over three days, and 2 more six weeks later
    calls: list[tuple[str, datetime | None]] = [
        (f"c{i}", DAY + timedelta(minutes=17 * i)) for i in range(250)
    ]
    calls += [("late1", DAY + timedelta(days=42)), ("late2", None)]

    # When they are put in requests
    chunks = batches(calls)

    # Then none holds more than 100, none spans more than 30 days, each call is in one
    assert [len(chunk) for chunk in chunks] == [100, 100, 51, 1]
    for chunk in chunks:
        dated = [moment for _, moment in chunk if moment]
        assert max(dated) - min(dated) <= timedelta(days=30)
    assert sorted(sid for chunk in chunks for sid, _ in chunk) == sorted(sid for sid, _ in calls)


class FakeCallsApi:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        self.urls.append(url)
        sids = parse_qs(urlsplit(url).query)["Sid"][0].split(",")
        calls = [{"Call": {"Sid": sid, "Status": "completed", "Duration": "10", "Price": "0.5"}}
                 for sid in sids]  # fmt: skip
        return 200, "application/json", json.dumps({"Calls": calls}).encode()


def test_the_client_asks_in_bulk_on_the_v1_route_with_a_date_range() -> None:
    # Given 150 calls of one morning
    fake = FakeCallsApi()
    api = CampaignApi("api.in.exotel.com", ApiCredentials("k", "t", "acct 1"),
                      NormalisationRules(), send=fake)  # fmt: skip
    calls = [(f"c{i}", DAY + timedelta(seconds=i)) for i in range(150)]

    # When their details are asked for
    answer = api.call_details(calls)

    # Then two requests to the account's Calls route, the range in the account's time
    assert len(answer.settled) == 150
    assert [urlsplit(url).path for url in fake.urls] == ["/v1/Accounts/acct%201/Calls.json"] * 2
    first = parse_qs(urlsplit(fake.urls[0]).query)
    assert first["DateCreated"] == ["gte:2024-01-15 08:00:00;lte:2024-01-15 10:01:39"]
    assert first["PageSize"] == ["100"]


@pytest.mark.parametrize(
    ("ended", "delay"),
    [(None, 300), (datetime(2026, 12, 4, 10, 0, tzinfo=UTC), 300),
     (datetime(2026, 12, 4, 9, 58, tzinfo=UTC), 180), (datetime(2026, 12, 4, 9, 0, tzinfo=UTC), 0)],
    ids=["date unknown", "just ended", "ended 2 minutes ago", "an hour ago"],
)  # fmt: skip
def test_an_attempt_is_asked_about_once_exotel_has_had_time_to_price_it(
    ended: datetime | None, delay: int
) -> None:
    # Given 5 minutes for Exotel to price a call, and an SQS client recording what it is sent
    sent: list[dict[str, Any]] = []

    class Sqs:
        def send_message_batch(self, **request: Any) -> dict[str, Any]:
            sent.extend(request["Entries"])
            return {"Successful": []}

    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    queue = DetailsQueue(Sqs(), "url", timedelta(minutes=5), clock=lambda: now)  # type: ignore[arg-type]

    # When an attempt that ended then is sent
    queue.send_all([({"call_sid": "c1"}, ended)])

    # Then it waits until 5 minutes after it ended
    assert [entry["DelaySeconds"] for entry in sent] == [delay]
