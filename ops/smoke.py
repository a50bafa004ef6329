"""`make smoke`: prove a deployed stack works, end to end, and leave nothing behind.

One webhook of each type for a synthetic campaign (`smoke_<random>`, a number in the
`+91 00000` range nobody has), read back through the read API with SigV4 as an operator would,
then a wrong token (401) and an unsigned read (403, AWS only: the local read API is unsigned).
Finally the campaign is erased: its attempt and outcome (as `make erase` does), then, once the
table's stream has taken them out of the counters, its summary and counter items.

It publishes the synthetic campaign's `CallScheduleCompleted` (status `completed`) and
`CampaignCompleted` events like any other: rules can leave out campaigns starting `smoke_`.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from ops.erase import erase_number
from ops.target import Target

SMOKE_NUMBER = "+910000012345"  # no subscriber: Indian numbers never start 0 after +91
SETTLE_SECONDS = 90.0


class SmokeFailed(Exception):
    """The stack answered something its contract does not allow."""


@dataclass
class Response:
    status: int
    body: dict[str, Any]


@dataclass
class SmokeReport:
    campaign_sid: str
    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def smoke(target: Target, sleep: Callable[[float], None] = time.sleep) -> SmokeReport:
    report = SmokeReport(f"smoke_{secrets.token_hex(6)}")
    try:
        _check(target, report, sleep)
    finally:
        _clean_up(target, report.campaign_sid, sleep)
    return report


def _check(target: Target, report: SmokeReport, sleep: Callable[[float], None]) -> None:
    sid, token = report.campaign_sid, target.webhook_token()
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    webhooks: dict[str, dict[str, Any]] = {
        "call-status": {
            "campaign_sid": sid,
            "call_sid": f"{sid}_call",
            "number": SMOKE_NUMBER,
            "status": "completed",
            "date_updated": now,
        },
        "call-schedule": {
            "campaign_sid": sid,
            "to": SMOKE_NUMBER,
            "call_sids": [f"{sid}_call"],
            "status": "completed",
            "date_updated": now,
        },
        "campaign-status": {"campaign_sid": sid, "status": "Completed", "date_updated": now},
    }
    for route, body in webhooks.items():
        answer = _post(target, route, body, token)
        if answer.status != 200 or answer.body.get("status") != "accepted":
            raise SmokeFailed(f"{route}: {answer.status} {answer.body}")
        report.passed.append(f"{route} webhook accepted")
    wrong = _post(target, "call-status", webhooks["call-status"], token + "-wrong")
    if wrong.status != 401:
        raise SmokeFailed(f"a wrong token got {wrong.status}, not 401")
    report.passed.append("a wrong token gets 401")

    campaign = _wait_for(
        target,
        f"/campaigns/{sid}",
        lambda body: (
            body.get("status") == "Completed"
            and body.get("attempts", {}).get("total") == 1
            and body.get("numbers", {}).get("total") == 1
        ),
        sleep,
    )
    report.passed.append(f"read back: campaign {campaign['status']}, 1 attempt, 1 number")
    number = _get(target, f"/campaigns/{sid}/numbers/{quote(SMOKE_NUMBER)}", signed=True)
    if number.status != 200 or len(number.body.get("attempts", [])) != 1:
        raise SmokeFailed(f"number view: {number.status} {number.body}")
    report.passed.append("read back: the number's outcome and attempt")
    if target.local_base_url:
        report.skipped.append("an unsigned read gets 403 (the local read API needs no signature)")
    else:
        unsigned = _get(target, f"/campaigns/{sid}", signed=False)
        if unsigned.status != 403:
            raise SmokeFailed(f"an unsigned read got {unsigned.status}, not 403")
        report.passed.append("an unsigned read gets 403")


def _wait_for(
    target: Target,
    path: str,
    done: Callable[[dict[str, Any]], bool],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        answer = _get(target, path, signed=True)
        if answer.status == 200 and done(answer.body):
            return answer.body
        if answer.status not in (200, 404):
            raise SmokeFailed(f"GET {path}: {answer.status} {answer.body}")
        if time.monotonic() > deadline:
            raise SmokeFailed(f"GET {path} still {answer.status} {answer.body}")
        sleep(1.0)


def _clean_up(target: Target, sid: str, sleep: Callable[[float], None]) -> None:
    erase_number(target, SMOKE_NUMBER, campaign_sid=sid)
    table = target.campaign_table()
    deadline = time.monotonic() + SETTLE_SECONDS
    while any(table.campaign_counters(sid).values()) and time.monotonic() < deadline:
        sleep(1.0)  # the stream takes the erased items out of the counters
    table.remove_campaign(sid)
    table.unbury(SMOKE_NUMBER, sid)  # a synthetic campaign: nothing of it is left


def _post(target: Target, route: str, body: dict[str, Any], token: str) -> Response:
    url = f"{target.webhook_base_url()}/webhooks/exotel/{route}?token={quote(token)}"
    request = urllib.request.Request(  # noqa: S310 - the stack's own https (or local) URL
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    return _send(request)


def _get(target: Target, path: str, *, signed: bool) -> Response:
    url = (target.local_base_url or target.outputs["ReadApiBaseUrl"]).rstrip("/") + path
    headers: dict[str, str] = {}
    if signed and not target.local_base_url:
        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise SmokeFailed("no AWS credentials to sign the read API's requests")
        signed_request = AWSRequest(method="GET", url=url)
        SigV4Auth(credentials, "execute-api", target.region).add_auth(signed_request)
        headers = dict(signed_request.headers.items())
    return _send(urllib.request.Request(url, headers=headers))  # noqa: S310


def _send(request: urllib.request.Request) -> Response:
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return Response(answer.status, json.loads(answer.read() or b"{}"))
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {"text": text.decode(errors="replace")[:200]}
        return Response(error.code, body)
