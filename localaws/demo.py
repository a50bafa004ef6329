"""`make demo`: an Exotel campaign played against the local stack, then checked.

NUMBERS numbers (default 200) are called with Exotel's retry rules (up to number_of_retries
0-3 more attempts on busy, no-answer or failed); every attempt sends a call status callback,
every number a call schedule callback (2% are "lost", for the report to backfill), the campaign
its statuses, with a report CSV served on loopback. About 10% of deliveries are duplicated and
the order is shuffled, JSON and form bodies mixed. Then the read API must agree with the truth,
and the analytics dataset's connect rates by hour and by attempt too; the campaign's summary
page is saved under .local/. Started here, the stack asks a simulated Call details API about
each call (CallDetails on), and the campaign's cost must match the simulation's.
Uses the stack `make local` runs (its state file), or BASE_URL, else starts one on PORT.
SWEEP=1 plays a campaign whose callbacks were partly lost instead (localaws/demo_sweep.py);
SILENT=1 one whose callbacks stop, found silent and swept (localaws/demo_silent.py).
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from localaws.emulation import DEFAULT_WEBHOOK_TOKEN, LOCAL_STATE, REGION, STACK_NAME
from localaws.exotel_simulator import (
    RETRIED,
    Campaign,
    print_checks,
    send_like_exotel,
    serve_campaign_api,
    serve_report,
    simulate,
    wait_for,
)
from localaws.net import free_port


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


# The simulated Call details API's calls and Campaign API's campaigns (serve_campaign_api),
# filled as campaigns are played
CALLS: dict[str, dict[str, Any]] = {}
CAMPAIGNS: dict[str, list[dict[str, Any]]] = {}


def play(
    base: str,
    token: str,
    count: int,
    seed: int,
    *,
    endpoint: str | None = None,
    call_details: bool = False,
) -> Played:
    """`call_details`: the stack asks the simulated Call details API (CALLS) about each call."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not security
    campaign = simulate(count, f"demo-{seed}-{int(time.time())}", rng)
    CALLS.update(campaign.details)
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
    if call_details:  # what Exotel's Call details API says each call cost
        expected["cost"] = campaign.cost()
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
    if cost := summary.get("cost"):
        print(
            f"\ncost (Exotel's call details): {cost['currency']} {cost['total']} for "
            f"{cost['attempts_with_details']} attempts ({cost['average_per_attempt']} each), "
            f"{cost['talk_seconds']} s of talk ({cost['average_talk_seconds']} s a conversation), "
            f"{cost['recorded_attempts']} recorded"
        )
    if endpoint:
        ok = print_connect_rates(campaign, endpoint) and ok
        print_summary_page(endpoint, sid)
    return Played(
        len(codes), codes.count(200), sent_seconds, callbacks_seconds, drained_seconds, ok
    )


def _emulated(service: str, endpoint: str) -> Any:  # noqa: ANN401 - each service's client
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator takes any key
    )


def print_connect_rates(campaign: Campaign, endpoint: str) -> bool:
    """The campaign's connect rate by hour and by attempt, as the analytics dataset's queries
    answer them (DuckDB over the stack's dataset, as make analytics LOCAL=1), against the
    simulation's truth."""
    # imported here: they load the package, which waits for the stack's settings
    from localaws.analytics import local_dataset, queries  # noqa: PLC0415

    stack = _emulated("cloudformation", endpoint).describe_stacks(StackName=STACK_NAME)
    outputs = stack["Stacks"][0]["Outputs"]
    bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ReportBucketName")
    s3 = _emulated("s3", endpoint)
    ok = True
    with local_dataset(s3, bucket) as dataset:
        for name, key, truth in (
            ("connect_rate_by_hour", "hour", campaign.by_hour),
            ("connect_rate_by_attempt", "attempt_number", campaign.by_attempt),
        ):
            query = queries()[name]
            table = dataset.run(query, query.arguments(campaign.sid, 0))
            found = [(r[key], r["attempts"], r["connected"]) for r in table.records()]
            expected = [(k, c["attempts"], c["connected"]) for k, c in sorted(truth.items())]
            verdict = "ok" if found == expected else "MISMATCH"
            ok = ok and found == expected
            print(f"\n{name.replace('_', ' ')} (make analytics), against the truth: {verdict}")
            print(table.render())
    return ok


def print_summary_page(endpoint: str, sid: str) -> None:
    """The campaign's summary page, made as `make summary LOCAL=1` makes it, saved here."""
    # imported here: they load the package, which waits for the stack's settings
    from exotel_webhooks.ledger.table import CampaignTable  # noqa: PLC0415
    from exotel_webhooks.settings import NormalisationRules  # noqa: PLC0415
    from exotel_webhooks.views.campaigns import CampaignViews  # noqa: PLC0415
    from exotel_webhooks.views.summary import summary_html  # noqa: PLC0415

    stack = _emulated("cloudformation", endpoint).describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    table = CampaignTable(
        _emulated("dynamodb", endpoint), outputs["CampaignTableName"], hash_key=stack["StackId"]
    )
    # the local stack runs with the template's defaults (LocalTimezone, DefaultPhoneRegion)
    figures = CampaignViews(table, NormalisationRules()).summary_figures(sid)
    path = Path(".local") / f"summary-{sid}.html"
    path.parent.mkdir(exist_ok=True)
    path.write_text(summary_html(figures))
    print(f"\nsummary page: {path.resolve()}")


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
    # Exotel's Call details API, simulated: the stack asks it about each call (CallDetails on)
    api, host = serve_campaign_api(CAMPAIGNS, CALLS)
    call_details = "EXOTEL_API_URL" not in os.environ
    if call_details:
        os.environ["EXOTEL_API_URL"] = f"http://{host}"
    if os.environ.get("SILENT"):  # silence found within minutes, not half an hour
        os.environ.setdefault("SILENT_CAMPAIGN_MINUTES", "1")
        os.environ.setdefault("SILENCE_CHECK_EVERY_MINUTES", "1")
    stack, _, stop = start(port, (token,), quiet=True, log_level="WARNING")  # the table, not logs
    try:
        print(f"local stack ready http://127.0.0.1:{port}", flush=True)
        return _play(
            f"http://127.0.0.1:{port}",
            token,
            stack.endpoint,
            count,
            seed,
            call_details=call_details,
            events=stack.events,
        )
    finally:
        stop()
        api.shutdown()


def _play(
    base: str,
    token: str,
    endpoint: str,
    count: int,
    seed: int,
    *,
    call_details: bool = False,
    events: list[dict[str, Any]] | None = None,
) -> int:
    if os.environ.get("SWEEP"):  # lost callbacks, no final status, then a sweep
        if not endpoint:
            print("make demo SWEEP=1 needs the stack's emulated AWS (its state file)")
            return 2
        # imported here: it loads the package, which must wait for the stack to have set the
        # functions' settings (tests/stack/test_tooling.py)
        from localaws.demo_sweep import play_lost_callbacks  # noqa: PLC0415

        return 0 if play_lost_callbacks(base, token, endpoint, count, seed) else 1
    if os.environ.get("SILENT"):  # callbacks that stop: the campaign goes silent, is swept
        from localaws.demo_silent import play_silent_campaign  # noqa: PLC0415

        # the simulated Campaign API is this process's only when it started the stack
        campaigns = CAMPAIGNS if call_details else None

        def announced(sid: str) -> str | None:  # the CampaignSilent events of the stack here
            return next(
                (e["detail"]["last_callback_at"] for e in events or []
                 if e["detail-type"] == "CampaignSilent" and e["detail"]["campaign_sid"] == sid),
                None,
            )  # fmt: skip

        silent = play_silent_campaign(
            base, token, count, seed, campaigns, api_calls=CALLS,
            announced=announced if events is not None else None,
        )  # fmt: skip
        return 0 if silent else 1
    return (
        0
        if play(base, token, count, seed, endpoint=endpoint or None, call_details=call_details).ok
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
