"""`make demo SILENT=1`: a running campaign whose callbacks stop (docs/architecture.md, "Silent
campaigns").

The simulator plays the first half of a campaign's callbacks, in order, and then nothing: no
more calls reported, no final status. The stack started here checks for silence every minute
and calls a campaign silent after a minute without a callback (SILENT_CAMPAIGN_MINUTES and
SILENCE_CHECK_EVERY_MINUTES: 1 instead of the template's 30 and 5), so within about three
minutes the read API shows `silent_since`, a CampaignSilent event goes out (the alarm's metric
with it) and, because the simulated Campaign API knows every call of the campaign, the sweep it
starts recovers the attempts whose callbacks never came.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from localaws.exotel_simulator import get, send_like_exotel, simulate

SILENCE_WAIT_SECONDS = 300  # the stack's silence check, at its fastest, and a sweep


def play_silent_campaign(
    base: str,
    token: str,
    count: int,
    seed: int,
    api_campaigns: dict[str, list[dict[str, Any]]] | None,
    *,
    api_calls: dict[str, dict[str, Any]] | None = None,
    announced: Callable[[str], str | None] | None = None,
) -> bool:
    """`api_campaigns`: the simulated Campaign API's campaigns, to which this one is added (the
    stack then sweeps it when it goes silent), or None when the stack has no API to ask;
    `api_calls`: the simulated Call details API's calls, to which its calls are added;
    `announced`: since when a campaign was announced silent (the stack's CampaignSilent events,
    when the stack runs here: the sweep it starts may finish the campaign before the read API
    is asked), else the read API's `silent_since` is watched."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not security
    campaign = simulate(count, f"silent-{seed}-{int(time.time())}", rng)
    sid = campaign.sid
    attempts = [fields for kind, fields in campaign.deliveries if kind == "call-status"]
    sent = campaign.deliveries[: len(campaign.deliveries) // 2]  # then Exotel goes quiet
    sent_attempts = sum(kind == "call-status" for kind, _ in sent)
    if api_calls is not None:
        api_calls.update(campaign.details)
    if api_campaigns is not None:  # Exotel's Campaign API knows every call it made
        api_campaigns[sid] = [
            {"call_sid": a["call_sid"], "number": a["number"], "status": a["status"],
             "date_created": a["date_created"], "end_time": a["date_updated"]}
            for a in attempts
        ]  # fmt: skip
    codes = [
        send_like_exotel(base, token, kind, fields, rng.random() < 0.5) for kind, fields in sent
    ]
    print(
        f"campaign {sid}: {len(codes)} callbacks sent ({sent_attempts} of {len(attempts)} "
        "attempts), then none: Exotel stopped calling back"
    )
    started = time.monotonic()
    since: str | None = None
    while time.monotonic() - started < SILENCE_WAIT_SECONDS and not since:
        time.sleep(2)
        since = announced(sid) if announced else get(base, f"/campaigns/{sid}")[1]["silent_since"]
    if not since:
        print(f"NOT SILENT after {SILENCE_WAIT_SECONDS} s: {get(base, f'/campaigns/{sid}')[1]}")
        return False
    print(
        f"silent since {since} (found after {time.monotonic() - started:.0f} s): a "
        "CampaignSilent event went out and CampaignSilentAlarm's metric counted it"
    )
    summary: dict[str, Any] = {}
    if api_campaigns is None:
        print("no Campaign API to sweep it against (EXOTEL_API_URL): the demo ends here")
        return all(code == 200 for code in codes)
    while time.monotonic() - started < 2 * SILENCE_WAIT_SECONDS:
        _, summary = get(base, f"/campaigns/{sid}")
        if summary["attempts"]["total"] == len(attempts):
            break
        time.sleep(2)
    recovered = (summary.get("sweep") or {}).get("attempts_recovered", 0)
    ok = summary["attempts"]["total"] == len(attempts) and all(code == 200 for code in codes)
    print(
        f"{'the' if ok else 'NOT ALL: the'} sweep the silence started recovered {recovered} "
        f"attempts: {summary['attempts']['total']} of {len(attempts)} in the ledger, status "
        f"{summary['status']}"
    )
    return ok
