"""API Gateway HTTP API (payload format 2.0) events in, JSON responses out, for the receiver.

Typed errors become HTTP statuses here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from exotel_webhooks.intake.errors import PayloadTooLarge, StorageUnavailable, Unauthorised
from exotel_webhooks.intake.receive import Accepted, Receiver
from exotel_webhooks.intake.request import WebhookRequest
from exotel_webhooks.observability import (
    LambdaHandler,
    Metric,
    count,
    lambda_handler,
    log_keys,
    logger,
    metrics,
)
from exotel_webhooks.vocabulary import CallbackType

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

type HttpResponse = dict[str, Any]

# The outcome of one webhook request: the `outcome` key of its log line.
ACCEPTED, QUARANTINED, UNAUTHORISED = "accepted", "quarantined", "unauthorised"
REJECTED, NOT_STORED = "rejected", "not_stored"
# An accepted webhook is counted free by AWS/SQS NumberOfMessagesSent on its type's queue: a
# custom metric would add a metrics document (about 300 bytes of log) to every one of them.
_OUTCOME_METRICS = {
    QUARANTINED: Metric.WEBHOOKS_QUARANTINED,
    UNAUTHORISED: Metric.WEBHOOKS_UNAUTHORISED,
    REJECTED: Metric.WEBHOOKS_REJECTED,
    NOT_STORED: Metric.WEBHOOKS_NOT_STORED,
}
# Few dimension values (each is a billed metric): by type only where the type is the question.
_COUNTED_BY_TYPE = frozenset({QUARANTINED})
_OUTCOME_LOG = {
    ACCEPTED: logger.info,
    QUARANTINED: logger.warning,
    UNAUTHORISED: logger.warning,
    REJECTED: logger.warning,
    NOT_STORED: logger.error,
}


def webhook_handler(
    receiver: Receiver, under_sam_local: bool = False
) -> LambdaHandler[HttpResponse]:
    """The receiver Lambda: API Gateway HTTP API (payload 2.0) events to `handle_webhook`."""

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
        return handle_webhook(receiver, event, under_sam_local)

    return handler


def handle_webhook(
    receiver: Receiver, event: dict[str, Any], under_sam_local: bool = False
) -> HttpResponse:
    """The receiver Lambda's whole behaviour, as the webhook contract's response table.

    Logs exactly one line per request ("webhook <outcome>") and counts each outcome but
    `accepted` (SQS counts those, free): the saved queries and the dashboard read those."""
    started = time.perf_counter()
    method, path = _route(event)
    callback_type = _callback_type(path)
    log_keys(callback_type=str(callback_type) if callback_type else None)
    arrived = received_at(event, datetime.now(tz=UTC), under_sam_local)
    status, body, outcome = _answer(receiver, event, method, path, callback_type, arrived=arrived)
    if callback_type and outcome in _COUNTED_BY_TYPE:
        metrics.add_dimension("callback_type", str(callback_type))
    if outcome in _OUTCOME_METRICS:
        count(_OUTCOME_METRICS[outcome])
    # An accepted webhook's line is the one written millions of times: it leaves out what only
    # a refused one needs (its HTTP status, where it came from, and API Gateway's request id,
    # the access log's `request_id`, to match the two).
    context = event.get("requestContext") or {}
    refused: dict[str, Any] = (
        {}
        if outcome == ACCEPTED
        else {
            "http_status": status,
            "source_ip": (context.get("http") or {}).get("sourceIp"),
            "correlation_id": context.get("requestId"),
        }
    )
    _OUTCOME_LOG[outcome](
        f"webhook {outcome}",
        outcome=outcome,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        **refused,
    )
    return respond(status, body)


def _answer(
    receiver: Receiver,
    event: dict[str, Any],
    method: str,
    path: str,
    callback_type: CallbackType | None,
    *,
    arrived: datetime,
) -> tuple[int, dict[str, Any], str]:
    if callback_type is None:
        return 404, {"message": f"no webhook at {path}"}, REJECTED
    if method != "POST":
        return 405, {"message": "webhooks are POSTed"}, REJECTED
    request = webhook_request(event, callback_type)
    try:
        outcome = receiver.receive(request, arrived)
    except Unauthorised:
        return 401, {"message": "missing or invalid webhook token"}, UNAUTHORISED
    except PayloadTooLarge:
        log_keys(body_bytes=len(request.body))
        return 413, {"message": f"body larger than {receiver.max_body_bytes} bytes"}, REJECTED
    except StorageUnavailable as error:
        log_keys(error=str(error))
        return 503, {"message": "could not store the webhook durably; retry later"}, NOT_STORED
    if isinstance(outcome, Accepted):
        fields = outcome.callback.fields
        log_keys(
            event_id=outcome.event_id,
            campaign_sid=fields["campaign_sid"],
            call_sid=fields.get("call_sid"),
            status=fields["status"],
        )  # no number: the processor's line (same event_id) names it by its hash
        return 200, {"status": "accepted", "event_id": outcome.event_id}, ACCEPTED
    log_keys(event_id=outcome.event_id, reason=outcome.reason, s3_key=outcome.s3_key)
    body = {"status": "quarantined", "event_id": outcome.event_id, "reason": outcome.reason}
    return 200, body, QUARANTINED


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


# An epoch below this is in seconds: in milliseconds it would be before March 1973.
_SECONDS_BELOW = 10**11
# A request time further ahead of the clock than this (or, under `sam local`, behind it) is not
# API Gateway's.
CLOCK_TOLERANCE = timedelta(minutes=1)


def received_at(event: dict[str, Any], now: datetime, under_sam_local: bool) -> datetime:
    """When API Gateway received the request (`requestContext.timeEpoch`, milliseconds), so an
    event invoked again (a Lambda retry, a saved event through `make invoke`) keeps the time it
    first arrived; `now` when there is none.

    API Gateway never stamps the future: a stamp ahead of the clock (only a direct invocation
    can hand one) gives way to the clock, or it would widen the plausible dates. SAM's local
    HTTP API stamps seconds (aws/aws-sam-cli#8020) and the time its server started (#9279): a
    value that can only be seconds is read as seconds, and under SAM (AWS_SAM_LOCAL) a stamp far
    from the clock gives way to the clock (docs/architecture.md, "Received at")."""
    stamp = (event.get("requestContext") or {}).get("timeEpoch")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not stamp > 0:
        return now
    try:
        stamped = datetime.fromtimestamp(stamp if stamp < _SECONDS_BELOW else stamp / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return now
    if stamped - now > CLOCK_TOLERANCE or (under_sam_local and now - stamped > CLOCK_TOLERANCE):
        return now
    return stamped


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
