"""API Gateway's HTTP API, emulated for `make local`: the template's routes matched, each request
turned into the payload 2.0 event API Gateway would send, and the function's answer sent back."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

# Text bodies reach Lambda as text; everything else base64-encoded, as HTTP APIs do.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
JSON = {"content-type": "application/json"}


class ServedStack(Protocol):
    """What the HTTP server needs of the local stack."""

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None: ...

    def invoke(self, function: str, event: dict[str, Any]) -> Any: ...  # noqa: ANN401

    def say(self, line: str) -> None: ...


@dataclass(frozen=True)
class Route:
    method: str
    template_path: str
    function: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, method: str, path: str, function: str) -> Route:
        # "/campaigns/{campaign_sid}/calls": literal pieces and parameter names alternate
        pieces = re.split(r"\{(\w+)\}", path)
        regex = "".join(
            re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>[^/]+)"
            for index, piece in enumerate(pieces)
        )
        return cls(method.upper(), path, function, re.compile(f"^{regex}$"))


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # names in lower case
    body: bytes
    source_ip: str


def api_gateway_event(route: Route, parameters: dict[str, str], request: Request) -> dict[str, Any]:
    """The HTTP API payload 2.0 event API Gateway would send for this request."""
    method, target, headers, body = request.method, request.target, request.headers, request.body
    source_ip = request.source_ip
    parts = urlsplit(target)
    content_type = headers.get("content-type", "")
    text = content_type.startswith(_TEXT_TYPES)
    query = parse_qs(parts.query, keep_blank_values=True)
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": f"{route.method} {route.template_path}",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "queryStringParameters": {k: ",".join(v) for k, v in query.items()} or None,
        "pathParameters": parameters or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.template_path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode("utf-8", "replace") if text else base64.b64encode(body).decode(),
        "isBase64Encoded": not text,
    }


def handler_class(stack: ServedStack) -> type[BaseHTTPRequestHandler]:
    """HTTP requests to API Gateway events for the stack's routes, and their answers back."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            path = urlsplit(self.path).path
            found = stack.route(self.command, path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if found is None:
                self._reply(404, JSON, b'{"message":"Not Found"}')
                return
            route, parameters = found
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(self.command, self.path, headers, body, self.client_address[0])
            event = api_gateway_event(route, parameters, request)
            try:
                response = stack.invoke(route.function, event)
            except Exception as error:
                stack.say(f"{route.function} raised {type(error).__name__}: {error}")
                self._reply(
                    500,
                    {"content-type": "application/json"},
                    b'{"message":"Internal Server Error"}',
                )
                return
            payload = response.get("body") or ""
            data = (
                base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
            )
            self._reply(response.get("statusCode", 200), response.get("headers") or {}, data)
            stack.say(f"{self.command} {path} -> {response.get('statusCode')}")

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
