"""A loopback HTTP server that plays report hosts: CSV of any size generated on the fly,
redirects, errors, slow bodies, ETags. Each path's behaviour is set by the test."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEADER = b"Phone Number,Final Status,Attempts,Last Call Duration\n"


def csv_body(size: int) -> Iterator[bytes]:
    """`size` bytes of a plausible report, in 1 MiB chunks, without holding it."""
    row = b"+919800000000,completed,2,47\n"
    chunk = HEADER + row * ((1024 * 1024 - len(HEADER)) // len(row))
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        sent += len(piece)
        yield piece


@dataclass
class Route:
    status: int = 200
    body: bytes | None = None
    size: int | None = None  # generated CSV of this many bytes
    content_type: str = "text/csv"
    location: str | None = None
    fail_first: int = 0  # answer 503 this many times first
    etag: str | None = None
    stall_seconds: float = 0  # after the headers, before the body
    send_length: bool = True
    drip_seconds: float = 0  # the body one byte at a time, this long apart
    content_encoding: str | None = None  # sent as a header; the body is sent as given


@dataclass
class ReportServer:
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    downloads: Counter[str] = field(default_factory=Counter)  # 200s with a body
    hosts: list[str] = field(default_factory=list)  # Host headers received
    accept_encodings: list[str | None] = field(default_factory=list)  # as each request asked
    queries: list[str] = field(default_factory=list)  # each request's query string
    authorizations: list[tuple[str, str | None]] = field(default_factory=list)  # path, header
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class QuietServer(ThreadingHTTPServer):
    """A fetcher that gives up on a report (too big, too slow) closes the connection under the
    handler's writes: expected, so not printed as an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(server_state: ReportServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            server_state.queries.append(query)
            server_state.authorizations.append((path, self.headers.get("authorization")))
            server_state.hits[path] += 1
            server_state.hosts.append(self.headers.get("host", ""))
            server_state.accept_encodings.append(self.headers.get("accept-encoding"))
            route = server_state.routes.get(path, Route(status=404, body=b"no such report"))
            if server_state.hits[path] <= route.fail_first:
                self._answer(503, b"busy", "text/plain")
                return
            if route.etag and self.headers.get("if-none-match") == route.etag:
                self.send_response(304)
                self.end_headers()
                return
            if route.location:
                self.send_response(route.status)
                self.send_header("location", route.location)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            if route.size is not None:
                self.send_response(route.status)
                self.send_header("content-type", route.content_type)
                if route.send_length:
                    self.send_header("content-length", str(route.size))
                if route.etag:
                    self.send_header("etag", route.etag)
                self.end_headers()
                server_state.downloads[path] += 1
                time.sleep(route.stall_seconds)
                for piece in csv_body(route.size):
                    self.wfile.write(piece)
                return
            server_state.downloads[path] += route.status == 200
            if route.drip_seconds or route.content_encoding:
                self.send_response(route.status)
                self.send_header("content-type", route.content_type)
                self.send_header("content-length", str(len(route.body or b"")))
                if route.content_encoding:
                    self.send_header("content-encoding", route.content_encoding)
                self.end_headers()
                for byte in route.body or b"":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.drip_seconds)
                return
            self._answer(route.status, route.body or b"", route.content_type, route.etag)

        def _answer(
            self, status: int, body: bytes, content_type: str, etag: str | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            if etag:
                self.send_header("etag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
