"""In-memory fakes of the receiver's ports (intake/ports.py), for the webhook contract in the
unit tier: what a queue or the quarantine holds is read back as the emulated stack's helpers
read SQS and S3 (tests/support/stack.py), so a test reads the same either way."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exotel_webhooks.intake.auth import WebhookSecrets
from exotel_webhooks.intake.errors import StorageUnavailable
from exotel_webhooks.intake.http import handle_webhook
from exotel_webhooks.intake.quarantine import QuarantineRecord
from exotel_webhooks.intake.receive import Receiver
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.vocabulary import CallbackType
from tests.support.events import ROTATED_TOKEN, TOKEN

# The template's queue of each callback type, by logical id (as the stack tier names them).
QUEUE_OF = {
    "CallStatusQueue": CallbackType.CALL_STATUS,
    "CallScheduleQueue": CallbackType.CALL_SCHEDULE,
    "CampaignStatusQueue": CallbackType.CAMPAIGN_STATUS,
}
DEFAULT_MAX_BODY_BYTES = 256 * 1024  # template.yaml's MaxBodyBytes default


@dataclass
class FakeSecretSource:
    tokens: tuple[str, ...] = (TOKEN, ROTATED_TOKEN)
    readable: bool = True

    def current(self) -> WebhookSecrets:
        if not self.readable:
            raise StorageUnavailable("webhook secret unavailable")
        return WebhookSecrets(self.tokens)


@dataclass
class FakeEventQueues:
    sent: dict[CallbackType, list[str]] = field(default_factory=lambda: defaultdict(list))
    reachable: bool = True

    def send(self, callback_type: CallbackType, message: str) -> None:
        if not self.reachable:
            raise StorageUnavailable("queue send failed: injected")
        self.sent[callback_type].append(message)


@dataclass
class FakeQuarantine:
    stored: dict[str, str] = field(default_factory=dict)  # S3 key -> the object's JSON
    reachable: bool = True

    def store(self, record: QuarantineRecord) -> None:
        if not self.reachable:
            raise StorageUnavailable("quarantine write failed: injected")
        self.stored[record.key] = record.to_json()


@dataclass
class Intake:
    """A receiver wired to the fakes, as functions/receiver wires it to AWS."""

    secrets: FakeSecretSource = field(default_factory=FakeSecretSource)
    queues: FakeEventQueues = field(default_factory=FakeEventQueues)
    quarantine: FakeQuarantine = field(default_factory=FakeQuarantine)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def receiver(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        receiver = Receiver(
            secrets=self.secrets,
            queues=self.queues,
            quarantine=self.quarantine,
            rules=NormalisationRules(),
            max_body_bytes=self.max_body_bytes,
        )
        return lambda event: handle_webhook(receiver, event)

    def queued_messages(self, queue_logical_id: str) -> list[dict[str, Any]]:
        """As SQS's ReceiveMessage gives them: `Body` is the message."""
        return [{"Body": body} for body in self.queues.sent[QUEUE_OF[queue_logical_id]]]

    def quarantined_objects(self) -> dict[str, dict[str, Any]]:
        return {key: json.loads(body) for key, body in self.quarantine.stored.items()}
