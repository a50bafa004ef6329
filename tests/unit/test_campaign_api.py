"""Exotel's Campaign API client (sweep/campaign_api.py): what it reads from each answer, and a
clear error or a retry for each bad one."""

from __future__ import annotations

import base64
import json
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from exotel_webhooks.reports.safe_http import TransientFetchFailure
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.campaign_api import (
    ApiCredentials,
    CampaignApi,
    CampaignApiRefused,
    CampaignApiUnavailable,
    retry_after,
)
from exotel_webhooks.sweep.pacing import Pacer

CREDENTIALS = ApiCredentials("key", "token", "acct_1")


class FakeExotel:
    """Answers in order; records each request."""

    def __init__(self, *answers: tuple[int, str, object] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append((url, headers))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, content_type, body = answer
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return status, content_type, raw


def api(fake: FakeExotel, slept: list[float] | None = None) -> CampaignApi:
    return CampaignApi(
        "api.exotel.com",
        CREDENTIALS,
        NormalisationRules(),
        send=fake,
        sleep=(slept if slept is not None else []).append,
    )


def ok(body: object) -> tuple[int, str, object]:
    return 200, "application/json", body


ROW = {
    "number": "09876543210",
    "status": "no-answer",
    "call_sid": "call_1",
    "date_created": "2024-01-15T09:05:00+05:30",
    "end_time": "2024-01-15T09:05:47+05:30",
}


def test_the_campaign_object_is_read_inside_its_envelope_or_bare() -> None:
    wrapped = {"response": [{"code": 200, "data": {"id": "camp_1", "status": "in-progress",
               "date_updated": "2024-01-15T09:00:00+05:30"}}]}  # fmt: skip
    fake = FakeExotel(ok(wrapped), ok({"status": "Completed"}))

    first = api(fake).campaign("camp_1")
    assert (first.status, first.date_updated) == (
        "InProgress",
        datetime(2024, 1, 15, 3, 30, tzinfo=UTC),
    )
    assert api(fake).campaign("camp_1").status == "Completed"

    # And each request is HTTPS to the account's path, with the key and token as Basic auth
    url, headers = fake.requests[0]
    assert url == "https://api.exotel.com/v2/accounts/acct_1/campaigns/camp_1"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"key:token").decode()


def test_a_page_of_calls_is_read_tolerantly_and_unusable_rows_are_counted() -> None:
    # Given a page with a bare row, a wrapped PascalCase row, and three it cannot use
    page = {
        "metadata": {"count": 5, "offset": 0, "total": 7, "limit": 5},
        "response": [
            ROW,
            {"data": {"PhoneNumber": "+919812345678", "Status": "Completed", "CallSid": "call_2"}},
            {"number": "0981", "status": "busy"},
            {"call_sid": "call_4", "status": "busy"},
            "not a row",
        ],
    }
    result = api(FakeExotel(ok(page))).call_page("camp_1", offset=0, limit=5)

    # Then the usable rows are normalised as callbacks are, and the rest say why
    assert [(c.call_sid, c.number, c.status) for c in result.calls] == [
        ("call_1", "+919876543210", "no-answer"),
        ("call_2", "+919812345678", "completed"),
    ]
    assert result.calls[0].date_updated == datetime(2024, 1, 15, 3, 35, 47, tzinfo=UTC)
    assert result.calls[1].date_updated is None
    assert (result.rows, result.total) == (5, 7)
    assert [(r.reason, str(r)) for r in result.refused] == [
        ("no_call_sid", "a row without a call SID"),
        ("no_number", "call call_4: no number"),
        ("not_an_object", "a row that is not an object"),
    ]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((401, "application/json", {}), "HTTP 401: the API key, token or account SID is refused"),
        ((403, "application/json", {}), "HTTP 403"),
        ((404, "application/json", {}), "HTTP 404"),
        ((200, "text/html", b"<html>login</html>"), "answered an HTML page"),
        ((200, "application/json", b"{truncated"), "is not JSON"),
        ((200, "application/json", [1, 2]), "is not a JSON object"),
        ((200, "application/json", {"response": "nope"}), "`response` is not a list"),
    ],
)
def test_an_answer_that_will_not_change_is_a_clear_refusal(
    answer: tuple[int, str, object], reason: str
) -> None:
    # (a 404 is asked again in the calls route's other spelling, and answered the same)
    with pytest.raises(CampaignApiRefused, match=reason):
        api(FakeExotel(answer, answer)).call_page("camp_1", 0, 50)


def test_429_5xx_and_lost_connections_are_retried_with_backoff_then_given_up() -> None:
    # Given an API that throttles, fails and drops the connection before answering
    slept: list[float] = []
    fake = FakeExotel(
        (429, "application/json", {}),
        (503, "text/html", b"<html>busy</html>"),
        TransientFetchFailure("ReadTimeoutError from api.exotel.com"),
        ok({"response": [ROW], "metadata": {"total": 1}}),
    )

    # Then the page arrives after waits of 1, 2 and 4 s
    assert len(api(fake, slept).call_page("camp_1", 0, 50).calls) == 1
    assert slept == [1.0, 2.0, 4.0]

    # And an API that never recovers is unavailable (the sweep resumes on its next run)
    down = FakeExotel(*[(502, "text/html", b"")] * 4)
    with pytest.raises(CampaignApiUnavailable, match="HTTP 502"):
        api(down).campaign("camp_1")


def test_the_api_host_must_resolve_to_public_addresses_only() -> None:
    # Given a DNS answer that points the API's host at a private address
    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    client = CampaignApi("api.exotel.com", CREDENTIALS, NormalisationRules(), resolve=resolve)

    # Then nothing is sent there
    with pytest.raises(CampaignApiRefused, match=r"private address 10\.0\.0\.7"):
        client.campaign("camp_1")


def test_credentials_come_from_the_secret_and_a_missing_one_is_named() -> None:
    secret = {"api_key": "k", "api_token": "t", "account_sid": "a"}
    assert ApiCredentials.from_secret(secret) == ApiCredentials("k", "t", "a")
    with pytest.raises(CampaignApiRefused, match="no api_token"):
        ApiCredentials.from_secret({"api_key": "k", "account_sid": "a"})


def page(rows: list[dict[str, Any]]) -> tuple[int, str, object]:
    return ok({"metadata": {"total": len(rows)}, "response": rows})


def test_a_404_on_the_calls_route_tries_the_other_spelling_once_and_keeps_to_it() -> None:
    # Given an account whose API answers only the older, singular spelling
    missing = (404, "application/json", {"message": "not found"})
    fake = FakeExotel(missing, page([ROW]), page([]))
    client = api(fake)

    # When two pages are read
    first = client.call_page("camp_1", 0, 1)
    client.call_page("camp_1", 1, 1)

    # Then the plural was tried once, and the singular answered both pages
    paths = [url.split("?")[0].split("/acct_1")[1] for url, _ in fake.requests]
    assert paths == [
        "/campaigns/camp_1/call-details",
        "/campaign/camp_1/call-details",
        "/campaign/camp_1/call-details",
    ]
    assert first.rows == 1


def test_a_404_on_both_spellings_is_refused() -> None:
    missing = (404, "application/json", {"message": "not found"})
    with pytest.raises(CampaignApiRefused, match="404"):
        api(FakeExotel(missing, missing)).call_page("camp_1", 0, 10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced(fake: FakeExotel, clock: Clock, per_minute: float = 30) -> CampaignApi:
    return CampaignApi(
        "api.exotel.com",
        CREDENTIALS,
        NormalisationRules(),
        send=fake,
        sleep=clock.sleep,
        pacer=Pacer(per_minute, clock.sleep, lambda: clock.now),
    )


def test_requests_are_paced_to_the_accounts_limit() -> None:
    # Given Exotel's 30 requests a minute
    clock = Clock()
    client = paced(FakeExotel(page([ROW]), page([ROW]), page([])), clock)

    # When three pages are read at once
    for offset in range(3):
        client.call_page("camp_1", offset, 1)

    # Then each request waited for its turn: one every 2 s
    assert clock.slept == [2.0, 2.0]


class HeadedExotel(FakeExotel):
    """Answers with headers too, as the real sender does."""

    def __init__(self, *answers: tuple[int, str, object, dict[str, str]]) -> None:
        super().__init__(*[answer[:3] for answer in answers])
        self.headers = [answer[3] for answer in answers]

    def __call__(self, url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        answer = super().__call__(url, headers)
        return (*answer, self.headers.pop(0))  # type: ignore[return-value]


def test_a_429_waits_as_long_as_the_api_says() -> None:
    # Given an API that answers 429 asking for 7 s, then the page
    clock = Clock()
    fake = HeadedExotel(
        (429, "application/json", {}, {"Retry-After": "7", "X-RateLimit-Remaining": "0"}),
        (*page([ROW]), {}),
    )

    # When a page is read
    paced(fake, clock).call_page("camp_1", 0, 1)

    # Then the retry waited the 7 s asked for (not the fixed backoff's 1 s)
    assert clock.slept == [7.0]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"Retry-After": "Wed, 02 Dec 2026 10:00:30 GMT"}, 30.0),
        ({"X-RateLimit-Reset": "20"}, 20.0),
        (
            {"X-RateLimit-Reset": str(datetime(2026, 12, 2, 10, 0, 45, tzinfo=UTC).timestamp())},
            45.0,
        ),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_each_of_its_forms(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert retry_after(headers, datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)) == seconds


def test_a_wait_longer_than_a_sweep_should_hold_stops_it_for_the_next_run() -> None:
    fake = HeadedExotel((429, "application/json", {}, {"Retry-After": "3600"}))
    with pytest.raises(CampaignApiUnavailable):
        paced(fake, Clock()).call_page("camp_1", 0, 1)
