"""An HTTP request to one of the webhook routes, independent of how it reached us."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from exotel_webhooks.vocabulary import CallbackType


@dataclass(frozen=True)
class WebhookRequest:
    """An HTTP request to one of the webhook routes, independent of how it reached us."""

    callback_type: CallbackType
    body: bytes
    content_type: str | None = None
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    path: str = ""
    source_ip: str | None = None
