"""Building a normalised callback from decoded fields: the JSON that goes on a queue.

Plain Python on purpose: this runs in the receiver, where importing pydantic would cost about
100 ms of every cold start (measured by `make bench`). The pydantic models of the same JSON, for
the code that consumes it, are in `messages.py`; tests prove the two agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from exotel_webhooks.intake.body import SentField
from exotel_webhooks.intake.errors import UnusableCallback
from exotel_webhooks.normalise import (
    normalise_call_status,
    normalise_campaign_status,
    normalise_phone,
    parse_identifier_list,
    parse_timestamp,
)
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import (
    MAX_CALLBACK_BYTES,
    MAX_NESTING,
    MAX_URL_LENGTH,
    CallbackType,
    check_identifier,
    check_plausible,
    nesting_exceeds,
)


@dataclass(frozen=True)
class FieldSpec:
    """A callback field: the normalised names it may arrive under (preferred first)."""

    names: tuple[str, ...]
    kind: str  # identifier | status | timestamp | phone | identifiers | text
    required: bool = False


_COMMON_FIELDS = {
    "campaign_sid": FieldSpec(("campaignsid",), "identifier", required=True),
    "status": FieldSpec(("status",), "status", required=True),
    "date_created": FieldSpec(("datecreated",), "timestamp"),
    "date_updated": FieldSpec(("dateupdated",), "timestamp"),
}
CALLBACK_FIELDS: dict[CallbackType, dict[str, FieldSpec]] = {
    CallbackType.CALL_STATUS: {
        **_COMMON_FIELDS,
        "call_sid": FieldSpec(("callsid",), "identifier", required=True),
        "number": FieldSpec(("number", "to", "callto", "phonenumber"), "phone", required=True),
    },
    CallbackType.CALL_SCHEDULE: {
        **_COMMON_FIELDS,
        "to": FieldSpec(("to", "number", "callto", "phonenumber"), "phone", required=True),
        "from": FieldSpec(("from", "callfrom", "exophone"), "phone"),
        "call_sids": FieldSpec(("callsids",), "identifiers"),
    },
    CallbackType.CAMPAIGN_STATUS: {
        **_COMMON_FIELDS,
        "report_url": FieldSpec(("reporturl",), "text"),
    },
}

_STATUS_NORMALISERS: dict[CallbackType, Callable[[str], str]] = {
    CallbackType.CALL_STATUS: normalise_call_status,
    CallbackType.CALL_SCHEDULE: normalise_call_status,
    CallbackType.CAMPAIGN_STATUS: normalise_campaign_status,
}


@dataclass(frozen=True)
class NormalisedCallback:
    """One callback in the contract's normal form; `fields` is its JSON object."""

    callback_type: CallbackType
    fields: dict[str, Any]

    @cached_property
    def event_id(self) -> str:
        """The same callback delivered again, in any encoding of the same values, gets the
        same id."""
        canonical = json.dumps(self.fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(f"{self.callback_type}\n{canonical}".encode()).hexdigest()[:32]

    def queued_event(self, received_at: datetime) -> str:
        """The queue message (messages.QueuedCallback reads it), or UnusableCallback if it could not
        be stored: text that is not Unicode, numbers JSON cannot carry, or too many bytes once
        escaped. ASCII-escaped, as SQS accepts only some characters, and as the table stores
        `extra`."""
        try:
            json.dumps(self.fields, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise UnusableCallback("text that is not valid Unicode (a lone surrogate)") from error
        try:
            callback = json.dumps(self.fields, separators=(",", ":"), allow_nan=False)
        except ValueError as error:
            raise UnusableCallback("a number JSON cannot carry (NaN or Infinity)") from error
        if len(callback) > MAX_CALLBACK_BYTES:
            raise UnusableCallback(
                f"too large to store: {len(callback)} bytes once escaped, over {MAX_CALLBACK_BYTES}"
            )
        envelope = json.dumps(
            {
                "event_id": self.event_id,
                "callback_type": str(self.callback_type),
                "received_at": received_at.isoformat(),
                "callback": None,
            },
            separators=(",", ":"),
        )
        return envelope.removesuffix("null}") + callback + "}"


def build_callback(
    callback_type: CallbackType,
    sent: Mapping[str, SentField],
    rules: NormalisationRules,
    received_at: datetime,
) -> NormalisedCallback:
    """Normalise decoded fields into the callback's normal form, or say why they are unusable.
    `received_at` (when API Gateway received the request) bounds the plausible dates."""
    specs = CALLBACK_FIELDS[callback_type]
    fields: dict[str, Any] = {}
    problems: list[str] = []
    used: set[str] = set()
    for name, spec in specs.items():
        sent_key = next((key for key in spec.names if key in sent), None)
        if sent_key is not None:
            used.add(sent_key)
        try:
            fields.update(_normalised(callback_type, name, spec, sent.get(sent_key or ""), rules))
        except ValueError as error:
            problems.append(f"{name}: {error}")
            continue
        if spec.kind == "timestamp" and fields.get(name):
            try:
                check_plausible(name, datetime.fromisoformat(fields[name]), received_at)
            except ValueError as error:
                problems.append(str(error))
        if spec.required and fields.get(name) is None:
            problems.append(f"missing {name}")
    if problems:
        raise UnusableCallback("; ".join(problems))
    fields["extra"] = {
        field.name: field.values[0] if len(field.values) == 1 else field.values
        for key, field in sent.items()
        if key not in used
    }
    if nesting_exceeds(fields["extra"], MAX_NESTING):
        raise UnusableCallback(f"extra fields nested deeper than {MAX_NESTING} levels")
    return NormalisedCallback(callback_type, fields)


def _normalised(
    callback_type: CallbackType,
    name: str,
    spec: FieldSpec,
    sent: SentField | None,
    rules: NormalisationRules,
) -> dict[str, Any]:
    if spec.kind == "identifiers":
        identifiers = parse_identifier_list(sent.values) if sent else []
        for identifier in identifiers:
            check_identifier(identifier)
        return {name: identifiers}
    text = _single_text(sent) if sent else None
    if text is not None and spec.kind in {"identifier", "phone"}:
        check_identifier(text)
    if spec.kind == "phone":
        phone = normalise_phone(text, rules.default_phone_region) if text else None
        return {name: phone.key if phone else None, f"{name}_raw": phone.raw if phone else None}
    if text is None:
        return {name: None}
    if spec.kind == "status":
        return {name: check_identifier(_STATUS_NORMALISERS[callback_type](text))}
    if spec.kind == "timestamp":
        return {name: parse_timestamp(text, rules.local_timezone).isoformat()}
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"longer than {MAX_URL_LENGTH} characters")
    return {name: text}


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
