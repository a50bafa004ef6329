"""The receiver builds callbacks without pydantic; consumers read them with the pydantic models.
These properties prove the two describe the same JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import CALLBACK_FIELDS, build_callback
from exotel_webhooks.messages import CALLBACK_MODELS, Callback, QueuedCallback
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType

RULES = NormalisationRules()

identifiers = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
phones = st.sampled_from(["+919876543210", "09876543210", "9812345678", "0XXXXXX4890", "12345"])
timestamps = st.sampled_from(["2024-01-15T09:05:47+05:30", "2024-01-15 09:05:47", "", None])
statuses = st.sampled_from(["completed", "No Answer", "BUSY", "Completed", "in-progress", "odd"])
extras = st.dictionaries(
    st.from_regex(r"x_[a-z]{1,8}", fullmatch=True),
    st.one_of(st.text(max_size=10), st.integers(), st.none()),
    max_size=3,
)


@st.composite
def sent_callbacks(draw: st.DrawFn) -> tuple[CallbackType, dict[str, Any]]:
    callback_type = draw(st.sampled_from(list(CallbackType)))
    fields: dict[str, Any] = {
        "campaign_sid": draw(identifiers),
        "status": draw(statuses),
        "date_created": draw(timestamps),
        "date_updated": draw(timestamps),
        **draw(extras),
    }
    if callback_type is CallbackType.CALL_STATUS:
        fields |= {"call_sid": draw(identifiers), "number": draw(phones)}
    elif callback_type is CallbackType.CALL_SCHEDULE:
        fields |= {
            "to": draw(phones),
            "from": draw(st.one_of(st.none(), phones)),
            "call_sids": draw(st.lists(identifiers, max_size=4)),
        }
    else:
        fields["report_url"] = draw(st.one_of(st.none(), st.just("https://s3.amazonaws.com/r.csv")))
    return callback_type, {k: v for k, v in fields.items() if v is not None}


@given(sent_callbacks(), st.booleans())
def test_every_built_callback_is_valid_for_its_model(
    sent: tuple[CallbackType, dict[str, Any]], as_form: bool
) -> None:
    # Given any valid callback, sent as JSON or as a form
    callback_type, fields = sent
    if as_form:
        pairs = [
            (name, item)
            for name, value in fields.items()
            for item in (value if isinstance(value, list) else [value])
        ]
        body, content_type = urlencode(pairs).encode(), "application/x-www-form-urlencoded"
        fields = {k: v for k, v in fields.items() if v != []}
    else:
        body, content_type = json.dumps(fields).encode(), "application/json"

    # When the receiver builds it and queues it
    received_at = datetime(2024, 1, 15, 3, 35, tzinfo=UTC)
    built = build_callback(callback_type, decode_fields(body, content_type), RULES, received_at)
    message = built.queued_event(received_at)

    # Then the consumers' model reads the message, and says the same as the builder
    model = CALLBACK_MODELS[callback_type]
    event: QueuedCallback[Callback] = QueuedCallback[model].model_validate_json(message)  # type: ignore[valid-type]
    assert event.event_id == built.event_id
    assert event.callback_type is callback_type
    reparsed = json.loads(event.callback.model_dump_json())
    assert set(reparsed) == set(built.fields)
    for name in ("campaign_sid", "status", "call_sid", "number", "to", "from", "call_sids"):
        assert reparsed.get(name) == built.fields.get(name)


def test_builder_and_models_require_the_same_fields() -> None:
    for callback_type, specs in CALLBACK_FIELDS.items():
        model = CALLBACK_MODELS[callback_type]
        required_by_model = {
            field.alias or name for name, field in model.model_fields.items() if field.is_required()
        }
        required_by_builder = {name for name, spec in specs.items() if spec.required}
        phone_raws = {
            f"{name}_raw" for name, spec in specs.items() if spec.required and spec.kind == "phone"
        }
        assert required_by_model == required_by_builder | phone_raws, callback_type
