"""`make cost`: a team's monthly bill before it deploys, line by line, from the same counts,
model and prices as `make bench` (bench/costs.py, bench/cost_model.py, bench/prices.py).

Arguments come as environment variables (the Makefile's): NUMBERS a month, ATTEMPTS per number,
CAMPAIGNS a month, and optionally RETENTION_DAYS (DataRetentionDays; 0 keeps for ever), REGION,
INGRESS and TRACING. A bad one is a one-line error and exit status 2.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from bench.cost_model import (
    ONE_CAMPAIGN,
    Bill,
    Counted,
    Deployed,
    fixed_monthly,
    per_report_row,
    per_webhook,
    positive_number,
    summary_read_units,
    with_settings,
)
from bench.metering import LOG_EVENT_OVERHEAD_BYTES
from bench.prices import PRICES, PRICES_AS_OF, Prices
from localaws.template import Template

KEPT_FOR_EVER_MONTHS = 12  # what DataRetentionDays 0 has stored after a year
REPORT_BYTES_PER_ROW = 150  # a campaign report's row: number, status, times, duration
HOURS_PER_MONTH = 720


@dataclass(frozen=True)
class Campaigns:
    numbers: float  # a month
    attempts: float  # per number
    campaigns: float  # a month
    retention_days: float  # 0: kept for ever

    @property
    def webhooks(self) -> dict[str, float]:
        """A month's webhooks by the case that prices them: every attempt's status callback
        is new, every number's schedule callback, a campaign's progress and its end."""
        return {
            "new attempt": self.numbers * self.attempts,
            "new outcome (+event)": self.numbers,
            "non-final status": 2 * self.campaigns,
        }


def read_arguments(
    environ: dict[str, str], template: Template
) -> tuple[Campaigns, Prices, str | None, str | None]:
    def number(name: str, default: str | None = None) -> float:
        text = environ.get(name, "") or default
        if text is None:
            raise ValueError(f"{name} is required (make cost NUMBERS=... ATTEMPTS=... "
                             "CAMPAIGNS=...)")  # fmt: skip
        return positive_number(name, text)

    retention = environ.get("RETENTION_DAYS", "") or "0"
    campaigns = Campaigns(
        numbers=number("NUMBERS"),
        attempts=number("ATTEMPTS"),
        campaigns=number("CAMPAIGNS"),
        retention_days=0 if retention == "0" else positive_number("RETENTION_DAYS", retention),
    )
    region = environ.get("REGION", "") or "ap-south-1"
    if region not in PRICES:
        raise ValueError(f"REGION must be one of {', '.join(PRICES)}, not {region!r}")
    ingress = offered(environ, "INGRESS", template.parameter("Ingress"))
    tracing = offered(environ, "TRACING", template.parameter("Tracing"))
    return campaigns, PRICES[region], ingress, tracing


def offered(environ: dict[str, str], name: str, parameter: dict[str, Any]) -> str | None:
    """A value the template's parameter allows, or None for its default."""
    value = environ.get(name) or None
    allowed = parameter["AllowedValues"]
    if value and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def monthly(
    campaigns: Campaigns,
    bills: dict[str, Bill],
    deployed: Deployed,
    prices: Prices,
    *,
    report_row: Counted,
    stored_bytes: dict[str, int],
    metric_series: int,
    dataset_row_bytes: float = 0.0,
) -> dict[str, float]:
    """USD a month, line by line."""
    lines: dict[str, float] = defaultdict(float)
    log_bytes = 0.0
    for case, count in campaigns.webhooks.items():
        for name, usd in bills[case].lines.items():
            lines[name] += usd * count / 1e6
        log_bytes += bills[case].log_bytes * count
    units = summary_read_units(stored_bytes["new attempt"], campaigns.attempts)
    rows = per_report_row(report_row, ONE_CAMPAIGN, deployed, prices, summary_units=units)
    for name, usd in rows.lines.items():  # every number is a row of its campaign's report
        lines[name] += usd * campaigns.numbers / 1e6
    log_bytes += rows.log_bytes * campaigns.numbers
    # metrics are billed for each hour with data: each campaign's hours, one at least
    per_campaign = sum(campaigns.webhooks.values()) / campaigns.campaigns
    hours = math.ceil(per_campaign / ONE_CAMPAIGN.callbacks_per_second / 3600)
    busy_hours = min(HOURS_PER_MONTH, campaigns.campaigns * hours)
    lines.update(fixed_monthly(deployed, prices, metric_series, busy_hours))
    # each campaign's report: stored once in S3 (a PUT), kept ReportRetentionDays
    report_bytes = campaigns.numbers * REPORT_BYTES_PER_ROW
    lines[f"report storage ({deployed.report_retention_days} days)"] = (
        report_bytes * deployed.report_retention_days / 30 / 1024**3 * prices.s3_per_gb_month
        + campaigns.campaigns * prices.s3_put_per_thousand / 1000
    )
    months_kept = (
        campaigns.retention_days / 30 if campaigns.retention_days else KEPT_FOR_EVER_MONTHS
    )
    kept = (
        campaigns.numbers * campaigns.attempts * stored_bytes["new attempt"]
        + campaigns.numbers * stored_bytes["new outcome (+event)"]
    ) * months_kept
    per_gb = prices.dynamodb_storage_per_gb_month + prices.dynamodb_pitr_per_gb_month
    label = (
        f"{campaigns.retention_days:g} days"
        if campaigns.retention_days
        else f"kept for ever: after {KEPT_FOR_EVER_MONTHS} months"
    )
    lines[f"DynamoDB storage and PITR ({label})"] = kept / 1024**3 * per_gb
    # the analytics dataset: a gzipped row per attempt and per outcome, kept as the ledger's
    dataset_rows = campaigns.numbers * (campaigns.attempts + 1)
    lines[f"analytics dataset storage ({label})"] = (
        dataset_rows * dataset_row_bytes * months_kept / 1024**3 * prices.s3_per_gb_month
    )
    # an upper bound: CloudWatch bills the stored bytes compressed
    lines[f"log storage ({deployed.log_retention_days} days)"] = (
        log_bytes * deployed.log_retention_days / 30 / 1024**3 * prices.logs_stored_per_gb_month
    )
    return dict(lines)


def main() -> int:
    template = Template.load()
    try:
        campaigns, prices, ingress, tracing = read_arguments(dict(os.environ), template)
    except ValueError as error:
        print(f"make cost: {error}", file=sys.stderr)
        return 2
    from bench.costs import (  # noqa: PLC0415 - a bad argument answers at once
        REPORT_ROW,
        gzipped_row_bytes,
        measure,
    )

    with contextlib.redirect_stderr(io.StringIO()):  # the emulated stack's warnings
        measurement = measure()
    deployed = with_settings(
        Deployed.of(template, LOG_EVENT_OVERHEAD_BYTES), ingress=ingress, tracing=tracing
    )
    load = replace(ONE_CAMPAIGN, attempts_per_number=campaigns.attempts)
    bills = {
        case: per_webhook(measurement.received, counted, load, deployed, prices)
        for case, counted in measurement.counted.items()
        if case in campaigns.webhooks
    }
    lines = monthly(
        campaigns,
        bills,
        deployed,
        prices,
        report_row=measurement.counted[REPORT_ROW],
        stored_bytes=measurement.stored_bytes,
        metric_series=len(measurement.series),
        dataset_row_bytes=gzipped_row_bytes(measurement.attempt_rows.splitlines()[-1]),
    )
    print(render(campaigns, deployed, prices, lines))
    return 0


def render(
    campaigns: Campaigns, deployed: Deployed, prices: Prices, lines: dict[str, float]
) -> str:
    webhooks = campaigns.webhooks
    total = sum(lines.values())
    width = max(len(name) for name in lines) + 2
    return "\n".join(
        [
            f"A month in {prices.region} at list prices as of {PRICES_AS_OF} (bench/prices.py),"
            f" Ingress {deployed.ingress}, Tracing {deployed.tracing}:",
            f"{campaigns.numbers:,.0f} numbers x {campaigns.attempts:g} attempts in "
            f"{campaigns.campaigns:,.0f} campaigns: {webhooks['new attempt']:,.0f} call-status, "
            f"{webhooks['new outcome (+event)']:,.0f} call-schedule and "
            f"{webhooks['non-final status']:,.0f} campaign-status webhooks, each campaign's "
            f"at {ONE_CAMPAIGN.callbacks_per_second:g} a second.",
            "",
            *(f"  {name:<{width}} USD {usd:9.2f}" for name, usd in lines.items()),
            f"  {'total':<{width}} USD {total:9.2f}",
            "",
            f"USD {total / campaigns.numbers * 1000:.2f} per 1,000 numbers, each number a row of "
            "its campaign's report. Free tiers and data transfer out are not in it "
            "(docs/benchmarks.md).",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
