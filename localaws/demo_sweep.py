"""`make demo SWEEP=1`: a campaign whose callbacks Exotel partly lost, completed by a sweep.

The simulator plays the campaign as `make demo` does, but drops a share of the call status and
call schedule callbacks for good (`LOST_SHARE`, default 0.2) and never sends the final status
(so no report either). It also serves Exotel's Campaign API on loopback: the campaign, Completed,
and one call-details row per attempt. Once the callbacks that did arrive are stored, the campaign
is swept (as `make sweep` does) and the read API must then hold the whole truth; the table says
what came from the callbacks and what from the API.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import Any

import boto3

from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.campaign_api import CampaignApi
from exotel_webhooks.sweep.sweeper import CampaignSweeper
from localaws.emulation import REGION, STACK_NAME, attach
from localaws.exotel_simulator import (
    CREDENTIALS,
    get,
    print_checks,
    send_like_exotel,
    serve_campaign_api,
    simulate,
    wait_for,
)
from localaws.template import Template


def play_lost_callbacks(base: str, token: str, endpoint: str, count: int, seed: int) -> bool:
    rng = random.Random(seed)  # noqa: S311 - a simulation, not security
    lost_share = float(os.environ.get("LOST_SHARE", "0.2"))
    campaign = simulate(count, f"swept-{seed}-{int(time.time())}", rng)
    sid = campaign.sid
    attempts = [fields for kind, fields in campaign.deliveries if kind == "call-status"]
    outcomes = {f["to"]: f for kind, f in campaign.deliveries if kind == "call-schedule"}
    rows = [
        {"call_sid": a["call_sid"], "number": a["number"], "status": a["status"],
         "date_created": a["date_created"], "end_time": a["date_updated"]}
        for a in attempts
    ]  # fmt: skip
    sent = [d for d in campaign.deliveries if rng.random() >= lost_share]
    sent_attempts = {f["call_sid"] for kind, f in sent if kind == "call-status"}
    sent_numbers = {f["to"] for kind, f in sent if kind == "call-schedule"}

    # The truth: every attempt; each number's outcome is its call schedule callback's where
    # it arrived, else (from the API) its latest attempt's status
    last_attempt: dict[str, str] = {}
    for fields in attempts:  # in call order
        last_attempt[fields["number"]] = fields["status"]
    numbers = Counter(
        outcomes[number]["status"] if number in sent_numbers else status
        for number, status in last_attempt.items()
    )
    # ... and with no report, the API's rows are what the callbacks are reconciled against
    matched = sum(outcomes[number]["status"] == last_attempt[number] for number in sent_numbers)
    expected: dict[str, dict[str, Any]] = {
        "attempts": {"total": len(attempts),
                     "by_status": dict(sorted(Counter(a["status"] for a in attempts).items()))},
        "numbers": {"total": count, "by_status": dict(sorted(numbers.items()))},
        "sweep": {"attempts_recovered": len(attempts) - len(sent_attempts),
                  "numbers_recovered": count - len(sent_numbers)},
        "reconciliation": {"source": "api", "report_rows": len(attempts), "matched": matched,
                           "backfilled": count - len(sent_numbers),
                           "mismatched": len(sent_numbers) - matched, "unparseable": 0},
    }  # fmt: skip

    started = time.perf_counter()
    first = {"campaign_sid": sid, "status": "in-progress", "date_updated": "2024-01-15 09:59:00"}
    codes = [send_like_exotel(base, token, "campaign-status", first, as_form=False)]
    codes += [
        send_like_exotel(base, token, kind, fields, rng.random() < 0.5) for kind, fields in sent
    ]
    print(
        f"sent {len(codes)} webhooks in {time.perf_counter() - started:.1f} s; "
        f"{len(attempts) - len(sent_attempts)} call status and {count - len(sent_numbers)} call "
        "schedule callbacks lost for good, no final status"
    )
    arrived = {"attempts": {"total": len(sent_attempts)}}
    wait_for(base, f"/campaigns/{sid}", arrived, "the callbacks that arrived")

    httpd, host = serve_campaign_api({sid: rows})
    try:
        cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint)
        stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        table = CampaignTable(
            boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint),
            attach(Template.load(), endpoint).physical_id("CampaignTable"),
            hash_key=stack["StackId"],  # the numbers' hashes, as the stack's functions key them
        )
        api = CampaignApi(host, CREDENTIALS, NormalisationRules(), allow_loopback=True)
        report = CampaignSweeper(table, api).sweep(sid)
    finally:
        httpd.shutdown()
    print(report.summary())
    summary = wait_for(base, f"/campaigns/{sid}", expected, "the sweep's counts")
    _, summary = get(base, f"/campaigns/{sid}")
    print(f"\ncampaign {sid}: {count} numbers, {len(attempts)} attempts")
    ok = print_checks(
        expected,
        summary,
        [
            ("status", "Completed", summary.get("status")),
            ("webhooks answered 200", len(codes), codes.count(200)),
        ],
    )
    recovered = summary.get("sweep") or {}
    print(
        f"\nfrom callbacks: {len(sent_attempts)} attempts, {len(sent_numbers)} numbers; "
        f"from Exotel's Campaign API: {recovered.get('attempts_recovered')} attempts, "
        f"{recovered.get('numbers_recovered')} numbers, and the final status"
    )
    return ok
