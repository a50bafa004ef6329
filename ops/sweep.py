"""`make sweep [CAMPAIGN=<sid>]`: sweep one campaign, or every campaign that needs it
(`sweep/due.py`; quiet for SWEEP_QUIET_MINUTES, default 60), through Exotel's Campaign API now,
from this machine, and print what each recovered (docs/architecture.md, "Sweeps").

The API's credentials come from a Secrets Manager secret (`EXOTEL_API_SECRET_ARN`:
`{"api_key", "api_token", "account_sid"}`) or, for the local stack, from `EXOTEL_API_KEY`,
`EXOTEL_API_TOKEN` and `EXOTEL_ACCOUNT_SID`; the host from `EXOTEL_API_HOST` (one of
Exotel's clusters the template allows; default the stack's `ExotelApiHost`), or
`EXOTEL_API_URL` (`http://127.0.0.1:<port>`, the local stack's simulated API only): the
account's key and token go to Exotel and nowhere else. Numbers and zone-less times are read
with the stack's own settings, and a sweep stops within `SWEEP_TIME_LIMIT_SECONDS` (900, as
the Lambda's 15 minutes), saving where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi
from exotel_webhooks.sweep.due import campaigns_to_sweep
from exotel_webhooks.sweep.pacing import SharedPacer
from exotel_webhooks.sweep.sweeper import CampaignSweeper, SweepReport
from localaws.template import Template
from ops.target import Target

SIMULATED_API_REQUESTS_PER_MINUTE = 60_000.0

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
DEFAULT_TIME_LIMIT_SECONDS = 900


class SweepNotConfigured(Exception):
    """No credentials or host for the Campaign API: one line says which is missing."""


@dataclass(frozen=True)
class ApiAccess:
    host: str
    credentials: ApiCredentials
    allow_loopback: bool = False


def api_access(target: Target, environ: Mapping[str, str] = os.environ) -> ApiAccess:
    """Where the Campaign API is and how to sign in, from the environment (see above)."""
    host, allow_loopback = (
        environ.get("EXOTEL_API_HOST") or target.parameter("ExotelApiHost"),
        False,
    )
    clusters = Template.load().parameter("ExotelApiHost")["AllowedValues"]
    if url := environ.get("EXOTEL_API_URL"):
        parts = urlsplit(url)
        if not target.local_base_url or (parts.hostname or "") not in {
            name.strip("[]") for name in LOOPBACK_HOSTS
        }:
            raise SweepNotConfigured(
                "EXOTEL_API_URL names the local stack's simulated Campaign API (loopback) only: "
                f"use EXOTEL_API_HOST ({' or '.join(clusters)}) to reach Exotel"
            )
        host, allow_loopback = parts.netloc, True
    elif host not in clusters:
        raise SweepNotConfigured(
            f"EXOTEL_API_HOST {host!r} is not one of Exotel's clusters ({', '.join(clusters)}): "
            "the account's key and token go to Exotel only"
        )
    if arn := environ.get("EXOTEL_API_SECRET_ARN"):
        secret = target.client("secretsmanager").get_secret_value(SecretId=arn)
        return ApiAccess(
            host, ApiCredentials.from_secret(json.loads(secret["SecretString"])), allow_loopback
        )
    names = ("EXOTEL_API_KEY", "EXOTEL_API_TOKEN", "EXOTEL_ACCOUNT_SID")
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise SweepNotConfigured(
            "the Campaign API is not configured: set EXOTEL_API_SECRET_ARN, or "
            + ", ".join(missing)
        )
    key, token, account = (environ[name] for name in names)
    return ApiAccess(host, ApiCredentials(key, token, account), allow_loopback)


def sweep_campaign(
    target: Target, campaign_sid: str, environ: Mapping[str, str] = os.environ
) -> SweepReport:
    return _sweeper(target, environ).sweep(campaign_sid)


def sweep_due(
    target: Target, environ: Mapping[str, str] = os.environ, now: datetime | None = None
) -> list[SweepReport]:
    """Sweep every campaign that needs it, oldest first, while the time limit lasts."""
    sweeper = _sweeper(target, environ)
    quiet = timedelta(minutes=int(environ.get("SWEEP_QUIET_MINUTES") or 60))
    due = campaigns_to_sweep(sweeper.table, now or datetime.now(UTC), quiet)
    reports = []
    for sid in due:
        if sweeper.seconds_left() < sweeper.reserve_seconds:
            break  # the rest are due again at the next sweep
        reports.append(sweeper.sweep(sid))
    return reports


def exotel_api(target: Target, access: ApiAccess, table: CampaignTable) -> CampaignApi:
    """The account's APIs, read with the stack's own settings and taking turns with the stack's
    functions at the account's limit (docs/operations.md); the local stack's simulated API
    has no limit."""
    per_minute = (
        SIMULATED_API_REQUESTS_PER_MINUTE
        if access.allow_loopback
        else float(target.parameter("ExotelApiRequestsPerMinute") or 30)
    )
    return CampaignApi(
        access.host,
        access.credentials,
        target.rules,  # as the stack's functions read numbers and times
        allow_loopback=access.allow_loopback,
        pacer=SharedPacer(table, access.credentials.account_sid, per_minute),
    )


def _sweeper(target: Target, environ: Mapping[str, str]) -> CampaignSweeper:
    access = api_access(target, environ)
    table = target.campaign_table()
    api = exotel_api(target, access, table)
    days = int(target.parameter("DataRetentionDays") or 0)  # as the stack's functions keep
    limit = float(environ.get("SWEEP_TIME_LIMIT_SECONDS") or DEFAULT_TIME_LIMIT_SECONDS)
    return CampaignSweeper(
        table,
        api,
        retention=timedelta(days=days) if days else None,
        seconds_left=_deadline(limit),
    )


def _deadline(seconds: float) -> Callable[[], float]:
    if seconds <= 0:
        return lambda: math.inf
    ends = time.monotonic() + seconds
    return lambda: ends - time.monotonic()
