"""What is kept of an authenticated request that could not be used: enough to inspect and replay
it, never the secret it carried."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from exotel_webhooks.auth import TOKEN_PARAMETER
from exotel_webhooks.callbacks import CallbackType
from exotel_webhooks.webhook_request import WebhookRequest

# Headers that carry credentials or cookies are not kept.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


class StoredRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    method: str = "POST"
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    source_ip: str | None
    body: str
    body_encoding: str  # "utf-8" (readable) or "base64" (exact bytes otherwise)

    def body_bytes(self) -> bytes:
        return base64.b64decode(self.body) if self.body_encoding == "base64" else self.body.encode()


class QuarantineRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    callback_type: CallbackType
    received_at: AwareDatetime
    reason: str
    request: StoredRequest

    @classmethod
    def of(cls, request: WebhookRequest, reason: str, received_at: datetime) -> QuarantineRecord:
        return cls(
            event_id=quarantine_event_id(request),
            callback_type=request.callback_type,
            received_at=received_at,
            reason=reason,
            request=_stored(request),
        )

    @property
    def key(self) -> str:
        day = self.received_at.strftime("%Y/%m/%d")
        return f"quarantine/{self.callback_type}/{day}/{self.event_id}.json"


def quarantine_event_id(request: WebhookRequest) -> str:
    """The same unusable request delivered again gets the same id (and the same S3 key)."""
    digest = hashlib.sha256()
    for part in (str(request.callback_type), request.content_type or "", ""):
        digest.update(part.encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()[:32]


def _stored(request: WebhookRequest) -> StoredRequest:
    try:
        body, encoding = request.body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(request.body).decode(), "base64"
    return StoredRequest(
        path=request.path,
        query={k: list(v) for k, v in request.query.items() if k != TOKEN_PARAMETER},
        headers={k: v for k, v in request.headers.items() if k not in _SECRET_HEADERS},
        source_ip=request.source_ip,
        body=body,
        body_encoding=encoding,
    )
