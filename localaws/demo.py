"""`make demo`: an Exotel campaign played against the local stack, then checked.

NUMBERS numbers (default 200) are called with Exotel's retry rules (up to number_of_retries
0-3 more attempts on busy, no-answer or failed); every attempt sends a call status callback,
every number a call schedule callback (2% are "lost", for the report to backfill), the campaign
its statuses, with a report CSV served on loopback. About 10% of deliveries are duplicated and
the order is shuffled, JSON and form bodies mixed. Then the read API must agree with the truth.
Uses the stack `make local` runs (its state file), or BASE_URL, else starts one on PORT.
SWEEP=1 plays a campaign whose callbacks were partly lost instead (localaws/demo_sweep.py).
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from localaws.emulation import DEFAULT_WEBHOOK_TOKEN, LOCAL_STATE
from localaws.net import free_port

ATTEMPT_STATUSES = ("completed", "busy", "no-answer", "failed")
ATTEMPT_WEIGHTS = (50, 15, 25, 10)
NO_PROGRESS_SECONDS = 300  # give up waiting once the counts have stood still this long
PROGRESS_EVERY_SECONDS = 10


@dataclass
class Campaign:
    sid: str
    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    numbers: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    report_rows: list[tuple[str, str]] = field(default_factory=list)


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
            campaign.deliveries.append(
                (
                    "call-status",
                    {
                        "campaign_sid": sid,
                        "call_sid": call_sid,
                        "number": number,
                        "status": status,
                        "date_created": f"2024-01-15 10:{minute:02d}:00",
                        "date_updated": f"2024-01-15 1{attempt}:{minute:02d}:30",
                    },
                )
            )
            campaign.attempts[status] += 1
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


@dataclass(frozen=True)
class Played:
    webhooks: int
    accepted: int
    sent_seconds: float
    callbacks_stored_seconds: float  # every call attempt stored, from the first send
    all_stored_seconds: float  # and the report fetched and reconciled
    ok: bool

    @property
    def webhooks_per_second(self) -> float:
        return self.webhooks / self.sent_seconds

    @property
    def stored_per_second(self) -> float:
        """Webhooks turned into the ledger per second: sent, processed, counted."""
        return self.webhooks / self.callbacks_stored_seconds


def play(base: str, token: str, count: int, seed: int) -> Played:
    rng = random.Random(seed)  # noqa: S311 - a simulation, not security
    campaign = simulate(count, f"demo-{seed}-{int(time.time())}", rng)
    httpd, report_url = serve_report(campaign)
    extra = rng.sample(campaign.deliveries, len(campaign.deliveries) // 10)
    deliveries = campaign.deliveries + extra
    rng.shuffle(deliveries)
    sid = campaign.sid
    started = time.perf_counter()
    first = {"campaign_sid": sid, "status": "in-progress", "date_updated": "2024-01-15 09:59:00"}
    codes = [send_like_exotel(base, token, "campaign-status", first, as_form=False)]
    forms = [rng.random() < 0.5 for _ in deliveries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes += pool.map(
            lambda d, form: send_like_exotel(base, token, d[0], d[1], form), deliveries, forms
        )
    final = {
        "campaign_sid": sid,
        "status": "Completed",
        "date_updated": "2024-01-15 16:00:00",
        "report_url": report_url,
    }
    codes.append(send_like_exotel(base, token, "campaign-status", final, as_form=False))
    sent_seconds = time.perf_counter() - started
    print(f"sent {len(codes)} webhooks in {sent_seconds:.1f} s; waiting for the pipeline")
    expected: dict[str, dict[str, Any]] = {
        "attempts": {
            "total": sum(campaign.attempts.values()),
            "by_status": dict(sorted(campaign.attempts.items())),
        },
        "numbers": {"total": count, "by_status": dict(sorted(campaign.numbers.items()))},
        "reconciliation": {
            "source": "report",
            "report_rows": count,
            "matched": count - campaign.lost,
            "backfilled": campaign.lost,
            "mismatched": 0,
            "unparseable": 0,
        },
        "report": {"status": "stored"},
    }
    # Every call attempt stored. (Not the numbers: once the report is in, they count the lost
    # call schedule callbacks too, as backfills, so a large campaign may never show that count.)
    wait_for(base, f"/campaigns/{sid}", {"attempts": expected["attempts"]}, "the callbacks")
    callbacks_seconds = time.perf_counter() - started
    summary = wait_for(base, f"/campaigns/{sid}", expected, "the report (ReportFetchDelaySeconds)")
    drained_seconds = time.perf_counter() - started
    httpd.shutdown()
    print(f"\ncampaign {sid}: {count} numbers, {len(codes)} webhooks ({len(extra)} duplicated)")
    if RETRIED:
        print(f"{len(RETRIED)} webhook(s) answered 5xx at first and were retried, as Exotel does")
    print(
        f"accepted {codes.count(200)}/{len(codes)} in {sent_seconds:.1f} s "
        f"({len(codes) / sent_seconds:.0f} webhooks/s); attempts stored and counted in "
        f"{callbacks_seconds:.1f} s ({len(codes) / callbacks_seconds:.0f} webhooks/s), the "
        f"report reconciled in {drained_seconds:.1f} s\n"
    )
    ok = print_checks(expected, summary, [("webhooks answered 200", len(codes), codes.count(200))])
    return Played(
        len(codes), codes.count(200), sent_seconds, callbacks_seconds, drained_seconds, ok
    )


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


def running_stack(
    base_url: str | None, token: str, state_file: Path = LOCAL_STATE
) -> tuple[str | None, str]:
    """BASE_URL if given, else the stack `make local` runs if its state file names one that
    answers (with that stack's token), else none."""
    if base_url:
        return base_url, token
    if not state_file.exists():
        return None, token
    state = json.loads(state_file.read_text())
    address = urlsplit(state["base_url"])
    try:
        with socket.create_connection((address.hostname, address.port), timeout=1):
            return state["base_url"], state["tokens"][0]
    except OSError:  # a stale file: the stack it names has stopped
        return None, token


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress when piped
    count = int(os.environ.get("NUMBERS", "200"))
    token = os.environ.get("WEBHOOK_TOKEN", DEFAULT_WEBHOOK_TOKEN)
    seed = int(os.environ.get("SEED", "7"))
    base, token = running_stack(os.environ.get("BASE_URL"), token)
    if base:
        print(f"playing against the running local stack {base}", flush=True)
        endpoint = json.loads(LOCAL_STATE.read_text())["endpoint"] if LOCAL_STATE.exists() else ""
        return _play(base.rstrip("/"), token, endpoint, count, seed)
    from localaws.stack import start  # noqa: PLC0415

    port = int(os.environ.get("PORT") or free_port())
    stack, _, stop = start(port, (token,), quiet=True, log_level="WARNING")  # the table, not logs
    try:
        print(f"local stack ready http://127.0.0.1:{port}", flush=True)
        return _play(f"http://127.0.0.1:{port}", token, stack.endpoint, count, seed)
    finally:
        stop()


def _play(base: str, token: str, endpoint: str, count: int, seed: int) -> int:
    if os.environ.get("SWEEP"):  # lost callbacks, no final status, then a sweep
        if not endpoint:
            print("make demo SWEEP=1 needs the stack's emulated AWS (its state file)")
            return 2
        from localaws.demo_sweep import play_lost_callbacks  # noqa: PLC0415

        return 0 if play_lost_callbacks(base, token, endpoint, count, seed) else 1
    return 0 if play(base, token, count, seed).ok else 1


if __name__ == "__main__":
    sys.exit(main())
