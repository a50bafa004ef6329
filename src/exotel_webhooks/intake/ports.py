"""What the receiver needs from the world (intake/receive.py): the valid tokens, a queue per
callback type and a quarantine. intake/adapters.py implements them on AWS; tests use in-memory
fakes (tests/support/fakes.py)."""

from __future__ import annotations

from typing import Protocol

from exotel_webhooks.intake.auth import WebhookSecrets
from exotel_webhooks.intake.quarantine import QuarantineRecord
from exotel_webhooks.vocabulary import CallbackType


class SecretSource(Protocol):
    def current(self) -> WebhookSecrets: ...


class EventQueues(Protocol):
    def send(self, callback_type: CallbackType, message: str) -> None: ...


class Quarantine(Protocol):
    def store(self, record: QuarantineRecord) -> None: ...
