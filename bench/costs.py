"""AWS requests, DynamoDB capacity units and log bytes per callback, for each case the receiver
and the processors meet, and what a million webhooks cost at AWS's list prices (bench/prices.py).

Every request is counted from botocore's own events; DynamoDB capacity follows its published
sizing rules (moto does not report consumed capacity faithfully):
an item's size is its attribute names plus values; a write costs 1 unit per started KB (2 in a
transaction), a strongly consistent read 1 unit per started 4 KB (eventually consistent, half);
each GSI whose projected
attributes change costs a write of the projected item (a key change costs a delete and a put);
a conditional write that fails still costs its write.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from bench import results
from bench.metering import (
    BATCH,
    LOG_EVENT_OVERHEAD_BYTES,
    PROCESSORS,
    Gsi,
    Ledger,
    Meter,
    invoke_logged,
    item_size,
    queued,
    stream_poller,
    table_indexes,
)
from bench.prices import (
    ASSUMED_MS_PER_AWS_CALL,
    CLOUDWATCH_LOGS_PER_GB_INGESTED,
    DYNAMODB_PER_MILLION_READ_UNITS,
    DYNAMODB_PER_MILLION_WRITE_UNITS,
    DYNAMODB_PITR_PER_GB_MONTH,
    DYNAMODB_STORAGE_PER_GB_MONTH,
    EVENTBRIDGE_PER_MILLION_EVENTS,
    HTTP_API_PER_MILLION_REQUESTS,
    LAMBDA_ARM_PER_GB_SECOND,
    LAMBDA_PER_MILLION_REQUESTS,
    PRICES_AS_OF,
    PRICES_REGION,
    SQS_STANDARD_PER_MILLION_REQUESTS,
    XRAY_PER_MILLION_TRACES_RECORDED,
)
from exotel_webhooks.ledger.keys import attempt_keys, from_item, outcome_keys, to_item
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import (
    REGION,
    Deployment,
    deploy,
    emulated_account_environment,
)
from localaws.runtime import function_environment, load_handler
from localaws.sqs_events import sqs_event
from localaws.template import Template

ROOT = Path(__file__).resolve().parent.parent

CALL = {"campaign_sid": "camp_1", "call_sid": "call_1", "number": "+919876543210"}
ATTEMPT = {**CALL, "status": "no-answer", "date_updated": "2024-01-15 09:05:00"}
OUTCOME = {
    "campaign_sid": "camp_1",
    "to": "+919876543210",
    "from": "08047104890",
    "call_sids": ["call_1", "call_2", "call_3"],
    "status": "completed",
    "date_updated": "2024-01-15 09:35:00",
}
FINAL = {
    "campaign_sid": "camp_1",
    "status": "Completed",
    "date_updated": "2024-01-15 18:00:00",
    "report_url": "https://s3.amazonaws.com/r.csv",
}
# Run in this order: each case meets the state the cases before it left.
CASES: list[tuple[str, CallbackType, dict[str, Any]]] = [
    ("new attempt", CallbackType.CALL_STATUS, ATTEMPT),
    ("duplicate attempt", CallbackType.CALL_STATUS, ATTEMPT),
    (
        "status change",
        CallbackType.CALL_STATUS,
        {**ATTEMPT, "status": "completed", "date_updated": "2024-01-15 09:06:00"},
    ),
    (
        "older update",
        CallbackType.CALL_STATUS,
        {**ATTEMPT, "status": "busy", "date_updated": "2024-01-15 09:04:00"},
    ),
    ("new outcome (+event)", CallbackType.CALL_SCHEDULE, OUTCOME),
    ("duplicate outcome", CallbackType.CALL_SCHEDULE, OUTCOME),
    (
        "non-final status",
        CallbackType.CAMPAIGN_STATUS,
        {**FINAL, "status": "InProgress", "report_url": "", "date_updated": "2024-01-15 09:00:00"},
    ),
    ("final status (+report, event)", CallbackType.CAMPAIGN_STATUS, FINAL),
    ("duplicate final status", CallbackType.CAMPAIGN_STATUS, FINAL),
]


def main() -> None:
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    indexes = table_indexes(template)
    with emulated_account_environment(), mock_aws():
        deployment = deploy(template)
        meter = Meter(deployment.physical_id("CampaignTable"), indexes)
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params", meter.before_call)
        boto3.DEFAULT_SESSION.events.register("after-call", meter.after_call)
        handlers: dict[CallbackType, Callable[..., Any]] = {}
        for kind, name in PROCESSORS.items():
            os.environ.update(function_environment(deployment, name))
            handlers[kind] = load_handler(template, deployment, name, name)
            # its cold start line, on another campaign than the cases'
            fields = next(f for _, k, f in CASES if k == kind) | {"campaign_sid": "camp_warm"}
            record = {"MessageId": "w", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            invoke_logged(handlers[kind], sqs_event("arn:q", [record]), "warm-up")
        os.environ.update(function_environment(deployment, "LedgerStreamFunction"))
        stream_handler = load_handler(
            template, deployment, "LedgerStreamFunction", "LedgerStreamFunction"
        )
        stream = stream_poller(deployment, stream_handler)
        stream.drain()  # the warm-up callbacks' records
        os.environ.update(function_environment(deployment, "ReceiverFunction"))
        receiver = load_handler(template, deployment, "ReceiverFunction", "ReceiverFunction")
        webhook = json.loads((ROOT / "events/receiver/call-status.json").read_text())
        invoke_logged(receiver, webhook, "receiver")  # the cold start: the secret is fetched
        meter.current = Ledger()
        answer, log_bytes = invoke_logged(receiver, webhook, "receiver")
        assert answer["statusCode"] == 200, answer
        received = meter.current
        received.log_bytes = log_bytes
        rows, measured, derivations = [], {}, {}
        for case, kind, fields in CASES:
            meter.current = Ledger()
            record = {"MessageId": "m", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            result, log_bytes = invoke_logged(handlers[kind], sqs_event("arn:q", [record]), case)
            assert result == {"batchItemFailures": []}, result
            ledger = meter.current
            ledger.log_bytes = log_bytes
            meter.current = derived = Ledger()
            derived.log_bytes = stream.drain()
            measured[(kind, case)] = ledger
            derivations[(kind, case)] = derived
            requests = ", ".join(f"{n} {op}" for op, n in sorted(ledger.requests.items()))
            derived_calls = ", ".join(f"{n} {op}" for op, n in sorted(derived.calls.items()))
            rows.append(
                f"| {kind} | {case} | {requests} | {ledger.read_units:g} | "
                f"{ledger.table_write_units:g} | {ledger.index_write_units:g} | "
                f"{ledger.log_bytes} | {derived_calls or '-'} | {derived.write_units:g} | "
                f"{derived.log_bytes} |"
            )
        storage = storage_report(
            {case: stored_bytes(deployment, indexes, keys) for case, keys in STORED_BY.items()}
        )
    table_text = "\n".join(
        [
            "| callback | case | processor: DynamoDB requests | read units | table write units "
            "| GSI write units | log bytes | stream window: AWS requests | write units "
            "| log bytes |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
            *rows,
        ]
    )
    report = (
        "## AWS requests, DynamoDB capacity and log bytes per callback\n\n"
        f"{results.measured_on()} "
        f"The receiver: {', '.join(f'{n} {op}' for op, n in sorted(received.calls.items()))} "
        f"and {received.log_bytes} bytes of log and EMF per accepted webhook. A processor's "
        f"EMF document is written once per invocation and counted at 1/{BATCH}. Each case is one "
        f"record through its processor, then the stream's window for that record alone (the "
        f"ledger stream's invocations, counter write and events).\n\n{table_text}\n\n"
        + cost_report(received, measured, derivations)
        + "\n\n"
        + storage
    )
    results.append(report)


# What the template turns on besides the handlers' own lines, per invocation or request.
# Lambda's START, END and REPORT lines when SystemLogLevel lets them through (about 340 bytes
# an invocation as text, REPORT most of it); X-Ray's default sampling rule (1 a second, then 5%)
# taken as its 5% at volume.
PLATFORM_LINE_BYTES = 340
XRAY_SAMPLED_SHARE = 0.05
# What API Gateway's access log format fills in for a typical accepted webhook.
ACCESS_LOG_VALUES = {
    "$context.requestId": "Xk2p0hQ3BcwEJbQ=",
    "$context.identity.sourceIp": "203.0.113.10",
    "$context.routeKey": "POST /webhooks/exotel/call-status",
    "$context.status": "200",
    "$context.responseLatency": "12",
    "$context.integrationStatus": "200",
    "$context.integrationErrorMessage": "-",
    "$context.error.message": "-",
    "$context.requestTimeEpoch": "1705289747000",
    "$context.identity.userAgent": "Exotel-Webhook/1.0",
}


@dataclass(frozen=True)
class TemplateLines:
    """The billable lines the deployed template adds to every webhook, read from it."""

    tracing: str  # the Tracing the stack deploys with by default
    system_log_level: str
    access_log_bytes: int  # one request's line, with CloudWatch's per-event overhead

    @classmethod
    def of(cls, template: Template) -> TemplateLines:
        function = template.sam["Globals"]["Function"]
        tracing = function["Tracing"]
        if tracing == {"Ref": "Tracing"}:
            tracing = template.parameter("Tracing")["Default"]
        access_format = template.resources["WebhookApi"]["Properties"]["AccessLogSettings"]
        line = access_format["Format"]
        for variable, value in sorted(ACCESS_LOG_VALUES.items(), key=lambda v: -len(v[0])):
            line = line.replace(variable, value)
        if "$context" in line:
            raise ValueError(f"an access log variable without a typical value: {line}")
        return cls(
            tracing=str(tracing),
            system_log_level=str(function["LoggingConfig"]["SystemLogLevel"]),
            access_log_bytes=len(line) + LOG_EVENT_OVERHEAD_BYTES,
        )

    def per_invocation(self, logs_per_byte: float) -> dict[str, float]:
        """USD per million invocations: platform lines and X-Ray, as the template sets them."""
        platform = 0 if self.system_log_level in {"WARN", "ERROR", "FATAL"} else PLATFORM_LINE_BYTES
        traces = XRAY_SAMPLED_SHARE if self.tracing == "Active" else 0.0
        return {
            "platform lines": platform * 1_000_000 * logs_per_byte,
            "X-Ray": traces * XRAY_PER_MILLION_TRACES_RECORDED,
        }


# The item each case creates, by its keys (CALL, OUTCOME below): what a month of keeping it costs.
STORED_BY: dict[str, dict[str, str]] = {
    "new attempt": attempt_keys(CALL["campaign_sid"], CALL["number"], CALL["call_sid"]),
    "new outcome (+event)": outcome_keys(str(OUTCOME["campaign_sid"]), str(OUTCOME["to"])),
}
DYNAMODB_ITEM_OVERHEAD_BYTES = 100  # per item and per index entry, in DynamoDB's storage


def stored_bytes(deployment: Deployment, indexes: list[Gsi], keys: dict[str, str]) -> int:
    """An item's bytes in DynamoDB's storage: the item, each index entry, 100 bytes each."""
    client = boto3.client("dynamodb", region_name=REGION)
    found = client.get_item(
        TableName=deployment.physical_id("CampaignTable"), Key=to_item(keys)
    ).get("Item")
    item = from_item(found) if found else None
    entries = [entry for index in indexes if (entry := index.entry(item)) is not None]
    return sum(item_size(part) + DYNAMODB_ITEM_OVERHEAD_BYTES for part in [item, *entries] if part)


def storage_report(sizes: dict[str, int]) -> str:
    per_gb = DYNAMODB_STORAGE_PER_GB_MONTH + DYNAMODB_PITR_PER_GB_MONTH
    rows = [
        f"| {case} | {size:,} | {size * 1_000_000 / 1024**3 * per_gb:.2f} |"
        for case, size in sizes.items()
    ]
    return "\n".join(
        [
            "### Storage: each month a million kept items cost",
            "",
            f"DynamoDB standard storage (USD {DYNAMODB_STORAGE_PER_GB_MONTH:.2f} per GB-month) "
            f"and point-in-time recovery (USD {DYNAMODB_PITR_PER_GB_MONTH:.2f}), on each stored "
            "item and "
            f"index entry with DynamoDB's {DYNAMODB_ITEM_OVERHEAD_BYTES} bytes each; "
            "`DataRetentionDays` says how many months (0: for ever).",
            "",
            "| item | bytes stored | USD per million, per month kept |",
            "| --- | ---: | ---: |",
            *rows,
        ]
    )


def lambda_cost(calls_per_invocation: float, invocations: float, memory_gb: float) -> float:
    """Per million webhooks: requests plus billed time (ASSUMED_MS_PER_AWS_CALL per call)."""
    seconds = max(1.0, calls_per_invocation * ASSUMED_MS_PER_AWS_CALL) / 1000
    return invocations * (
        LAMBDA_PER_MILLION_REQUESTS + 1_000_000 * seconds * memory_gb * LAMBDA_ARM_PER_GB_SECOND
    )


def cost_report(
    received: Ledger,
    measured: dict[tuple[CallbackType, str], Ledger],
    derivations: dict[tuple[CallbackType, str], Ledger],
) -> str:
    """What one million webhooks of each kind cost, part by part, and the direct integration."""
    memory_gb = 0.5
    logs_per_byte = CLOUDWATCH_LOGS_PER_GB_INGESTED / 1024**3
    lines = TemplateLines.of(Template.load())
    per_invocation = lines.per_invocation(logs_per_byte)
    # invocations per webhook: the receiver's one, a processor's 1/BATCH, a window's 2/records
    invocations = 1 + 1 / BATCH + 2 / STREAM_RECORDS
    # The event source mapping receives and deletes in batches of 10.
    queue_requests = received.calls["sqs.SendMessage"] + 2 / BATCH
    ingest = {
        "API Gateway": HTTP_API_PER_MILLION_REQUESTS,
        "receiver Lambda": lambda_cost(sum(received.calls.values()), 1, memory_gb),
        "SQS": queue_requests * SQS_STANDARD_PER_MILLION_REQUESTS,
        "receiver logs": received.log_bytes * 1_000_000 * logs_per_byte,
        "API access log": lines.access_log_bytes * 1_000_000 * logs_per_byte,
        "platform lines, X-Ray": invocations * sum(per_invocation.values()),
    }
    direct = HTTP_API_PER_MILLION_REQUESTS + queue_requests * SQS_STANDARD_PER_MILLION_REQUESTS
    rows, totals = [], {}
    for kind, case in COSTED:
        ledger, derived = measured[(kind, case)], derivations[(kind, case)]
        aws_calls = sum(ledger.calls.values())
        events = derived.event_entries
        sends = ledger.calls["sqs.SendMessage"]
        # A window's invocations, counter write and log lines serve every record of a campaign
        # in it: STREAM_RECORDS of them (events are billed per entry, not shared).
        window_calls = sum(n for call, n in derived.calls.items() if call != "events.PutEvents")
        processing = {
            "processor Lambda": lambda_cost(aws_calls * BATCH, 1 / BATCH, memory_gb),
            "DynamoDB": ledger.read_units * DYNAMODB_PER_MILLION_READ_UNITS
            + ledger.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS,
            "EventBridge, report queue": events * EVENTBRIDGE_PER_MILLION_EVENTS
            + sends * SQS_STANDARD_PER_MILLION_REQUESTS,
            "processor logs": ledger.log_bytes * 1_000_000 * logs_per_byte,
            "ledger stream": (
                lambda_cost(window_calls, 2, memory_gb)  # two invocations a window
                + derived.write_units * DYNAMODB_PER_MILLION_WRITE_UNITS
                + derived.log_bytes * 1_000_000 * logs_per_byte
            )
            / STREAM_RECORDS,
        }
        total = totals[(kind, case)] = sum(ingest.values()) + sum(processing.values())
        parts = " + ".join(
            f"{name} {value:.2f}" for name, value in {**ingest, **processing}.items()
        )
        rows.append(f"| {kind} | {case} | {total:.2f} | {parts} |")
    table = "\n".join(
        ["| callback | case | USD per million | parts (USD) |", "| --- | --- | ---: | --- |", *rows]
    )
    ingest_total = sum(ingest.values())
    target_rows = [
        f"| {kind} | {case} | {before:.2f} | <= {target:.2f} | {round(totals[(kind, case)], 2):.2f}"
        f" | {'yes' if round(totals[(kind, case)], 2) <= target else 'no'} |"
        for (kind, case), (target, before) in TARGETS.items()
    ]
    targets = "\n".join(
        [
            "| callback | case | before (USD) | target | measured | met |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            *target_rows,
        ]
    )
    return (
        f"### Cost per million webhooks\n\nAt {PRICES_REGION} list prices as of {PRICES_AS_OF} "
        f"(bench/prices.py), {memory_gb * 1024:.0f} MB arm64 functions, billed time taken as "
        f"{ASSUMED_MS_PER_AWS_CALL:g} ms per AWS call (an assumption: it cannot be measured "
        f"here), SQS receives and deletes in batches of {BATCH}, and a stream window shared by "
        f"{STREAM_RECORDS} records of a campaign (5 s of a campaign at 20 callbacks/s). "
        f"From the template: the API's access log line ({lines.access_log_bytes} bytes with "
        f"CloudWatch's {LOG_EVENT_OVERHEAD_BYTES} per event), Lambda's platform lines "
        f"(SystemLogLevel {lines.system_log_level}: "
        f"{'none written' if not per_invocation['platform lines'] else 'START, END, REPORT'}) "
        f"and X-Ray (Tracing {lines.tracing}"
        f"{'' if per_invocation['X-Ray'] else ': no trace'}; Active would add USD "
        f"{invocations * XRAY_SAMPLED_SHARE * XRAY_PER_MILLION_TRACES_RECORDED:.2f} at the "
        f"default sampling's 5%). Every log line is billed with CloudWatch's "
        f"{LOG_EVENT_OVERHEAD_BYTES} bytes per event. Storage is priced per month kept "
        f"(below); the report fetch, the stream's polling at low volume and custom metrics "
        f"(USD 0.30 a month each, not per webhook) are left out for now (issue 22)."
        f"\n\n{table}\n\n"
        f"Receiving alone (API Gateway, receiver, SQS, its logs) is USD {ingest_total:.2f} per "
        f"million; an API Gateway -> SQS direct integration would be USD {direct:.2f} "
        f"({ingest_total / direct:.2f}x), but it cannot check the token in constant time against "
        f"a rotating secret, normalise, bound the body or quarantine: every malformed callback "
        f"would reach the processors, and one type per queue would need three integrations.\n\n"
        f"Issue 12's targets (the campaign status's: unchanged or cheaper):\n\n{targets}\n"
    )


STREAM_RECORDS = 100
# Issue 12's targets (USD per million webhooks), beside the figures before it (2026-11-27).
TARGETS: dict[tuple[CallbackType, str], tuple[float, float]] = {
    (CallbackType.CALL_STATUS, "new attempt"): (3.50, 6.56),
    (CallbackType.CALL_STATUS, "status change"): (4.00, 7.2),  # 1 GSI unit over a new one
    (CallbackType.CALL_STATUS, "duplicate attempt"): (2.40, 2.75),
    (CallbackType.CALL_SCHEDULE, "new outcome (+event)"): (4.50, 7.64),
    (CallbackType.CAMPAIGN_STATUS, "non-final status"): (3.89, 3.89),
}
# The case that prices each callback type: what most deliveries of it do.
COSTED: list[tuple[CallbackType, str]] = [
    (CallbackType.CALL_STATUS, "new attempt"),
    (CallbackType.CALL_STATUS, "status change"),
    (CallbackType.CALL_STATUS, "duplicate attempt"),
    (CallbackType.CALL_SCHEDULE, "new outcome (+event)"),
    (CallbackType.CAMPAIGN_STATUS, "non-final status"),
]


if __name__ == "__main__":
    main()
