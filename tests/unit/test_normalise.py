"""The normalisation rules of the contract, as properties over generated input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from exotel_webhooks.normalise import (
    field_key,
    normalise_call_status,
    normalise_campaign_status,
    normalise_phone,
    parse_identifier_list,
    parse_timestamp,
)
from exotel_webhooks.observability import mask_phone

KOLKATA = ZoneInfo("Asia/Kolkata")
words = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True), min_size=1, max_size=4)


# ----------------------------------------------------------------------------- field names
@given(words)
def test_every_spelling_of_a_field_name_has_one_key(name_words: list[str]) -> None:
    # Given one name written in each convention Exotel's pages use (and form list suffixes)
    snake = "_".join(name_words)
    spellings = [
        snake,
        snake.upper(),
        "".join(word.capitalize() for word in name_words),
        name_words[0] + "".join(word.capitalize() for word in name_words[1:]),
        "-".join(name_words),
        " ".join(name_words),
        f"{snake}[]",
        f"{snake}[3]",
    ]

    # When each is keyed, Then all keys agree
    assert {field_key(spelling) for spelling in spellings} == {"".join(name_words)}


# ----------------------------------------------------------------------------- timestamps
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
).map(lambda moment: moment.replace(microsecond=0))


@given(instants)
def test_rfc3339_timestamps_keep_their_instant_and_offset(moment: datetime) -> None:
    # Given a timestamp with an offset, as the campaign pages show it
    text = moment.isoformat()

    # When it is parsed
    parsed = parse_timestamp(text, KOLKATA)

    # Then it is the same instant with the same offset
    assert parsed == moment
    assert parsed.utcoffset() == moment.utcoffset()


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_zoneless_timestamps_are_read_in_the_configured_zone(moment: datetime) -> None:
    # Given Exotel's older "YYYY-MM-DD HH:MM:SS" form, which has no zone
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")

    # When it is parsed with Asia/Kolkata and with UTC configured
    in_kolkata = parse_timestamp(text, KOLKATA)
    in_utc = parse_timestamp(text, ZoneInfo("UTC"))

    # Then it is that wall-clock time in each zone
    assert in_kolkata == moment.replace(tzinfo=KOLKATA)
    assert in_utc - in_kolkata == timedelta(hours=5, minutes=30)


@given(instants)
def test_rfc2822_timestamps_are_understood(moment: datetime) -> None:
    assert parse_timestamp(format_datetime(moment), KOLKATA) == moment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T09:05:47+05:30", "2024-01-15T09:05:47+05:30"),
        ("2024-01-15T03:35:47Z", "2024-01-15T03:35:47+00:00"),
        ("2024-01-15 09:05:47", "2024-01-15T09:05:47+05:30"),
        ("2024-01-15T09:05:47.250", "2024-01-15T09:05:47.250000+05:30"),
        (" 2024-01-15 09:05:47 ", "2024-01-15T09:05:47+05:30"),
    ],
)
def test_timestamp_examples(text: str, expected: str) -> None:
    assert parse_timestamp(text, KOLKATA).isoformat() == expected


@pytest.mark.parametrize("text", ["yesterday", "15/01/2024 09:05", "2024-13-45 99:99:99", ""])
def test_unrecognised_timestamps_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unrecognised timestamp"):
        parse_timestamp(text, KOLKATA)


# ----------------------------------------------------------------------------- statuses
status_text = st.text(min_size=1, max_size=30).filter(lambda text: any(c.isalnum() for c in text))


@given(status_text)
@example("No Answer")
def test_call_status_normalisation_is_idempotent_and_canonical(text: str) -> None:
    try:
        once = normalise_call_status(text)
    except ValueError:
        return  # no ASCII letters or digits at all: nothing to keep
    assert normalise_call_status(once) == once
    assert once == once.lower()
    assert " " not in once
    assert "_" not in once


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("completed", "completed"),
        ("COMPLETED", "completed"),
        ("no-answer", "no-answer"),
        ("No Answer", "no-answer"),
        ("no_answer", "no-answer"),
        ("NoAnswer", "no-answer"),
        ("noanswer", "no-answer"),
        ("busy", "busy"),
        ("Failed", "failed"),
        ("cancelled", "canceled"),
        ("Canceled", "canceled"),
        ("in progress", "in-progress"),
        ("Call Dropped", "call-dropped"),  # unknown values are kept, in the normal form
    ],
)
def test_call_status_spellings(sent: str, expected: str) -> None:
    assert normalise_call_status(sent) == expected


@given(status_text)
def test_campaign_status_normalisation_is_idempotent(text: str) -> None:
    try:
        once = normalise_campaign_status(text)
    except ValueError:
        return
    assert normalise_campaign_status(once) == once
    assert once[0].isupper() or once[0].isdigit()


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("Completed", "Completed"),
        ("completed", "Completed"),
        ("FAILED", "Failed"),
        ("Cancelled", "Canceled"),
        ("InProgress", "InProgress"),
        ("in-progress", "InProgress"),
        ("IN_PROGRESS", "InProgress"),
        ("paused", "Paused"),
        ("created", "Created"),
        ("Archived", "Archived"),
        ("partially done", "PartiallyDone"),
    ],
)
def test_campaign_status_spellings(sent: str, expected: str) -> None:
    assert normalise_campaign_status(sent) == expected


def test_empty_statuses_are_refused() -> None:
    with pytest.raises(ValueError, match="empty status"):
        normalise_call_status(" - ")
    with pytest.raises(ValueError, match="empty status"):
        normalise_campaign_status("")


# ----------------------------------------------------------------------------- phone numbers
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


@given(st.sampled_from(REGIONS))
def test_any_regions_number_in_any_format_becomes_e164(region: str) -> None:
    # Given a real example number of a region, written in international and national forms
    number = phonenumbers.example_number(region)
    if number is None:
        return
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)

    # When each is normalised (national forms with the region as the default)
    results = [
        normalise_phone(e164, "IN"),
        normalise_phone(international, "IN"),
        normalise_phone(national, region),
    ]

    # Then each is the E.164 form, with the raw value kept beside it
    assert [result.e164 for result in results] == [e164, e164, e164]
    assert [result.raw for result in results] == [e164, international, national]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+919876543210", "+919876543210"),
        ("09876543210", "+919876543210"),
        ("9876543210", "+919876543210"),
        ("919876543210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("08047104890", "+918047104890"),
    ],
)
def test_indian_number_shapes(raw: str, e164: str) -> None:
    assert normalise_phone(raw, "IN").e164 == e164


@pytest.mark.parametrize("raw", ["0XXXXXX4890", "12345", "not a number", ""])
def test_masked_or_unparseable_numbers_stay_raw(raw: str) -> None:
    # Letters are a masked number, never a vanity number to translate into digits
    result = normalise_phone(raw, "IN")
    assert result.e164 is None
    assert result.key == raw.strip()


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_masking_hides_all_but_the_country_and_last_four_digits(number: str) -> None:
    masked = mask_phone(number)
    assert masked is not None
    assert masked[:3] == number[:3]
    assert masked[-4:] == number[-4:]
    assert len(masked) == len(number)
    assert set(masked[3:-4]) == {"*"}


# ----------------------------------------------------------------------------- call_sids lists
sids = st.lists(st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True), max_size=6, unique=True)


@given(sids)
def test_every_list_encoding_gives_the_same_identifiers(identifiers: list[str]) -> None:
    encodings: list[list[object]] = [
        [identifiers],  # a JSON array
        list[object](identifiers),  # repeated form keys
        [",".join(identifiers)],  # one comma-separated value
        [", ".join(identifiers)],
        [json.dumps(identifiers)],  # a JSON array inside a string
    ]
    assert all(parse_identifier_list(values) == identifiers for values in encodings)


def test_identifier_lists_drop_blanks_and_repeats_keeping_order() -> None:
    assert parse_identifier_list(["b, a,, b", "c", 42]) == ["b", "a", "c", "42"]


@pytest.mark.parametrize("bad", [[{"sid": "x"}], ["[not json"], [True]])
def test_identifier_lists_refuse_what_is_not_identifiers(bad: list[object]) -> None:
    with pytest.raises(ValueError, match=r"identifier|JSON"):
        parse_identifier_list(bad)
