"""What a sweep costs: AWS requests and DynamoDB units counted while one campaign is swept
through a simulated Campaign API, priced per campaign (docs/benchmarks.md, "Sweeps").

Three cases, each a campaign of NUMBERS numbers with 2 attempts each, final and without a
report: every callback lost (the sweep writes every attempt and outcome), the same campaign swept
again (it finds them all stored), and every callback arrived (it notes the API's word on each
outcome, the reconciliation against its rows).
Lambda's time is not measured here: it is priced at ASSUMED_MS_PER_AWS_CALL per AWS call and per
Campaign API page, as the cost bench does. The ledger stream's counter writes that follow the
recovered items are the same as for callbacks and are left out.
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3

from bench import results
from bench.aws_stub import answer_in_process
from bench.metering import Meter, table_indexes
from bench.prices import ASSUMED_MS_PER_AWS_CALL, PRICES_AS_OF, US_EAST_1
from exotel_webhooks.ledger.keys import attempt_keys, outcome_keys
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi
from exotel_webhooks.sweep.pacing import Pacer
from exotel_webhooks.sweep.sweeper import PAGE_SIZE, WRITERS, CampaignSweeper
from localaws.emulation import REGION, deploy, emulated_account_environment
from localaws.template import Template

ROOT = Path(__file__).resolve().parent.parent

NUMBERS = 1000
MEMORY_GB = 0.5
DELAY_MS = 5
TIMING_RUNS = 3


def rows(sid: str, numbers: int = NUMBERS) -> list[dict[str, Any]]:
    return [
        {"call_sid": f"{sid}-{n}-{a}", "number": f"+9198{n:08d}", "status": status,
         "date_created": f"2024-01-15T09:{n % 60:02d}:{a}0+05:30"}
        for n in range(numbers)
        for a, status in enumerate(("busy", "completed"))
    ]  # fmt: skip


PACED_NUMBERS = 5_000  # issue 24: a 5,000-number campaign within Exotel's 30 requests a minute


def paced_requests() -> tuple[int, float, int]:
    """The Campaign API requests a sweep of a final PACED_NUMBERS-number campaign makes (the
    campaign, then its pages of PAGE_SIZE until a short one), paced to the template's
    ExotelApiRequestsPerMinute on a virtual clock (the waits are counted, not slept): the
    requests, the seconds of waiting for turns, and the rows read."""
    sid = "camp_paced"
    send = fake_api(sid, rows(sid, PACED_NUMBERS))
    requests = 0
    clock = [0.0]

    def counted(url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        nonlocal requests
        requests += 1
        answer: tuple[int, str, bytes] = send(url, headers)
        return answer

    def wait(seconds: float) -> None:
        clock[0] += seconds

    per_minute = float(Template.load().parameter("ExotelApiRequestsPerMinute")["Default"])
    api = CampaignApi("api.exotel.com", ApiCredentials("k", "t", "a"), NormalisationRules(),
                      send=counted, sleep=wait,
                      pacer=Pacer(per_minute, wait, lambda: clock[0]))  # fmt: skip
    api.campaign(sid)
    read = 0
    while True:
        page = api.call_page(sid, read, PAGE_SIZE, newest_first=True)
        read += page.rows
        if page.rows < PAGE_SIZE:
            return requests, clock[0], read


def fake_api(sid: str, campaign_rows: list[dict[str, Any]]) -> Any:  # noqa: ANN401
    def send(url: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        parts = urlsplit(url)
        if parts.path.endswith("/call-details"):
            query = parse_qs(parts.query)
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            newest_first = query["sort_by"] == ["date_created:desc"]
            ordered = sorted(
                campaign_rows, key=lambda row: row["date_created"], reverse=newest_first
            )
            page = ordered[offset : offset + limit]
            body = {"metadata": {"total": len(campaign_rows)}, "response": page}
        else:
            body = {"response": [{"data": {"id": sid, "status": "Completed"}}]}
        return 200, "application/json", json.dumps(body).encode()

    return send


def store_as_callbacks(table: CampaignTable, sid: str, campaign_rows: list[dict[str, Any]]) -> None:
    """Each row's attempt, and each number's outcome (its last row), as the processors store
    callbacks."""
    for row in campaign_rows:
        base = {
            "campaign_sid": sid,
            "number": row["number"],
            "status": row["status"],
            "version": f"{row['date_created']}#{row['call_sid']}",
            "source": "callback",
        }
        table.write_versioned(
            {
                **attempt_keys(sid, row["number"], row["call_sid"]),
                **base,
                "call_sid": row["call_sid"],
            }
        )
        table.write_versioned(
            {**outcome_keys(sid, row["number"]), **base, "call_sids": [row["call_sid"]]}
        )


def delayed_dynamodb() -> Any:  # noqa: ANN401
    """A DynamoDB client answered in-process (no item found, every write done: aws_stub) after
    DELAY_MS, the round trip from Lambda: botocore's work and the wait are real, DynamoDB's is
    not."""
    session = boto3.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a stub's, not a secret
        region_name=REGION,
    )
    answer_in_process(session, DELAY_MS / 1000)
    return session.client("dynamodb")


def time_sweeps() -> dict[int, float]:
    """Seconds to sweep a final campaign whose callbacks were all lost, by writers."""
    table = CampaignTable(delayed_dynamodb(), "bench", hash_key="bench")
    timings: dict[int, list[float]] = {1: [], WRITERS: []}
    for run in range(TIMING_RUNS):
        for writers, seconds in timings.items():
            sid = f"camp_time_{writers}_{run}"
            campaign_rows = rows(sid)
            api = CampaignApi("api.exotel.com", ApiCredentials("k", "t", "a"),
                              NormalisationRules(), send=fake_api(sid, campaign_rows))  # fmt: skip
            started = time.perf_counter()
            CampaignSweeper(table, api, writers=writers).sweep(sid)
            seconds.append(time.perf_counter() - started)
    return {writers: statistics.median(seconds) for writers, seconds in timings.items()}


def main() -> None:
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    with emulated_account_environment(), mock_aws():
        deployment = deploy(template)
        table_name = deployment.physical_id("CampaignTable")
        meter = Meter(table_name, table_indexes(template))
        session = boto3.Session(region_name=REGION)
        session.events.register("provide-client-params", meter.before_call)
        session.events.register("after-call", meter.after_call)
        table = CampaignTable(session.client("dynamodb"), table_name, hash_key="bench")
        lines = []
        cases = {
            "every callback lost": "camp_bench",
            "swept again": "camp_bench",
            "every callback arrived": "camp_arrived",
        }
        for case, sid in cases.items():
            campaign_rows = rows(sid)
            if case == "every callback arrived":
                store_as_callbacks(table, sid, campaign_rows)
            api = CampaignApi("api.exotel.com", ApiCredentials("k", "t", "a"),
                              NormalisationRules(), send=fake_api(sid, campaign_rows))  # fmt: skip
            meter.current = type(meter.current)()
            # one writer: the counting hooks are not made for threads (the cost is the same)
            report = CampaignSweeper(table, api, writers=1).sweep(sid)
            ledger = meter.current
            pages = 1 + -(-len(campaign_rows) // PAGE_SIZE) + 1  # campaign, pages, the empty end
            calls = sum(ledger.calls.values())
            seconds = (calls + pages) * ASSUMED_MS_PER_AWS_CALL / 1000
            dynamodb = (
                ledger.read_units * US_EAST_1.dynamodb_read_per_million
                + ledger.write_units * US_EAST_1.dynamodb_write_per_million
            ) / 1_000_000
            lambda_usd = seconds * MEMORY_GB * US_EAST_1.lambda_arm_per_gb_second
            requests = ", ".join(f"{n} {op}" for op, n in sorted(ledger.requests.items()))
            lines.append(
                f"| {case} | {report.attempts_recovered} / {report.numbers_recovered} | "
                f"{requests} | {ledger.read_units:.0f} | {ledger.write_units:.0f} | "
                f"{dynamodb:.4f} | {lambda_usd:.4f} | {dynamodb + lambda_usd:.4f} |"
            )
    paced = paced_requests()
    timings = time_sweeps()
    report_text = "\n".join(
        [
            "## Sweeps: cost per campaign",
            "",
            f"{results.measured_on()} A final campaign without a report, {NUMBERS:,} numbers, "
            "2 attempts each "
            f"({2 * NUMBERS:,} call-details rows, {PAGE_SIZE} a page), swept through a simulated "
            f"Campaign API. DynamoDB units counted by its sizing rules; Lambda priced at "
            f"{ASSUMED_MS_PER_AWS_CALL:.0f} ms per AWS call and per API page (512 MB arm64); "
            f"us-east-1 list prices as of {PRICES_AS_OF}. The stream's counter writes for the "
            "recovered items (as for callbacks) are left out.",
            "",
            "| case | attempts / numbers recovered | DynamoDB requests | read units | "
            "write units | DynamoDB USD | Lambda USD | USD per campaign |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
            *lines,
            "",
            f"Time of the first case's sweep with DynamoDB answered in-process after {DELAY_MS} "
            "ms a request (a round trip from Lambda; botocore's work is real, moto's is left "
            "out), a page's rows written one at a time against a few at a time (median of "
            f"{TIMING_RUNS} runs each, alternating, in the same run):",
            "",
            "| rows written at once | seconds per sweep | ratio to one at a time |",
            "| ---: | ---: | ---: |",
            *[
                f"| {writers} | {seconds:.1f} | {seconds / timings[1]:.2f}x |"
                for writers, seconds in timings.items()
            ],
            "",
            f"Within Exotel's limit (issue 24): a final campaign of {PACED_NUMBERS:,} numbers "
            f"({paced[2]:,} call-details rows, {PAGE_SIZE} a page) takes {paced[0]} requests "
            f"to the Campaign API (the client's, driven as a sweep pages), paced to the "
            f"template's ExotelApiRequestsPerMinute: {paced[1]:.0f} s of waiting for turns, "
            "beside the ledger's own work (counted on a virtual clock; the sweep function's 15 "
            f"minutes hold about 450 requests, {450 * PAGE_SIZE:,} rows: a larger campaign "
            "resumes on the next run).",
        ]
    )
    results.append(report_text)


if __name__ == "__main__":
    main()
