"""Exotel's Campaign API (v2), read-only: one campaign, and its call attempts page by page
(docs/architecture.md, "Sweeps"); and its Call details API (v1): what calls cost and lasted
(sweep/call_details.py). Every request takes a turn at the account's limit (sweep/pacing.py).

HTTPS to exactly the configured host, with the report fetcher's address pinning (every address
the host resolves to must be public; the connection goes to the checked one), timeouts, and
backoff on 429 and 5xx. Exotel publishes no schema for these answers, so they are read
tolerantly: wrapped or bare objects, any spelling of a field name, rows that cannot be used
counted rather than fatal. Anything else is a clear error, never a partial truth.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from exotel_webhooks.ledger.api_records import ApiCall, ApiCampaign
from exotel_webhooks.normalise import (
    field_key,
    normalise_call_status,
    normalise_campaign_status,
    normalise_phone,
    parse_timestamp,
)
from exotel_webhooks.reports.safe_http import (
    FetchPolicy,
    PermanentFetchFailure,
    Resolver,
    TransientFetchFailure,
    pinned_request,
    resolve_target,
)
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.call_details import (
    MAX_SIDS,
    CallDetailsAnswer,
    batches,
    date_range,
    next_page,
    read_calls,
)
from exotel_webhooks.sweep.pacing import Turns
from exotel_webhooks.vocabulary import check_identifier, check_plausible

MAX_BODY_BYTES = 8 * 1024 * 1024  # a page of 500 rows is about 250 KB
RETRY_DELAYS = (1.0, 2.0, 4.0)  # then the sweep stops and resumes on its next run
MAX_RETRY_AFTER_SECONDS = 120.0  # a longer wait asked for: stop, and resume on the next run
# Exotel's two spellings of the calls route (older pages: singular); a 404 on one tries the
# other once, and the client keeps to the one that answered
CALLS_ROUTES = ("campaigns", "campaign")
MAX_DETAIL_PAGES = 5  # 100 SIDs asked for fit one page of 100; a few more if the API pages less


class CampaignApiRefused(Exception):
    """The API answered something that will not change by asking again: credentials refused,
    no such campaign, not JSON. The sweep records it and stops."""


class CampaignApiUnavailable(Exception):
    """429, 5xx, timeouts or no connection, after the retries: the next run tries again."""


class CampaignApiNotFound(CampaignApiRefused):
    """HTTP 404: the route or the campaign is not known to the API."""


@dataclass(frozen=True)
class ApiCredentials:
    api_key: str
    api_token: str
    account_sid: str

    @property
    def authorization(self) -> str:
        """HTTP Basic with the account's key and token: Exotel's APIs, and its recordings."""
        token = f"{self.api_key}:{self.api_token}".encode()
        return "Basic " + base64.b64encode(token).decode()

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> ApiCredentials:
        """`{"api_key", "api_token", "account_sid"}`, as the stack's API secret holds them."""
        try:
            return cls(str(secret["api_key"]), str(secret["api_token"]), str(secret["account_sid"]))
        except KeyError as error:
            raise CampaignApiRefused(f"the API secret has no {error.args[0]}") from error


class RowRefused(ValueError):
    """A call-details row the ledger will not store: what a callback saying the same would get
    quarantined for (vocabulary.py), or what it lacks. `reason` is its kind, counted on the
    campaign (`sweep.rows_refused`); the message says which row and why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class CallPage:
    calls: list[ApiCall]
    rows: int  # rows the page held, usable or not: the next page starts after them
    total: int | None  # the API's `metadata.total` for this page (it may change between pages)
    refused: list[RowRefused] = field(default_factory=list)  # rows left out, each with its reason
    call_sids: tuple[str, ...] = ()  # every row's call SID as sent, in order: a repeat shows


# (status, content type, body[, headers]): fakes may leave the headers out
type Sender = Callable[[str, dict[str, str]], tuple[Any, ...]]


class CampaignApi:
    def __init__(
        self,
        host: str,
        credentials: ApiCredentials,
        rules: NormalisationRules,
        *,
        allow_loopback: bool = False,
        resolve: Resolver | None = None,
        send: Sender | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pacer: Turns | None = None,
    ) -> None:
        scheme = (
            "http" if allow_loopback and host.split(":", maxsplit=1)[0] in _LOOPBACK else "https"
        )
        self.origin = f"{scheme}://{host}"
        account = quote(credentials.account_sid, safe="")
        self.base = f"{self.origin}/v2/accounts/{account}"
        self.calls_url = f"{self.origin}/v1/Accounts/{account}/Calls.json"
        self.credentials, self.rules = credentials, rules
        host_name = host.split(":", maxsplit=1)[0].lower()
        self.policy = FetchPolicy((host_name,), MAX_BODY_BYTES, allow_loopback=allow_loopback)
        self.resolve, self.sleep, self.clock = resolve, sleep, clock
        self.send = send or self._send
        self.pacer = pacer
        self.calls_route, self.calls_route_known = CALLS_ROUTES[0], False

    def campaign(self, campaign_sid: str) -> ApiCampaign:
        """The campaign's status and date, checked as a campaign status callback's would be
        (an answer about another campaign, or dated implausibly, is refused)."""
        document = self._get(f"/campaigns/{quote(campaign_sid, safe='')}", {})
        read_at = self.clock()
        data = _campaign_object(document)
        named = _text(data, "campaignsid") or _text(data, "id")
        if named is not None and named != campaign_sid:
            raise CampaignApiRefused(f"the campaign answer is about {named[:64]!r}")
        status = _text(data, "status")
        try:
            normalised = check_identifier(normalise_campaign_status(status)) if status else None
            updated = self._moment("date_updated", _text(data, "dateupdated"), read_at)
        except ValueError as error:
            raise CampaignApiRefused(f"the campaign answer: {error}") from error
        return ApiCampaign(campaign_sid=campaign_sid, status=normalised, date_updated=updated)

    def call_page(
        self, campaign_sid: str, offset: int, limit: int, *, newest_first: bool = False
    ) -> CallPage:
        order = "date_created:desc" if newest_first else "date_created:asc"
        query = {"offset": str(offset), "limit": str(limit), "sort_by": order}
        document = self._calls(campaign_sid, query)
        rows = document.get("response")
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            raise CampaignApiRefused("call-details: `response` is not a list of rows")
        metadata = document.get("metadata")
        total = metadata.get("total") if isinstance(metadata, dict) else None
        read_at = self.clock()
        calls, refused, sids = [], [], []
        for row in rows:
            sids.append(_row_call_sid(row))
            try:
                calls.append(self._call(row, campaign_sid, read_at))
            except RowRefused as error:
                refused.append(error)
        return CallPage(
            calls,
            len(rows),
            total if isinstance(total, int) and total >= 0 else None,
            refused,
            tuple(sids),
        )

    def call_details(self, calls: Sequence[tuple[str, datetime | None]]) -> CallDetailsAnswer:
        """What Exotel's Call details API says of these calls (call SID, when created), in
        requests of up to 100 SIDs a month wide at most; a call it does not list is in none
        of the answer's parts."""
        answer = CallDetailsAnswer()
        for chunk in batches(calls):
            asked = {sid for sid, _ in chunk}
            query = {"Sid": ",".join(sorted(asked)), "PageSize": str(MAX_SIDS)}
            if span := date_range((moment for _, moment in chunk), self.rules.local_timezone):
                query["DateCreated"] = span
            url: str | None = self.calls_url + "?" + urlencode(query)
            for _ in range(MAX_DETAIL_PAGES):
                if url is None:
                    break
                document = self._get_url(url)
                try:
                    read_calls(document, asked, self.rules.currency, answer)
                except ValueError as error:
                    raise CampaignApiRefused(f"call details: {error}") from error
                following = next_page(document)
                url = self.origin + following if following else None
        return answer

    # ---------------------------------------------------------------- reading answers
    def _call(self, row: object, campaign_sid: str, read_at: datetime) -> ApiCall:
        """One row as the attempt it reports, or RowRefused: the checks a call status callback
        passes before it is accepted (vocabulary.py), against the time the page was read."""
        data = row.get("data", row) if isinstance(row, dict) else row
        if not isinstance(data, dict):
            raise RowRefused("not_an_object", "a row that is not an object")
        fields = {field_key(name): value for name, value in data.items()}
        call_sid = _text(fields, "callsid") or _text(fields, "sid")
        if not call_sid:
            raise RowRefused("no_call_sid", "a row without a call SID")
        shown = call_sid[:64]  # in a log line: a sender's text, bounded
        named = _text(fields, "campaignsid") or _text(fields, "campaignid")
        if named is not None and named != campaign_sid:
            raise RowRefused("other_campaign", f"call {shown}: names another campaign")
        raw = _text(fields, "number") or _text(fields, "to") or _text(fields, "phonenumber")
        if not raw:
            raise RowRefused("no_number", f"call {shown}: no number")
        status = _text(fields, "status")
        if not status:
            raise RowRefused("no_status", f"call {shown}: no status")
        try:
            normalised_status = normalise_call_status(status)
        except ValueError as error:
            raise RowRefused("unreadable_status", f"call {shown}: status unreadable") from error
        checked = (("call_sid", call_sid), ("number", raw), ("status", normalised_status))
        for name, identifier in checked:
            try:
                check_identifier(identifier)
            except ValueError as error:
                raise RowRefused("unstorable", f"call {shown}: {name}: {error}") from error
        created = self._row_moment(
            shown, "date_created", fields, ("datecreated", "starttime"), read_at
        )
        ended = self._row_moment(shown, "date_updated", fields, ("endtime", "dateupdated"), read_at)
        return ApiCall(
            call_sid=call_sid,
            number=normalise_phone(raw, self.rules.default_phone_region).key,
            number_raw=raw,
            status=normalised_status,
            date_created=created,
            date_updated=ended or created,
        )

    def _row_moment(
        self,
        shown: str,
        name: str,
        fields: Mapping[str, Any],
        keys: tuple[str, str],
        read_at: datetime,
    ) -> datetime | None:
        text = _text(fields, keys[0]) or _text(fields, keys[1])
        try:
            return self._moment(name, text, read_at)
        except ValueError as error:
            raise RowRefused("bad_date", f"call {shown}: {name}: {error}") from error

    def _moment(self, name: str, text: str | None, read_at: datetime) -> datetime | None:
        """A time as a callback's is read, and refused as one would be: unreadable, before
        2000, or more than a day after it was read (it would outrank every real update)."""
        if not text:
            return None
        moment = parse_timestamp(text, self.rules.local_timezone)
        check_plausible(name, moment, read_at)
        return moment

    def _calls(self, campaign_sid: str, query: dict[str, str]) -> dict[str, Any]:
        """The call-details route, in the spelling that answered (both tried once)."""
        routes = [self.calls_route]
        if not self.calls_route_known:
            routes += [route for route in CALLS_ROUTES if route != self.calls_route]
        for route in routes:
            try:
                document = self._get(f"/{route}/{quote(campaign_sid, safe='')}/call-details", query)
            except CampaignApiNotFound:
                if route == routes[-1]:
                    raise
                continue
            self.calls_route, self.calls_route_known = route, True
            return document
        raise AssertionError("unreachable")  # the loop returns or raises

    # ---------------------------------------------------------------- HTTP
    def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        return self._get_url(self.base + path + (f"?{urlencode(query)}" if query else ""))

    def _get_url(self, url: str) -> dict[str, Any]:
        path = urlsplit(url).path
        headers = {
            "Authorization": self.credentials.authorization,
            "Accept": "application/json",
        }
        for delay in (*RETRY_DELAYS, None):
            if self.pacer:
                self.pacer.wait()
            try:
                status, content_type, body, *answered = self.send(url, headers)
            except TransientFetchFailure as error:
                if delay is None:
                    raise CampaignApiUnavailable(str(error)) from error
                self.sleep(delay)
                continue
            except PermanentFetchFailure as error:
                raise CampaignApiRefused(str(error)) from error
            if status == 429 or status >= 500:
                asked = retry_after(answered[0] if answered else {}, self.clock())
                if delay is None or (asked or 0) > MAX_RETRY_AFTER_SECONDS:
                    raise CampaignApiUnavailable(f"HTTP {status} from the Campaign API")
                if asked is not None and self.pacer:
                    self.pacer.hold(asked)  # the next request, whichever, waits for it
                elif asked is not None:
                    self.sleep(asked)
                else:
                    self.sleep(delay)
                continue
            return _document(status, content_type, body, path)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _send(self, url: str, headers: dict[str, str]) -> tuple[int, str, bytes, dict[str, str]]:
        # looked up at each call, not bound at import: whatever resolver the process has now
        target = resolve_target(url, self.policy, self.resolve or socket.getaddrinfo)
        return pinned_request(target, self.policy, headers)


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the API asked to wait: `Retry-After` (seconds, or an HTTP date), else
    `X-RateLimit-Reset` (seconds, or the epoch second the window resets at)."""
    named = {name.lower(): value.strip() for name, value in headers.items()}
    wait = named.get("retry-after")
    if wait:
        try:
            return max(0.0, float(wait))
        except ValueError:
            pass
        try:
            return max(0.0, (parsedate_to_datetime(wait) - now).total_seconds())
        except (TypeError, ValueError):
            pass
    reset = named.get("x-ratelimit-reset")
    try:
        seconds = float(reset) if reset else None
    except ValueError:
        return None
    if seconds is None:
        return None
    return max(0.0, seconds - now.timestamp()) if seconds > EPOCH_SECONDS_AFTER else seconds


EPOCH_SECONDS_AFTER = 1e9  # a reset this large is a moment (2001 on), not a count of seconds


def _document(status: int, content_type: str, body: bytes, path: str) -> dict[str, Any]:
    if status in (401, 403):
        raise CampaignApiRefused(f"HTTP {status}: the API key, token or account SID is refused")
    if status == 404:
        raise CampaignApiNotFound(f"HTTP 404: {path} is not known to the Campaign API")
    if status != 200:
        raise CampaignApiRefused(f"HTTP {status} from the Campaign API")
    if "html" in content_type:
        raise CampaignApiRefused("the Campaign API answered an HTML page, not JSON")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise CampaignApiRefused(f"the Campaign API's answer is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise CampaignApiRefused("the Campaign API's answer is not a JSON object")
    return document


def _campaign_object(document: dict[str, Any]) -> dict[str, Any]:
    """The campaign inside `{"response": [{"data": {...}}]}`, `{"response": {...}}` or bare."""
    response = document.get("response", document)
    if isinstance(response, list):
        response = response[0] if response else None
    if isinstance(response, dict) and isinstance(response.get("data"), dict):
        response = response["data"]
    if not isinstance(response, dict):
        raise CampaignApiRefused("the campaign answer holds no campaign object")
    return {field_key(name): value for name, value in response.items()}


def _row_call_sid(row: object) -> str:
    """A row's call SID as sent (or its text), to tell a page that repeats the last one."""
    data = row.get("data", row) if isinstance(row, dict) else row
    if isinstance(data, dict):
        fields = {field_key(name): value for name, value in data.items()}
        return _text(fields, "callsid") or _text(fields, "sid") or repr(data)[:128]
    return repr(data)[:128]


def _text(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
