"""Sample events and the webhook tokens the tests use: no AWS, so every tier can load them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from localaws.template import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
TOKEN = "test-token-current"
ROTATED_TOKEN = "test-token-previous"


def load_event(relative_path: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / relative_path).read_text())
    return event


def http_get(path: str, query: str = "") -> dict[str, Any]:
    """An HTTP API (payload 2.0) GET event, as API Gateway sends it after IAM auth."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"accept": "application/json"},
        "queryStringParameters": dict(parse_qsl(query)) if query else None,
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "203.0.113.20"},
            "requestId": "read",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


FUNCTION_URL_ID = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"


def as_function_url(event: dict[str, Any]) -> dict[str, Any]:
    """The same request as Lambda delivers it from the receiver's function URL (Ingress
    FunctionUrl): payload 2.0 with the `$default` route, the path only in rawPath and
    requestContext.http, the URL's own host."""
    method, _, path = (event.get("routeKey") or "").partition(" ")
    context = dict(event.get("requestContext") or {})
    http = dict(context.get("http") or {})
    if path:
        http.update(method=method, path=path)
    host = f"{FUNCTION_URL_ID}.lambda-url.ap-south-1.on.aws"
    context.update(
        http=http,
        routeKey="$default",
        stage="$default",
        apiId=FUNCTION_URL_ID,
        domainName=host,
        domainPrefix=FUNCTION_URL_ID,
    )
    headers = {**(event.get("headers") or {}), "host": host}
    return {
        **event,
        "routeKey": "$default",
        "rawPath": http.get("path") or event.get("rawPath"),
        "headers": headers,
        "requestContext": context,
    }


def with_token(event: dict[str, Any], token: str = TOKEN) -> dict[str, Any]:
    """The same event carrying another ?token= value."""
    return {**event, "rawQueryString": f"token={token}", "queryStringParameters": {"token": token}}


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response["body"])
    return body


def events_of(directory: str) -> list[Path]:
    return sorted((EVENTS / directory).glob("*.json"))
