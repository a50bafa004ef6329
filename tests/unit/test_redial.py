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
    listed = redial_list(attempts, outcomes, ("busy", "no-answer"), IST, not_found=2)

    # Then each number ending busy or unanswered is listed once, in E.164, under `number`
    assert listed.csv() == "number\n+919800000001\n+919800000003\n"
    # and what could not be listed says why: retries not over, a mask, outcomes no attempt names
    assert listed.left_out == {
        "no final outcome yet": 1,
        "number masked or partial (not dialable)": 1,
        "outcome stored without an attempt (not found; make sweep recovers them)": 2,
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


def test_a_masked_subscribers_retries_are_one_number_left_out_once() -> None:
    # Given a masked subscriber whose two retries are keyed by their own call SIDs, and its
    # outcome keyed under the first
    attempts = [
        {"number": "0XXXXXX4890@call_1", "call_sid": "call_1", "status": "busy"},
        {"number": "0XXXXXX4890@call_2", "call_sid": "call_2", "status": "busy"},
    ]
    outcomes = {"0XXXXXX4890@call_1": {"status": "busy", "call_sids": ["call_1", "call_2"]}}

    listed = redial_list(attempts, outcomes, ("busy",), IST)

    # Then it is one masked number, not also a number without an outcome
    assert listed.left_out == {"number masked or partial (not dialable)": 1}


def test_an_outcome_that_is_not_final_is_no_final_outcome_yet() -> None:
    attempts = [{"number": "+919800000001", "call_sid": "c1", "status": "ringing"}]
    outcomes = {"+919800000001": {"status": "in-progress"}}

    listed = redial_list(attempts, outcomes, ("busy",), IST)

    assert listed.left_out == {"no final outcome yet": 1}


def test_hours_are_read_from_when_the_call_was_dialled_and_only_final_attempts_count() -> None:
    # Given attempts dialled at 09:xx IST that ended at 10:xx, one stamped without a zone (read
    # in the campaign's), one unreadable, and one still ringing
    dialled = "2024-01-15T03:50:00+00:00"  # 09:20 IST; ended 10:10 IST
    attempts: list[dict[str, str]] = [
        {"number": f"+91980000{i:04d}", "call_sid": f"c{i}", "status": "completed",
         "date_created": dialled, "date_updated": "2024-01-15T04:40:00+00:00"}
        for i in range(5)
    ]  # fmt: skip
    attempts += [
        {"number": "+919800009998", "call_sid": "n", "status": "busy",
         "date_created": "2024-01-15 09:10:00"},
        {"number": "+919800009999", "call_sid": "x", "status": "busy", "date_created": "soon"},
        {"number": "+919800009997", "call_sid": "r", "status": "ringing", "date_created": dialled},
    ]  # fmt: skip

    listed = redial_list(attempts, {}, ("busy",), IST)

    assert [(r.hour, r.attempts, r.connected) for r in listed.best_hours] == [(9, 6, 5)]


def test_a_refused_status_is_not_echoed_in_full() -> None:
    with pytest.raises(UnknownStatus) as refused:
        redial_statuses("+919876543210")
    assert "9876543210" not in str(refused.value)
