"""API Gateway HTTP API (payload format 2.0) events in, JSON responses out, for the receiver.

Typed errors become HTTP statuses here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from exotel_webhooks.callbacks import CallbackType
from exotel_webhooks.errors import PayloadTooLarge, StorageUnavailable, Unauthorised
from exotel_webhooks.observability import logger
from exotel_webhooks.receiver import Accepted, Receiver
from exotel_webhooks.webhook_request import WebhookRequest

type HttpResponse = dict[str, Any]


def handle_webhook(receiver: Receiver, event: dict[str, Any]) -> HttpResponse:
    """The receiver Lambda's whole behaviour, as the webhook contract's response table."""
    method, path = _route(event)
    callback_type = _callback_type(path)
    if callback_type is None:
        return respond(404, {"message": f"no webhook at {path}"})
    if method != "POST":
        return respond(405, {"message": "webhooks are POSTed"})
    logger.append_keys(callback_type=str(callback_type))
    request = webhook_request(event, callback_type)
    try:
        outcome = receiver.receive(request, received_at(event))
    except Unauthorised:
        logger.warning("webhook unauthorised", source_ip=request.source_ip)
        return respond(401, {"message": "missing or invalid webhook token"})
    except PayloadTooLarge:
        return respond(413, {"message": f"body larger than {receiver.max_body_bytes} bytes"})
    except StorageUnavailable as error:
        logger.error("webhook not stored; asking the sender to retry", error=str(error))
        return respond(503, {"message": "could not store the webhook durably; retry later"})
    if isinstance(outcome, Accepted):
        return respond(200, {"status": "accepted", "event_id": outcome.event_id})
    return respond(
        200, {"status": "quarantined", "event_id": outcome.event_id, "reason": outcome.reason}
    )


def webhook_request(event: dict[str, Any], callback_type: CallbackType) -> WebhookRequest:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    context = event.get("requestContext") or {}
    return WebhookRequest(
        callback_type=callback_type,
        body=_body(event),
        content_type=headers.get("content-type"),
        query=_query(event),
        headers=headers,
        path=event.get("rawPath") or context.get("http", {}).get("path", ""),
        source_ip=context.get("http", {}).get("sourceIp"),
    )


def received_at(event: dict[str, Any]) -> datetime:
    """When API Gateway received the request (so a replayed event keeps its time)."""
    epoch_ms = (event.get("requestContext") or {}).get("timeEpoch")
    if isinstance(epoch_ms, int | float):
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return datetime.now(tz=UTC)


def respond(status: int, body: dict[str, Any]) -> HttpResponse:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _route(event: dict[str, Any]) -> tuple[str, str]:
    route_key = event.get("routeKey") or ""
    method, _, path = route_key.partition(" ")
    if not path:  # "$default" route or a hand-made event: fall back to the raw request
        http = (event.get("requestContext") or {}).get("http", {})
        method, path = http.get("method", ""), event.get("rawPath") or http.get("path", "")
    return method.upper(), path


def _callback_type(path: str) -> CallbackType | None:
    prefix, _, name = path.rstrip("/").rpartition("/")
    if not prefix.endswith("/webhooks/exotel"):
        return None
    try:
        return CallbackType(name)
    except ValueError:
        return None


def _body(event: dict[str, Any]) -> bytes:
    body: str = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            pass  # a hand-made event mislabelled; API Gateway never does this: take it as sent
    return body.encode("utf-8", "surrogatepass")


def _query(event: dict[str, Any]) -> dict[str, list[str]]:
    """From rawQueryString when present: API Gateway joins repeated parameters with commas."""
    raw = event.get("rawQueryString")
    if raw:
        return parse_qs(raw, keep_blank_values=True)
    params = event.get("queryStringParameters") or {}
    return {name: [value] for name, value in params.items()}
