"""What is kept of an authenticated request that could not be used: enough to inspect and replay
it, never the secret it carried."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from exotel_webhooks.intake.auth import TOKEN_PARAMETER
from exotel_webhooks.intake.request import WebhookRequest

# Headers that carry credentials or cookies are not kept.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


@dataclass(frozen=True)
class QuarantineRecord:
    request: WebhookRequest
    reason: str
    received_at: datetime

    @cached_property
    def event_id(self) -> str:
        """The same unusable request delivered again gets the same id (and the same S3 key)."""
        digest = hashlib.sha256()
        for part in (str(self.request.callback_type), self.request.content_type or ""):
            digest.update(part.encode() + b"\n")
        digest.update(self.request.body)
        return digest.hexdigest()[:32]

    @property
    def key(self) -> str:
        day = self.received_at.strftime("%Y/%m/%d")
        return f"quarantine/{self.request.callback_type}/{day}/{self.event_id}.json"

    def to_json(self) -> str:
        request = self.request
        try:
            body, encoding = request.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(request.body).decode(), "base64"
        document = {
            "event_id": self.event_id,
            "callback_type": str(request.callback_type),
            "received_at": self.received_at.isoformat(),
            "reason": self.reason,
            "request": {
                "method": "POST",
                "path": request.path,
                "query": {k: list(v) for k, v in request.query.items() if k != TOKEN_PARAMETER},
                "headers": {k: v for k, v in request.headers.items() if k not in _SECRET_HEADERS},
                "source_ip": request.source_ip,
                "body": body,
                "body_encoding": encoding,  # "utf-8" (readable) or "base64" (exact bytes)
            },
        }
        readable = json.dumps(document, indent=2, ensure_ascii=False)
        try:
            readable.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in a header or the query: escape it
            return json.dumps(document, indent=2)
        return readable
