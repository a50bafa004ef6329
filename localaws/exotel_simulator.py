"""A simulated Exotel for the demos and the local tier: a campaign played with Exotel's retry
rules, its callbacks sent as Exotel sends them (a 5xx answer is tried again), its report CSV and
its Campaign API served on loopback, and the read API's answers checked against the truth.
`make demo` (localaws/demo.py) and `make demo SWEEP=1` (localaws/demo_sweep.py) use it."""

from __future__ import annotations

import base64
import json
import math
import random
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from exotel_webhooks.sweep.campaign_api import ApiCredentials

ATTEMPT_STATUSES = ("completed", "busy", "no-answer", "failed")
ATTEMPT_WEIGHTS = (50, 15, 25, 10)
NO_PROGRESS_SECONDS = 300  # give up waiting once the counts have stood still this long
PROGRESS_EVERY_SECONDS = 10
CREDENTIALS = ApiCredentials("demo-key", "demo-token", "demo-account")


@dataclass
class Campaign:
    sid: str
    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    numbers: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    report_rows: list[tuple[str, str]] = field(default_factory=list)
    # the truth the analytics must find: final attempts and connects, by the hour each was
    # dialled (LocalTimezone) and by its place among the number's attempts
    by_hour: dict[int, Counter[str]] = field(default_factory=dict)
    by_attempt: dict[int, Counter[str]] = field(default_factory=dict)
    # what Exotel's Call details API says of each attempt (call_details)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cost(self) -> dict[str, Any]:
        """The campaign's cost as the read API must show it (views: cost_view)."""
        total = sum((Decimal(call["Price"]) for call in self.details.values()), Decimal(0))
        return {
            "attempts_with_details": len(self.details),
            "total": str(total.quantize(Decimal("0.001"))),
        }


RECORDING_BYTES_PER_SECOND = 2000  # a 16 kbit/s mono mp3
PRICE_PER_MINUTE = Decimal("0.50")  # INR a started minute of an answered call


def call_details(call_sid: str, status: str, created: str) -> dict[str, Any]:
    """Exotel's call object for an attempt, the same for the same call: an answered call lasts
    20 to 179 s (6 of them ringing), is billed by the started minute and recorded."""
    answered = status == "completed"
    duration = 20 + zlib.crc32(call_sid.encode()) % 160 if answered else 0
    call: dict[str, Any] = {
        "Sid": call_sid,
        "Status": status,
        "DateCreated": created,
        "Duration": str(duration),
        "Price": f"{PRICE_PER_MINUTE * math.ceil(duration / 60):.3f}",
        "Details": {"ConversationDuration": max(duration - 6, 0)},
    }
    if answered:
        call["RecordingUrl"] = f"https://recordings.exotel.example/{call_sid}.mp3"
    return call


def simulate(count: int, sid: str, rng: random.Random) -> Campaign:
    campaign = Campaign(sid)
    for index in range(count):
        number = f"09{rng.randrange(10**8, 10**9)}"
        retries = rng.randrange(0, 4)
        call_sids = []
        status = "failed"
        for attempt in range(retries + 1):
            status = rng.choices(ATTEMPT_STATUSES, ATTEMPT_WEIGHTS)[0]
            call_sid = f"{sid}-{index}-{attempt}"
            call_sids.append(call_sid)
            minute = index % 60
            hour = 10 + attempt  # each retry an hour after the last
            connected = int(status == "completed")
            campaign.by_hour.setdefault(hour, Counter()).update(attempts=1, connected=connected)
            place = campaign.by_attempt.setdefault(attempt + 1, Counter())
            place.update(attempts=1, connected=connected)
            campaign.deliveries.append(
                (
                    "call-status",
                    {
                        "campaign_sid": sid,
                        "call_sid": call_sid,
                        "number": number,
                        "status": status,
                        "date_created": f"2024-01-15 {hour}:{minute:02d}:00",
                        "date_updated": f"2024-01-15 {hour}:{minute:02d}:30",
                    },
                )
            )
            campaign.attempts[status] += 1
            created = f"2024-01-15 {hour}:{minute:02d}:00"
            campaign.details[call_sid] = call_details(call_sid, status, created)
            if status == "completed":
                break
        final = "completed" if status == "completed" else "failed"
        campaign.numbers[final] += 1
        campaign.report_rows.append((number, final))
        if rng.random() < 0.02:
            campaign.lost += 1  # Exotel never delivered it: the report must backfill it
            continue
        campaign.deliveries.append(
            (
                "call-schedule",
                {
                    "campaign_sid": sid,
                    "to": number,
                    "from": "08047104890",
                    "call_sids": call_sids,
                    "status": final,
                    "date_updated": "2024-01-15 15:00:00",
                },
            )
        )
    return campaign


def serve_report(campaign: Campaign) -> tuple[ThreadingHTTPServer, str]:
    body = (
        "Phone Number,Final Status\n" + "".join(f"{n},{s}\n" for n, s in campaign.report_rows)
    ).encode()

    class Report(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/csv")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Report)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/report.csv?X-Amz-Signature=demo"


EXOTEL_ATTEMPTS = 3  # Exotel retries a callback that failed twice, then drops it


RETRIED: list[int] = []  # the 5xx answers that Exotel's retries then got past


def send_like_exotel(
    base: str, token: str, callback: str, fields: dict[str, Any], as_form: bool
) -> int:
    """POST a callback as Exotel does: a 5xx answer (nothing accepted) is tried again."""
    for attempt in range(EXOTEL_ATTEMPTS):
        status = post(base, token, callback, fields, as_form)
        if status < 500 or attempt == EXOTEL_ATTEMPTS - 1:
            return status
        RETRIED.append(status)
        time.sleep(1)
    return status


def post(base: str, token: str, callback: str, fields: dict[str, Any], as_form: bool) -> int:
    if as_form:
        pairs = [
            (f"{name}[]" if isinstance(value, list) else name, item)
            for name, value in fields.items()
            for item in (value if isinstance(value, list) else [value])
        ]
        body, content_type = urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    else:
        body, content_type = json.dumps(fields).encode(), "application/json"
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/webhooks/exotel/{callback}?token={token}",
        data=body,
        headers={"content-type": content_type},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def get(base: str, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=30) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def print_checks(
    expected: dict[str, dict[str, Any]],
    summary: dict[str, Any],
    more: list[tuple[str, Any, Any]],
) -> bool:
    """Print each expected part of the read API's campaign against what it says, and `more`
    (name, expected, got); True if everything matches."""
    checks = [
        (f"{key}.{part}", wanted, (summary.get(key) or {}).get(part))
        for key, value in expected.items()
        for part, wanted in value.items()
    ]
    checks += more
    print(f"| {'check':<26} | {'expected':<42} | {'read API':<42} | ok |")
    print(f"| {'-' * 26} | {'-' * 42} | {'-' * 42} | -- |")
    for name, wanted, got in checks:
        mark = "ok" if wanted == got else "NO"
        print(
            f"| {name:<26} | {json.dumps(wanted):<42} | {json.dumps(got):<42} | {mark} |",
            flush=True,
        )
    ok = all(wanted == got for _, wanted, got in checks)
    print("\nall counts match" if ok else "\nMISMATCH", flush=True)
    return ok


def wait_for(
    base: str, path: str, expected: dict[str, dict[str, Any]], what: str
) -> dict[str, Any]:
    """The read API's answer once it shows `expected`, or its last answer once nothing has
    moved for 5 minutes. Says every 10 s how far the pipeline has got."""
    moved_at = printed_at = time.monotonic()
    seen: str | None = None
    while True:
        _, summary = get(base, path)
        if all(
            (summary.get(key) or {}).get(part) == wanted
            for key, value in expected.items()
            for part, wanted in value.items()
        ):
            return summary
        now, progress = time.monotonic(), _progress(summary, expected)
        if progress != seen:
            seen, moved_at = progress, now
        elif now - moved_at > NO_PROGRESS_SECONDS:
            return summary
        if now - printed_at >= PROGRESS_EVERY_SECONDS:
            print(f"  waiting for {what}: {progress}", flush=True)
            printed_at = now
        time.sleep(0.5)


def _progress(summary: dict[str, Any], expected: dict[str, dict[str, Any]]) -> str:
    """`attempts.total 1200/2237, report pending, ...`: the counts so far against the truth."""
    parts = []
    for key, part in (
        ("attempts", "total"),
        ("numbers", "total"),
        ("reconciliation", "report_rows"),
    ):
        if part in expected.get(key, {}):
            got = (summary.get(key) or {}).get(part)
            parts.append(f"{key} {'-' if got is None else got}/{expected[key][part]}")
    if "report" in expected:
        parts.append(f"report {(summary.get('report') or {}).get('status') or 'not requested'}")
    return ", ".join(parts)


def serve_campaign_api(
    campaigns: Mapping[str, list[dict[str, Any]]],
    calls: Mapping[str, dict[str, Any]] | None = None,
    asked: list[str] | None = None,
) -> tuple[ThreadingHTTPServer, str]:
    """Exotel's Campaign API on loopback, behind the demo's credentials: each campaign of
    `campaigns` (read at each request: a caller may add campaigns) is Completed with those call
    rows; any other is 404. And its Call details API: the call objects of `calls` asked for
    (`Sid=a,b,...`), by call SID, and each call's recording at `/recordings/<call SID>.mp3`.
    Each request's path is added to `asked`, if given."""
    secret = f"{CREDENTIALS.api_key}:{CREDENTIALS.api_token}".encode()
    authorised = "Basic " + base64.b64encode(secret).decode()

    class CampaignApiHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if asked is not None:
                asked.append(self.path)
            sid = parts.path.split("/campaigns/", 1)[-1].split("/", 1)[0]
            rows = campaigns.get(sid)
            if self.headers.get("Authorization") != authorised:
                self._answer(401, {"message": "authentication failed"})
            elif parts.path.startswith("/recordings/"):  # a recording: 16 kbit/s of its call
                call = (calls or {}).get(parts.path.removeprefix("/recordings/").split(".")[0])
                if call is None:
                    self._answer(404, {"message": "no such recording"})
                    return
                self._bytes(b"ID3" + bytes(RECORDING_BYTES_PER_SECOND * int(call["Duration"])))
            elif parts.path.endswith("/Calls.json"):
                sids = parse_qs(parts.query).get("Sid", [""])[0].split(",")
                found = [{"Call": (calls or {})[sid]} for sid in sids if sid in (calls or {})]
                self._answer(200, {"Metadata": {"Total": len(found)}, "Calls": found})
            elif rows is None:
                self._answer(404, {"message": f"no campaign {sid}"})
            elif parts.path.endswith("/call-details"):
                query = parse_qs(parts.query)
                offset, limit = int(query["offset"][0]), int(query["limit"][0])
                newest_first = query.get("sort_by") == ["date_created:desc"]
                ordered = sorted(rows, key=lambda row: row["date_created"], reverse=newest_first)
                page = ordered[offset : offset + limit]
                metadata = {"count": len(page), "offset": offset, "total": len(rows)}
                self._answer(200, {"metadata": metadata, "response": page})
            else:
                data = {"id": sid, "status": "Completed", "date_updated": "2024-01-15 16:00:00"}
                self._answer(200, {"response": [{"code": 200, "status": "success", "data": data}]})

        def _bytes(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("content-type", "audio/mpeg")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CampaignApiHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"127.0.0.1:{httpd.server_address[1]}"
