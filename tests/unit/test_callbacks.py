"""Decoding bodies and building callbacks: every encoding the contract names, and clear reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import build_callback
from exotel_webhooks.intake.errors import UnusableCallback
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType

RULES = NormalisationRules()
RECEIVED = datetime(2024, 1, 15, 4, 0, tzinfo=UTC)  # when API Gateway received the request
FORM = "application/x-www-form-urlencoded"
CALL_STATUS = {
    "campaign_sid": "camp_abc123",
    "call_sid": "call_def456",
    "number": "+919876543210",
    "status": "completed",
    "date_updated": "2024-01-15T09:05:47+05:30",
}


def build(callback_type: CallbackType, body: bytes, content_type: str | None) -> dict[str, Any]:
    return build_callback(callback_type, decode_fields(body, content_type), RULES, RECEIVED).fields


sids = st.lists(st.from_regex(r"call_[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=5)
sids = sids.map(lambda values: list(dict.fromkeys(values)))


def form_encodings(identifiers: list[str]) -> list[list[tuple[str, str]]]:
    indexed = [(f"call_sids[{i}]", sid) for i, sid in enumerate(identifiers)]
    return [
        [("call_sids", sid) for sid in identifiers],
        [("call_sids[]", sid) for sid in identifiers],
        list(reversed(indexed)),
        [("CallSids", ",".join(identifiers))],
    ]


@given(sids)
def test_call_sids_arrive_in_order_whatever_the_form_list_encoding(identifiers: list[str]) -> None:
    # Given a call schedule callback whose call_sids use each form list encoding
    base = [("campaign_sid", "camp_1"), ("to", "09876543210"), ("status", "failed")]
    for encoding in form_encodings(identifiers):
        body = urlencode(base + encoding).encode()

        # When it is built
        callback = build(CallbackType.CALL_SCHEDULE, body, FORM)

        # Then the identifiers are the ones sent, in order
        assert callback["call_sids"] == identifiers


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(CALL_STATUS), "application/json"),
        (json.dumps(CALL_STATUS), "application/json; charset=utf-8"),
        (json.dumps(CALL_STATUS), "text/plain"),  # mislabelled JSON is recognised
        (json.dumps(CALL_STATUS), None),
        (urlencode(CALL_STATUS), FORM),
        (urlencode(CALL_STATUS), None),  # unlabelled form is recognised
    ],
)
def test_json_and_form_bodies_give_the_same_callback(body: str, content_type: str | None) -> None:
    callback = build(CallbackType.CALL_STATUS, body.encode(), content_type)
    assert (callback["call_sid"], callback["number"], callback["status"]) == (
        "call_def456",
        "+919876543210",
        "completed",
    )


def test_form_body_in_a_declared_charset_is_decoded() -> None:
    body = f"campaign_sid=camp_1&status=Completed&note={quote('café', encoding='latin-1')}"
    callback = build(
        CallbackType.CAMPAIGN_STATUS,
        body.encode("latin-1"),
        f"{FORM}; charset=ISO-8859-1",
    )
    assert callback == {
        "campaign_sid": "camp_1",
        "status": "Completed",
        "date_created": None,
        "date_updated": None,
        "report_url": None,
        "extra": {"note": "café"},
    }


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/json", "empty body"),
        (b"   ", FORM, "empty body"),
        (b"\xff\xfe\x00garbage", "application/json", "body is not valid utf-8"),
        (b"[1, 2]", "application/json", "JSON body is not an object"),
        (b'{"campaign_sid": ', "application/json", "body is not valid JSON"),
        (b"just some words", "text/plain", "body is neither JSON nor form-encoded"),
        (b"<xml/>", "application/xml", "body is neither JSON nor form-encoded"),
        # a multipart form's parts hold the fields, with its boundary lines between them: its
        # text has `=` in it and would otherwise read as a form missing every field
        (
            b'--b\r\nContent-Disposition: form-data; name="campaign_sid"\r\n\r\nc1\r\n--b--',
            "multipart/form-data; boundary=b",
            "unsupported content type multipart/form-data",
        ),
    ],
)
def test_undecodable_bodies_say_why(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(UnusableCallback) as raised:
        decode_fields(body, content_type)
    assert raised.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"call_sid": "c", "number": "1", "status": "busy"}, "missing campaign_sid"),
        ({"campaign_sid": "x", "number": "1", "status": "busy"}, "missing call_sid"),
        ({"campaign_sid": "x", "call_sid": "c", "status": "busy"}, "missing number"),
        ({"campaign_sid": "x", "call_sid": "c", "number": "1"}, "missing status"),
        ({"campaign_sid": " ", "call_sid": "c", "number": "1", "status": "x"}, "missing campaign"),
        (
            {"campaign_sid": "x", "call_sid": {"a": 1}, "number": "1", "status": "busy"},
            "call_sid: expected text, got dict",
        ),
        (
            {
                "campaign_sid": "x",
                "call_sid": "c",
                "number": "1",
                "status": "b",
                "date_created": "?",
            },
            "date_created: unrecognised timestamp",
        ),
    ],
)
def test_unusable_callbacks_say_which_field(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(UnusableCallback) as raised:
        build(CallbackType.CALL_STATUS, json.dumps(fields).encode(), "application/json")
    assert raised.value.reason.startswith(reason)


def test_a_field_sent_twice_must_agree() -> None:
    # Given status sent twice in one form: once the same, once different
    same = urlencode([*CALL_STATUS.items(), ("Status", "completed")]).encode()
    different = urlencode([*CALL_STATUS.items(), ("Status", "failed")]).encode()

    # Then agreeing repeats are fine and disagreeing ones are unusable
    assert build(CallbackType.CALL_STATUS, same, FORM)["status"] == "completed"
    with pytest.raises(UnusableCallback, match="status: sent more than once"):
        build(CallbackType.CALL_STATUS, different, FORM)


def test_unknown_fields_are_kept_under_the_names_they_were_sent() -> None:
    body = {**CALL_STATUS, "Duration": 47, "RecordingUrl": "https://r", "custom_field": {"a": [1]}}
    callback = build(CallbackType.CALL_STATUS, json.dumps(body).encode(), "application/json")
    assert callback["extra"] == {
        "Duration": 47,
        "RecordingUrl": "https://r",
        "custom_field": {"a": [1]},
    }


def test_alias_field_names_are_understood_and_the_preferred_one_wins() -> None:
    # Given a call status with its number under "To", and a schedule with both "to" and "number"
    call = {**{k: v for k, v in CALL_STATUS.items() if k != "number"}, "To": "09876543210"}
    schedule = {"campaign_sid": "c", "status": "failed", "to": "09876543210", "number": "1"}

    built_call = build(CallbackType.CALL_STATUS, json.dumps(call).encode(), "application/json")
    built_schedule = build(
        CallbackType.CALL_SCHEDULE, json.dumps(schedule).encode(), "application/json"
    )

    assert built_call["number"] == "+919876543210"
    assert built_schedule["to"] == "+919876543210"
    assert built_schedule["extra"] == {"number": "1"}


def test_event_id_depends_on_content_and_type_only() -> None:
    def event_id(callback_type: CallbackType, fields: dict[str, str]) -> str:
        body = json.dumps(fields).encode()
        return build_callback(callback_type, decode_fields(body, None), RULES, RECEIVED).event_id

    same_id = event_id(CallbackType.CALL_STATUS, CALL_STATUS)
    assert event_id(CallbackType.CALL_STATUS, dict(reversed(CALL_STATUS.items()))) == same_id
    assert event_id(CallbackType.CALL_STATUS, {**CALL_STATUS, "status": "busy"}) != same_id
    schedule = {**CALL_STATUS, "to": CALL_STATUS["number"]}
    assert event_id(CallbackType.CALL_SCHEDULE, schedule) != event_id(
        CallbackType.CALL_STATUS, schedule
    )


def test_identifiers_longer_than_the_limit_are_unusable() -> None:
    long_sid = {**CALL_STATUS, "call_sid": "c" * 257}
    with pytest.raises(UnusableCallback, match="call_sid: longer than 256 bytes"):
        build(CallbackType.CALL_STATUS, json.dumps(long_sid).encode(), "application/json")
