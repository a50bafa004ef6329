"""The three Exotel campaign callbacks, normalised, and the event that carries one on a queue."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
)

from exotel_webhooks.errors import UnusableCallback
from exotel_webhooks.normalise import (
    normalise_call_status,
    normalise_campaign_status,
    normalise_phone,
    parse_identifier_list,
    parse_timestamp,
)
from exotel_webhooks.request_body import SentField
from exotel_webhooks.settings import NormalisationRules


class CallbackType(StrEnum):
    """Which webhook a request came to; also the last segment of its route."""

    CALL_STATUS = "call-status"
    CALL_SCHEDULE = "call-schedule"
    CAMPAIGN_STATUS = "campaign-status"


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Callback(BaseModel):
    """What every callback carries. `extra` keeps unknown fields under the names they were sent."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True
    )

    campaign_sid: Identifier
    status: Identifier
    date_created: AwareDatetime | None = None
    date_updated: AwareDatetime | None = None
    extra: dict[str, JsonValue] = Field(default_factory=dict)


class CallStatusCallback(Callback):
    """One call attempt (every retry has its own call SID)."""

    call_sid: Identifier
    number: Identifier  # E.164 where it parses, else as sent
    number_raw: str


class CallScheduleCallback(Callback):
    """A number's final outcome once its retries are exhausted."""

    to: Identifier  # E.164 where it parses, else as sent
    to_raw: str
    from_: str | None = Field(default=None, alias="from")  # the ExoPhone
    from_raw: str | None = None
    call_sids: list[Identifier] = Field(default_factory=list)


class CampaignStatusCallback(Callback):
    """The campaign's status; a final one carries the report URL."""

    report_url: str | None = None


CALLBACK_MODELS: dict[CallbackType, type[Callback]] = {
    CallbackType.CALL_STATUS: CallStatusCallback,
    CallbackType.CALL_SCHEDULE: CallScheduleCallback,
    CallbackType.CAMPAIGN_STATUS: CampaignStatusCallback,
}


class QueuedEvent[C: Callback](BaseModel):
    """The message a receiver puts on its callback type's queue."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    callback_type: CallbackType
    received_at: AwareDatetime
    callback: C

    @classmethod
    def of(cls, callback_type: CallbackType, callback: C, received_at: datetime) -> QueuedEvent[C]:
        return cls(
            event_id=event_id_for(callback_type, callback),
            callback_type=callback_type,
            received_at=received_at,
            callback=callback,
        )


def event_id_for(callback_type: CallbackType, callback: Callback) -> str:
    """The same callback delivered again, in any encoding of the same values, gets the same id."""
    canonical = json.dumps(
        callback.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(f"{callback_type}\n{canonical}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- building a callback
# Each model field and the normalised names it may arrive under, the preferred name first.
_COMMON_NAMES = {
    "campaign_sid": ("campaignsid",),
    "status": ("status",),
    "date_created": ("datecreated",),
    "date_updated": ("dateupdated",),
}
_FIELD_NAMES: dict[CallbackType, dict[str, tuple[str, ...]]] = {
    CallbackType.CALL_STATUS: {
        **_COMMON_NAMES,
        "call_sid": ("callsid",),
        "number": ("number", "to", "callto", "phonenumber"),
    },
    CallbackType.CALL_SCHEDULE: {
        **_COMMON_NAMES,
        "to": ("to", "number", "callto", "phonenumber"),
        "from": ("from", "callfrom", "exophone"),
        "call_sids": ("callsids",),
    },
    CallbackType.CAMPAIGN_STATUS: {**_COMMON_NAMES, "report_url": ("reporturl",)},
}
_PHONE_FIELDS = {"number", "to", "from"}
_LIST_FIELDS = {"call_sids"}

_STATUS_NORMALISERS: dict[CallbackType, Callable[[str], str]] = {
    CallbackType.CALL_STATUS: normalise_call_status,
    CallbackType.CALL_SCHEDULE: normalise_call_status,
    CallbackType.CAMPAIGN_STATUS: normalise_campaign_status,
}


def build_callback(
    callback_type: CallbackType, fields: Mapping[str, SentField], rules: NormalisationRules
) -> Callback:
    """Normalise decoded fields into the callback model, or say why they are unusable."""
    names = _FIELD_NAMES[callback_type]
    values: dict[str, object] = {}
    problems: list[str] = []
    used: set[str] = set()
    for model_field, accepted_names in names.items():
        sent_key = next((key for key in accepted_names if key in fields), None)
        if sent_key is None:
            continue
        used.add(sent_key)
        sent = fields[sent_key]
        try:
            values.update(_normalised(callback_type, model_field, sent, rules))
        except ValueError as error:
            problems.append(f"{model_field}: {error}")
    extra = {
        sent.name: sent.values[0] if len(sent.values) == 1 else sent.values
        for key, sent in fields.items()
        if key not in used
    }
    if problems:
        raise UnusableCallback("; ".join(problems))
    try:
        return CALLBACK_MODELS[callback_type].model_validate({**values, "extra": extra})
    except ValidationError as error:
        raise UnusableCallback(describe_validation_error(error)) from error


def _normalised(
    callback_type: CallbackType, model_field: str, sent: SentField, rules: NormalisationRules
) -> dict[str, object]:
    if model_field in _LIST_FIELDS:
        return {model_field: parse_identifier_list(sent.values)}
    text = _single_text(sent)
    if text is None:
        return {}
    if model_field in _PHONE_FIELDS:
        phone = normalise_phone(text, rules.default_phone_region)
        return {model_field: phone.key, f"{model_field}_raw": phone.raw}
    if model_field == "status":
        return {"status": _STATUS_NORMALISERS[callback_type](text)}
    if model_field.startswith("date_"):
        return {model_field: parse_timestamp(text, rules.local_timezone)}
    return {model_field: text}


def _single_text(sent: SentField) -> str | None:
    """One text value; a blank counts as absent. Repeats must agree."""
    texts = set()
    for value in sent.values:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"expected text, got {type(value).__name__}")
        texts.add(str(value).strip())
    texts.discard("")
    if len(texts) > 1:
        raise ValueError("sent more than once with different values")
    return texts.pop() if texts else None


def describe_validation_error(error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        location = ".".join(str(part) for part in detail["loc"])
        problems.append(
            f"missing {location}" if detail["type"] == "missing" else f"{location}: {detail['msg']}"
        )
    return "; ".join(problems)
