"""Whom to call again (views/redial.py): the list, what it leaves out, the best hours."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
import yaml

from exotel_webhooks.views.redial import (
    DEFAULT_REDIAL_STATUSES,
    FINAL_CALL_STATUSES,
    UnknownStatus,
    redial_list,
    redial_statuses,
)
from localaws.template import PROJECT_ROOT

IST = ZoneInfo("Asia/Kolkata")


def attempt(number: str, status: str, utc: str) -> dict[str, str]:
    return {"number": number, "status": status, "date_updated": utc}


def test_statuses_are_read_in_any_spelling_and_default_to_the_unanswered() -> None:
    assert redial_statuses(None) == redial_statuses(" ") == DEFAULT_REDIAL_STATUSES
    assert redial_statuses("Busy,No Answer,no_answer") == ("busy", "no-answer")


@pytest.mark.parametrize("text", ["busy,ringing", "voicemail", "in-progress", ",,"])
def test_a_status_that_is_not_a_final_call_status_is_refused_by_name(text: str) -> None:
    with pytest.raises(UnknownStatus, match="is not a final call status"):
        redial_statuses(text)


def test_numbers_whose_final_outcome_is_asked_for_are_listed_as_exotels_csv() -> None:
    # Given a campaign's attempts and its numbers' final outcomes
    attempts = [
        attempt("+919800000001", "busy", "2024-01-15T04:00:00+00:00"),
        attempt("+919800000001", "busy", "2024-01-15T05:00:00+00:00"),
        attempt("+919800000002", "completed", "2024-01-15T04:10:00+00:00"),
        attempt("+919800000003", "no-answer", "2024-01-15T04:20:00+00:00"),
        attempt("+919800000004", "failed", "2024-01-15T04:30:00+00:00"),
        attempt("0XXXXXX4890@call_9", "busy", "2024-01-15T04:40:00+00:00"),
    ]
    outcomes = {
        "+919800000001": {"status": "busy"},
        "+919800000002": {"status": "completed"},
        "+919800000003": {"status": "no-answer"},
        "0XXXXXX4890@call_9": {"status": "busy"},
    }

    # When the unanswered are asked for
    listed = redial_list(attempts, outcomes, ("busy", "no-answer"), IST, only_in_report=2)

    # Then each number ending busy or unanswered is listed once, in E.164, under `number`
    assert listed.csv() == "number\n+919800000001\n+919800000003\n"
    # and what could not be listed says why: retries not over, a mask, the report's own
    assert listed.left_out == {
        "no final outcome yet": 1,
        "number masked or partial (not dialable)": 1,
        "known only from the report (no attempt stored)": 2,
    }


def test_the_best_hours_are_those_that_connected_best_in_the_campaigns_zone() -> None:
    # Given 10 attempts at 09:30 IST (4 connected) and 10 at 18:30 IST (8 connected)
    attempts = [
        attempt(f"+9198000001{i:02d}", "completed" if i < 4 else "busy", "2024-01-15T04:00:00Z")
        for i in range(10)
    ] + [
        attempt(f"+9198000002{i:02d}", "completed" if i < 8 else "busy", "2024-01-15T13:00:00Z")
        for i in range(10)
    ]
    # and an hour with too few attempts to say anything
    attempts.append(attempt("+919800000300", "completed", "2024-01-15T06:30:00Z"))

    listed = redial_list(attempts, {}, ("busy",), IST)

    assert [(r.hour, r.attempts, r.connected) for r in listed.best_hours] == [
        (18, 10, 8),
        (9, 10, 4),
    ]


def test_every_spelling_the_api_description_allows_is_a_final_status() -> None:
    # Given the statuses openapi.yaml's pattern spells out
    description = yaml.safe_load((PROJECT_ROOT / "openapi.yaml").read_text())
    parameters = description["paths"]["/campaigns/{campaign_sid}/redial"]["get"]["parameters"]
    [statuses] = [p for p in parameters if p.get("name") == "statuses"]
    pattern = statuses["schema"]["pattern"]
    spellings = re.search(r"\(([^()]+)\)", pattern)
    assert spellings

    # Then each is read as a final call status, and the pattern takes a list of them
    for spelling in spellings.group(1).split("|"):
        assert redial_statuses(spelling)[0] in FINAL_CALL_STATUSES
    assert re.fullmatch(pattern, "busy, No Answer,failed")
    assert not re.fullmatch(pattern, "busy,voicemail")
