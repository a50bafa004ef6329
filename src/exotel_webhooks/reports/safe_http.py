"""Fetching a report URL without letting a forged callback reach anything internal.

HTTPS only; the host must be allow-listed; every address it resolves to must be public; the
connection goes to the very address that was checked (with TLS verified against the host name),
so a DNS answer that changes between check and connect (rebinding) cannot redirect it; redirects
are followed by hand, each hop checked again, at most `max_redirects`. The body is streamed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, SSLError

type Resolver = Callable[..., Sequence[tuple[Any, ...]]]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_CSV_TYPES = ("text/html", "application/json", "application/xml", "text/xml", "image/")
HEAD_BYTES = 64 * 1024


class PermanentFetchFailure(Exception):
    """Retrying cannot help (refused URL, 4xx, too large, not CSV): record it as failed.
    `status`: the HTTP status that said so, if one did."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientFetchFailure(Exception):
    """Retrying may help (timeouts, connection errors, 5xx, 429)."""


class NotModified(Exception):
    """The server says the report is the one already stored."""


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: tuple[str, ...]
    max_bytes: int
    allow_loopback: bool = False  # the local stack only: http:// and loopback addresses
    max_redirects: int = 3
    connect_timeout: float = 5
    read_timeout: float = 30  # per read
    total_seconds: float = 780  # the whole download: a slow drip never trips a read timeout


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the connection goes to

    @property
    def source(self) -> str:
        """Where the report came from, without the query (pre-signed URLs are credentials)."""
        return f"{self.host}{urlsplit(self.url).path}"


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """Exact names, or `*.` patterns (`*.exotel.com`, `s3.*.amazonaws.com`)."""
    return any(
        fnmatch.fnmatchcase(host, pattern.strip().lower()) for pattern in patterns if pattern
    )


def check_address(address: str, policy: FetchPolicy) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if policy.allow_loopback and ip.is_loopback:
        return
    # is_global alone lets multicast through (Python counts 224.0.0.0/4 as global)
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        raise PermanentFetchFailure(f"refused: {host_kind(ip)} address {ip}")


def host_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"


def resolve_target(url: str, policy: FetchPolicy, resolve: Resolver) -> Target:
    try:
        parts = urlsplit(url)
    except ValueError as error:  # a malformed URL (or redirect) never becomes fetchable
        raise PermanentFetchFailure(f"refused: {error}") from error
    scheme = parts.scheme.lower()
    if scheme != "https" and not (policy.allow_loopback and scheme == "http"):
        raise PermanentFetchFailure(f"refused: scheme {scheme or 'missing'} (HTTPS only)")
    if parts.username or parts.password:
        raise PermanentFetchFailure("refused: credentials in the URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise PermanentFetchFailure("refused: no host")
    if not host_allowed(host, policy.allowed_hosts):
        raise PermanentFetchFailure(f"refused: host {host} is not allow-listed")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:
        raise PermanentFetchFailure(f"refused: {error}") from error
    try:
        addresses = [info[4][0] for info in resolve(host, port, type=socket.SOCK_STREAM)]
    except (OSError, ValueError) as error:
        raise TransientFetchFailure(f"cannot resolve {host}: {error}") from error
    if not addresses:
        raise TransientFetchFailure(f"{host} resolved to nothing")
    for address in addresses:
        check_address(address, policy)
    path = parts.path or "/"
    return Target(
        url, scheme, host, port, f"{path}?{parts.query}" if parts.query else path, addresses[0]
    )


@dataclass
class OpenedReport:
    target: Target
    response: urllib3.BaseHTTPResponse
    content_type: str
    etag: str | None


def open_report(
    url: str,
    policy: FetchPolicy,
    resolve: Resolver | None = None,
    if_none_match: str | None = None,
    authorization: str | None = None,
) -> OpenedReport:
    """`authorization` goes to the URL's own origin (scheme, host, port) only, never to where it
    redirects (a recording's link may redirect to a pre-signed store that must not see the
    account's key)."""
    origin: tuple[str, str, int] | None = None
    for _ in range(policy.max_redirects + 1):
        # the resolver is looked up at each call, never bound when this module was imported
        target = resolve_target(url, policy, resolve or socket.getaddrinfo)
        origin = origin or (target.scheme, target.host, target.port)
        same = (target.scheme, target.host, target.port) == origin
        credentials = authorization if same else None
        response = _get(target, policy, if_none_match, credentials)
        if response.status in _REDIRECTS:
            location = response.headers.get("location")
            response.release_conn()
            if not location:
                raise PermanentFetchFailure(f"HTTP {response.status} without a Location")
            url = urljoin(url, location)
            continue
        if response.status == 304:
            response.release_conn()
            raise NotModified
        if response.status == 429 or response.status >= 500:
            response.release_conn()
            raise TransientFetchFailure(f"HTTP {response.status} from {target.host}")
        if response.status != 200:
            response.release_conn()
            raise PermanentFetchFailure(
                f"HTTP {response.status} from {target.host}", status=response.status
            )
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            response.release_conn()
            raise PermanentFetchFailure(
                f"report is {length} bytes, over the {policy.max_bytes} cap"
            )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in {"", "identity"}:
            response.release_conn()
            raise PermanentFetchFailure(f"report sent {encoding}-encoded; identity was asked for")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return OpenedReport(target, response, content_type, response.headers.get("etag"))
    raise PermanentFetchFailure(f"more than {policy.max_redirects} redirects")


def _pool(target: Target, policy: FetchPolicy) -> urllib3.HTTPConnectionPool:
    """A connection to the checked address, TLS verified against the host name."""
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            timeout=timeout,
            retries=False,
        )
    return urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)


def _host_header(target: Target) -> str:
    default_port = 443 if target.scheme == "https" else 80
    return target.host if target.port == default_port else f"{target.host}:{target.port}"


def _get(
    target: Target, policy: FetchPolicy, if_none_match: str | None, authorization: str | None
) -> urllib3.BaseHTTPResponse:
    headers = {
        "Host": _host_header(target),
        "Accept": "text/csv, */*;q=0.5",
        "Accept-Encoding": "identity",  # the size cap counts bytes on the wire: never inflate
        "User-Agent": "exotel-campaign-webhooks/report-fetcher",
    }
    if if_none_match:
        headers["If-None-Match"] = if_none_match
    if authorization:
        headers["Authorization"] = authorization
    try:
        return _pool(target, policy).urlopen(
            "GET", target.path, headers=headers, redirect=False, preload_content=False
        )
    except SSLError as error:
        raise PermanentFetchFailure(f"TLS failed with {target.host}: {error}") from error
    except HTTPError as error:
        raise TransientFetchFailure(f"{type(error).__name__} from {target.host}") from error


def pinned_request(
    target: Target, policy: FetchPolicy, headers: dict[str, str]
) -> tuple[int, str, bytes, dict[str, str]]:
    """One GET to the checked address, no redirects followed: (status, content type, body,
    the answer's headers, names in lower case). A body over `policy.max_bytes` is refused; it
    never reaches memory whole."""
    sent = {"Host": _host_header(target), "Accept-Encoding": "identity", **headers}
    try:
        response = _pool(target, policy).urlopen(
            "GET", target.path, headers=sent, redirect=False, preload_content=False
        )
        body = response.read(policy.max_bytes + 1)
        response.release_conn()
    except SSLError as error:
        raise PermanentFetchFailure(f"TLS failed with {target.host}: {error}") from error
    except HTTPError as error:
        raise TransientFetchFailure(f"{type(error).__name__} from {target.host}") from error
    if len(body) > policy.max_bytes:
        raise PermanentFetchFailure(f"answer over {policy.max_bytes} bytes from {target.host}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    answered = {name.lower(): value for name, value in response.headers.items()}
    return response.status, content_type, body, answered


def looks_like_csv(content_type: str, head: bytes) -> str | None:
    """None if the start of the body reads as CSV, else why not."""
    if content_type.startswith(_NOT_CSV_TYPES):
        return f"not CSV: content type {content_type}"
    if not head.strip():
        return "not CSV: the report is empty"
    if b"\x00" in head:
        return "not CSV: binary content"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # a character cut at the end of the sample is fine
            return "not CSV: not UTF-8 text"
        text = head[: error.start].decode("utf-8-sig")
    first_line = text.lstrip().splitlines()[0] if text.strip() else ""
    if first_line[:1] in {"<", "{", "["}:
        return "not CSV: looks like HTML, XML or JSON"
    if not any(delimiter in first_line for delimiter in ",;\t|"):
        return "not CSV: the first line has no delimiter"
    return None


class ReportReader:
    """A file-like view of the response for the upload: hashes and counts what passes through,
    stops at the size cap, and holds the overall deadline inside every read (to within one read
    timeout): each read takes what one receive brings, so a server that drips bytes cannot keep
    a read going. Bytes are counted as they came on the wire (never decoded)."""

    def __init__(self, opened: OpenedReport, policy: FetchPolicy) -> None:
        self._response = opened.response
        self._pending = b""
        self._max_bytes = policy.max_bytes
        self._deadline = time.monotonic() + policy.total_seconds
        self.size = 0
        self.sha256 = hashlib.sha256()

    def head(self, size: int) -> bytes:
        """Up to `size` bytes from the start, left to be read again."""
        while len(self._pending) < size and (piece := self._wire(size - len(self._pending))):
            self._pending += piece
        return self._pending

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            cut = len(self._pending) if size < 0 else size
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
        else:
            chunk = self._wire(size if size > 0 else HEAD_BYTES)
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise PermanentFetchFailure(f"report exceeds the {self._max_bytes} byte cap")
        self.sha256.update(chunk)
        return chunk

    def _wire(self, size: int) -> bytes:
        if time.monotonic() > self._deadline:
            raise TransientFetchFailure("report download too slow: over its time limit")
        try:
            return self._response.read1(size, decode_content=False)
        except HTTPError as error:
            raise TransientFetchFailure(f"report download broke: {type(error).__name__}") from error
