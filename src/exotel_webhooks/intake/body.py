"""Decode a webhook body, JSON or form-encoded, into fields keyed by their normalised names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from exotel_webhooks.intake.errors import UnusableCallback
from exotel_webhooks.normalise import field_key, list_index

JSON_TYPES = ("application/json", "text/json")
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass
class SentField:
    """Every value sent under any spelling of one field name, in the order they were sent."""

    name: str
    values: list[Any] = field(default_factory=list)


def decode_fields(body: bytes, content_type: str | None) -> dict[str, SentField]:
    media_type, charset = _media_type(content_type)
    if media_type.startswith("multipart/"):  # Exotel never sends it; its parts are not fields
        raise UnusableCallback(f"unsupported content type {media_type}: send JSON or {FORM_TYPE}")
    try:
        text = body.decode(charset)
    except (UnicodeDecodeError, LookupError) as error:
        raise UnusableCallback(f"body is not valid {charset}") from error
    if not text.strip():
        raise UnusableCallback("empty body")
    if media_type in JSON_TYPES or (media_type != FORM_TYPE and text.lstrip().startswith("{")):
        return _json_fields(text)
    if media_type == FORM_TYPE or "=" in text:
        return _form_fields(text, charset)
    raise UnusableCallback(f"body is neither JSON nor form-encoded (content type {media_type!r})")


def _media_type(content_type: str | None) -> tuple[str, str]:
    """`application/x-www-form-urlencoded; charset=ISO-8859-1` -> (media type, charset)."""
    media_type, *parameters = (content_type or "").split(";")
    charset = "utf-8"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip(' "'):
            charset = value.strip(' "').lower()
    return media_type.strip().lower(), charset


def _json_fields(text: str) -> dict[str, SentField]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnusableCallback(f"body is not valid JSON ({error.msg})") from error
    except RecursionError as error:
        raise UnusableCallback("body is JSON nested too deeply to read") from error
    except ValueError as error:  # an integer of more digits than Python converts
        raise UnusableCallback(f"body is not usable JSON ({error})") from error
    if not isinstance(document, dict):
        raise UnusableCallback("JSON body is not an object")
    fields: dict[str, SentField] = {}
    for name, value in document.items():
        fields.setdefault(field_key(name), SentField(name)).values.append(value)
    return fields


def _form_fields(text: str, charset: str) -> dict[str, SentField]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (UnicodeDecodeError, ValueError) as error:
        raise UnusableCallback("form body is not correctly encoded") from error
    if not pairs:
        raise UnusableCallback("form body has no fields")
    # Indexed keys (`call_sids[1]=b&call_sids[0]=a`) take their place by index, the rest by order.
    ordered = sorted(
        enumerate(pairs),
        key=lambda item: (field_key(item[1][0]), list_index(item[1][0]) or 0, item[0]),
    )
    fields: dict[str, SentField] = {}
    for _, (name, value) in ordered:
        key = field_key(name)
        fields.setdefault(key, SentField(name.split("[", 1)[0])).values.append(value)
    return fields
