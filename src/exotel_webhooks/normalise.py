"""The normalisation rules of the webhook contract, as pure functions.

Exotel's documentation disagrees with itself about names, encodings, timestamps and status
spellings (docs/architecture.md, "The webhook contract"); each rule here accepts every variant
seen and produces the one form that processors and the read API rely on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import phonenumbers

_INDEX_SUFFIX = re.compile(r"\[(\d*)\]$")
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
_LETTER = re.compile(r"[A-Za-z]")


def field_key(name: str) -> str:
    """`CampaignSid`, `campaign_sid`, `campaign-sid`, `call_sids[]`, `call_sids[0]` -> one key."""
    return _NOT_ALPHANUMERIC.sub("", _INDEX_SUFFIX.sub("", name).lower())


def list_index(name: str) -> int | None:
    """The position a form key such as `call_sids[2]` names, if it names one."""
    match = _INDEX_SUFFIX.search(name)
    return int(match.group(1)) if match and match.group(1) else None


def _words(value: str) -> list[str]:
    return _WORD.findall(_CAMEL_BOUNDARY.sub(" ", value).lower())


# Call statuses: lower-case words joined by hyphens; known spelling variants folded together.
_CALL_STATUS_SPELLINGS = {
    "noanswer": "no-answer",
    "cancelled": "canceled",
    "inprogress": "in-progress",
}


def normalise_call_status(value: str) -> str:
    """`No Answer`, `no_answer`, `NoAnswer` -> `no-answer`; unknown values keep their words."""
    words = _words(value)
    if not words:
        raise ValueError("empty status")
    return _CALL_STATUS_SPELLINGS.get("".join(words), "-".join(words))


# Campaign statuses: Exotel's capitalised form.
_CAMPAIGN_STATUSES = {
    status.lower(): status
    for status in (
        "Created",
        "Scheduled",
        "InProgress",
        "Paused",
        "Resumed",
        "Completed",
        "Failed",
        "Canceled",
        "Archived",
        "Deleted",
    )
}
_CAMPAIGN_STATUSES["cancelled"] = "Canceled"


def normalise_campaign_status(value: str) -> str:
    """`in-progress`, `IN_PROGRESS`, `InProgress` -> `InProgress`; unknown values PascalCased."""
    words = _words(value)
    if not words:
        raise ValueError("empty status")
    known = _CAMPAIGN_STATUSES.get("".join(words))
    return known or "".join(word.capitalize() for word in _without_single_letters(words))


def _without_single_letters(words: list[str]) -> list[str]:
    """Join one-letter words to the next word: PascalCase cannot show their boundaries
    (`A B` would print `AB`, read back as one word), and the result must read back the same."""
    joined: list[str] = []
    pending = ""
    for word in words:
        if len(word) == 1 and word.isalpha():
            pending += word
        else:
            joined.append(pending + word)
            pending = ""
    return [*joined, pending] if pending else joined


def parse_timestamp(value: str, zone: ZoneInfo) -> datetime:
    """RFC 3339 / ISO 8601 (with or without offset), `YYYY-MM-DD HH:MM:SS`, or RFC 2822.

    A timestamp without a zone is read in `zone` (Exotel's accounts are mostly in India).
    """
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError) as error:
            raise ValueError(f"unrecognised timestamp {text[:40]!r}") from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


@dataclass(frozen=True)
class PhoneNumber:
    """A number in E.164 where it parses, with the value exactly as Exotel sent it."""

    e164: str | None
    raw: str

    @property
    def key(self) -> str:
        """What the number is stored and looked up by."""
        return self.e164 or self.raw


def normalise_phone(raw: str, default_region: str) -> PhoneNumber:
    text = raw.strip()
    # Letters mean a masked number (`0XXXXXX4890`), never a vanity number, in this domain.
    if _LETTER.search(text):
        return PhoneNumber(None, text)
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return PhoneNumber(None, text)
    # "Possible" (right length for the region) rather than "valid": metadata lags new ranges.
    if not phonenumbers.is_possible_number(parsed):
        return PhoneNumber(None, text)
    return PhoneNumber(
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), text
    )


def parse_identifier_list(values: list[object]) -> list[str]:
    """Every list encoding of `call_sids`: JSON array, repeated or indexed form keys, a JSON
    array in a string, or one comma-separated value. Order kept, blanks and repeats dropped."""
    identifiers: list[str] = []
    for value in values:
        if isinstance(value, list):
            identifiers.extend(parse_identifier_list(value))
        elif isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    decoded = json.loads(text)
                except json.JSONDecodeError as error:
                    raise ValueError("not a JSON array of identifiers") from error
                identifiers.extend(parse_identifier_list([decoded]))
            else:
                identifiers.extend(part.strip() for part in text.split(","))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            identifiers.append(str(value))
        else:
            raise ValueError(f"not an identifier: {type(value).__name__}")
    return list(dict.fromkeys(identifier for identifier in identifiers if identifier))
