"""Receiving one webhook: authenticate, bound, validate, then enqueue or quarantine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exotel_webhooks.intake.auth import presented_tokens
from exotel_webhooks.intake.body import decode_fields
from exotel_webhooks.intake.callbacks import NormalisedCallback, build_callback
from exotel_webhooks.intake.errors import PayloadTooLarge, Unauthorised, UnusableCallback
from exotel_webhooks.intake.ports import EventQueues, Quarantine, SecretSource
from exotel_webhooks.intake.quarantine import QuarantineRecord
from exotel_webhooks.intake.request import WebhookRequest
from exotel_webhooks.observability import logger
from exotel_webhooks.settings import NormalisationRules

UNEXPECTED_ERROR_REASON = "the receiver failed while normalising this request (see its logs)"


@dataclass(frozen=True)
class Accepted:
    callback: NormalisedCallback

    @property
    def event_id(self) -> str:
        return self.callback.event_id


@dataclass(frozen=True)
class Quarantined:
    event_id: str
    reason: str
    s3_key: str


@dataclass(frozen=True)
class Receiver:
    secrets: SecretSource
    queues: EventQueues
    quarantine: Quarantine
    rules: NormalisationRules
    max_body_bytes: int

    def receive(self, request: WebhookRequest, received_at: datetime) -> Accepted | Quarantined:
        """Raises Unauthorised, PayloadTooLarge, or StorageUnavailable (the sender must retry).

        `accepted` only once the queue message is built and checked storable; anything else
        authenticated is quarantined, so that only storage being down answers 5xx."""
        if not self.secrets.current().admit(presented_tokens(request.query, request.headers)):
            raise Unauthorised
        if len(request.body) > self.max_body_bytes:
            raise PayloadTooLarge
        try:
            fields = decode_fields(request.body, request.content_type)
            callback = build_callback(request.callback_type, fields, self.rules, received_at)
            message = callback.queued_event(received_at)
        except UnusableCallback as unusable:
            return self._quarantine(request, unusable.reason, received_at)
        except Exception:  # a bug must not lose a callback: keep it to replay after the fix
            logger.exception("webhook could not be normalised")
            return self._quarantine(request, UNEXPECTED_ERROR_REASON, received_at)
        self.queues.send(callback.callback_type, message)
        return Accepted(callback)

    def _quarantine(
        self, request: WebhookRequest, reason: str, received_at: datetime
    ) -> Quarantined:
        record = QuarantineRecord(request, reason, received_at)
        self.quarantine.store(record)
        return Quarantined(record.event_id, reason, record.key)
