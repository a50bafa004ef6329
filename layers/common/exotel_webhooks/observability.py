"""One logger for the whole package, and the masking that keeps personal data out of logs."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()

_KEEP_PREFIX = 3  # "+91": the country is useful when reading logs, the subscriber is not
_KEEP_SUFFIX = 4


def mask_phone(number: str | None) -> str | None:
    """`+919876543210` -> `+91******3210`; short values keep only their last two characters."""
    if number is None:
        return None
    if len(number) <= _KEEP_PREFIX + _KEEP_SUFFIX:
        return "*" * max(len(number) - 2, 0) + number[-2:]
    hidden = len(number) - _KEEP_PREFIX - _KEEP_SUFFIX
    return number[:_KEEP_PREFIX] + "*" * hidden + number[-_KEEP_SUFFIX:]
