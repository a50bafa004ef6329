"""AWS requests, DynamoDB capacity units, log bytes and CPU per callback, for each case the
receiver and the processors meet, counted by running the real handlers on the emulated stack;
then what AWS would bill for them (bench/cost_model.py) at bench/prices.py's prices.

Every request is counted from botocore's own events; DynamoDB capacity follows its published
sizing rules (moto does not report consumed capacity faithfully):
an item's size is its attribute names plus values; a write costs 1 unit per started KB (2 in a
transaction), a strongly consistent read 1 unit per started 4 KB (eventually consistent, half);
each GSI whose projected
attributes change costs a write of the projected item (a key change costs a delete and a put);
a conditional write that fails still costs its write.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import statistics
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3

from bench import results
from bench.cost_model import (
    ANALYTICS_STREAM,
    LOAD_POINTS,
    RECEIVER,
    STREAM,
    STREAM_SHARDS,
    Bill,
    Counted,
    Deployed,
    LoadPoint,
    Received,
    dataset_usd,
    fixed_monthly,
    per_report_row,
    per_webhook,
    records_per_batch,
    stream_share,
    summary_read_units,
)
from bench.latency import BATCH_SIZE, comparisons, probe
from bench.latency import PROCESSORS as LATENCY_PROCESSORS
from bench.metering import (
    LOG_EVENT_OVERHEAD_BYTES,
    PROCESSORS,
    Gsi,
    Ledger,
    Meter,
    StreamWindows,
    archived_detail_types,
    capture_logs,
    invoke_logged,
    item_size,
    queued,
    stream_poller,
    table_indexes,
)
from bench.prices import ASSUMED_MS_PER_AWS_CALL, PRICES_AS_OF, US_EAST_1, Prices
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


@dataclass(frozen=True)
class Measurement:
    """Everything running the code counted, for the model (bench/cost_model.py)."""

    received: Received
    receiver_calls: dict[str, int]
    counted: dict[str, Counted]  # by case
    rows: list[str]  # the counts table's rows
    series: frozenset[tuple[str, str]]  # metric series the cases emitted
    stored_bytes: dict[str, int]  # by case: an item and its index entries in storage
    attempt_rows: bytes  # a new attempt's analytics row(s), as sent to Firehose


def stream_consumer(template: Template, deployment: Deployment, function: str) -> StreamWindows:
    """A consumer of the table's stream, past the records already there (the warm-ups')."""
    os.environ.update(function_environment(deployment, function))
    windows = stream_poller(
        deployment, load_handler(template, deployment, function, function), function
    )
    windows.drain()
    return windows


def heard_before_the_cases(call_status: Callable[..., Any]) -> None:
    """A callback of the cases' campaign a moment before them: the stream notes a campaign's
    last callback to the minute, so its index entry moves once a minute, not with each record
    (a campaign's first callback would count one more write)."""
    fields = {**ATTEMPT, "call_sid": "call_heard", "number": "+919800000000"}
    record = {"MessageId": "h", "ReceiptHandle": "r",
              "Body": queued(CallbackType.CALL_STATUS, fields)}  # fmt: skip
    invoke_logged(call_status, sqs_event("arn:q", [record]), "heard")


def measure() -> Measurement:
    """Run each case through the real handlers on the emulated stack and count."""
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    cpu = cpu_ms_per_record()
    template = Template.load()
    indexes = table_indexes(template)
    with emulated_account_environment(), mock_aws():
        deployment = deploy(template)
        meter = Meter(
            deployment.physical_id("CampaignTable"), indexes, archived_detail_types(template)
        )
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
        heard_before_the_cases(handlers[CallbackType.CALL_STATUS])
        stream, dataset = (
            stream_consumer(template, deployment, name) for name in (STREAM, ANALYTICS_STREAM)
        )
        os.environ.update(function_environment(deployment, RECEIVER))
        receiver = load_handler(template, deployment, RECEIVER, RECEIVER)
        webhook = json.loads((ROOT / "events/receiver/call-status.json").read_text())
        invoke_logged(receiver, webhook, "receiver")  # the cold start: the secret is fetched
        meter.current = Ledger()
        logged = invoke_logged(receiver, webhook, "receiver")
        assert logged.result["statusCode"] == 200, logged.result
        series = logged.series
        received = Received(
            aws_calls=sum(meter.current.calls.values()),
            cpu_ms=cpu[RECEIVER],
            log_bytes=logged.line_bytes,
            emf_bytes=logged.emf_bytes,
        )
        receiver_calls = dict(meter.current.calls)
        rows, counted = [], {}
        for case, kind, fields in CASES:
            meter.current = Ledger()
            record = {"MessageId": "m", "ReceiptHandle": "r", "Body": queued(kind, fields)}
            logged = invoke_logged(handlers[kind], sqs_event("arn:q", [record]), case)
            assert logged.result == {"batchItemFailures": []}, logged.result
            ledger = meter.current
            meter.current = derived = Ledger()
            window = stream.drain()
            dataset.drain()  # the analytics consumer: its Firehose record, counted with the window
            if case == "new attempt":
                attempt_rows = derived.dataset_sample
            series |= logged.series | window.series
            counted[case] = Counted(
                function=PROCESSORS[kind],
                aws_calls=sum(ledger.calls.values()),
                cpu_ms=cpu[PROCESSORS[kind]],
                read_units=ledger.read_units,
                write_units=ledger.write_units,
                log_bytes=logged.line_bytes,
                emf_bytes=logged.emf_bytes,
                event_entries=ledger.event_entries + derived.event_entries,
                archived_bytes=ledger.archived_bytes + derived.archived_bytes,
                queue_sends=ledger.calls["sqs.SendMessage"],
                stream_records=ledger.items_changed,
                counter_write_units=derived.write_units,
                stream_log_bytes=window.line_bytes + window.emf_bytes,
                dataset_bytes=derived.dataset_bytes,
            )
            requests = ", ".join(f"{n} {op}" for op, n in sorted(ledger.requests.items()))
            derived_calls = ", ".join(f"{n} {op}" for op, n in sorted(derived.calls.items()))
            rows.append(
                f"| {kind} | {case} | {requests} | {ledger.read_units:g} | "
                f"{ledger.table_write_units:g} | {ledger.index_write_units:g} | "
                f"{logged.line_bytes} | {logged.emf_bytes} | {derived_calls or '-'} | "
                f"{derived.write_units:g} | {window.line_bytes + window.emf_bytes} |"
            )
        stored = {case: stored_bytes(deployment, indexes, keys) for case, keys in STORED_BY.items()}
        counted[REPORT_ROW] = report_row(
            deployment, handlers[CallbackType.CALL_SCHEDULE], stream, meter
        )
    return Measurement(
        received, receiver_calls, counted, rows, frozenset(series), stored, attempt_rows
    )


REPORT_ROW = "report row"
REPORT_NUMBERS = 200


def report_row(
    deployment: Deployment,
    call_schedule: Callable[..., Any],
    stream: StreamWindows,
    meter: Meter,
) -> Counted:
    """What reconciling one row of a campaign report costs, where the callbacks stored every
    number's outcome and the report agrees (the common case): REPORT_NUMBERS rows, divided."""
    # imported here: the package's metrics read their namespace from the stack's environment
    from exotel_webhooks.ledger.table import CampaignTable  # noqa: PLC0415
    from exotel_webhooks.reports import reconciliation  # noqa: PLC0415
    from exotel_webhooks.settings import NormalisationRules  # noqa: PLC0415

    sid = "camp_report"
    numbers = [f"+9198{index:08d}" for index in range(REPORT_NUMBERS)]
    for start in range(0, len(numbers), 10):
        records = [
            {
                "MessageId": f"m{index}",
                "ReceiptHandle": "r",
                "Body": queued(
                    CallbackType.CALL_SCHEDULE,
                    {**OUTCOME, "campaign_sid": sid, "to": number, "call_sids": [f"c{index}"]},
                ),
            }
            for index, number in enumerate(numbers[start : start + 10], start)
        ]
        invoke_logged(call_schedule, sqs_event("arn:q", records), "outcomes")
    stream.drain()
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), deployment.physical_id("CampaignTable")
    )
    rows = [["number", "status"], *([number, "completed"] for number in numbers)]
    meter.current = ledger = Ledger()
    # one chunk at a time: the meter's hooks are not made for threads (the cost is the same)
    with patch.object(reconciliation, "_WORKERS", 1), capture_logs() as lines:
        reconciliation.reconcile(iter(rows), sid, table, NormalisationRules())
    meter.current = derived = Ledger()
    window = stream.drain()
    return Counted(
        function="ReportFetcherFunction",
        aws_calls=sum(ledger.calls.values()) / REPORT_NUMBERS,
        cpu_ms=0.0,  # parsing a row: not measured apart from moto here
        read_units=ledger.read_units / REPORT_NUMBERS,
        write_units=ledger.write_units / REPORT_NUMBERS,
        log_bytes=lines.line_bytes / REPORT_NUMBERS,
        emf_bytes=0,
        event_entries=0,
        queue_sends=0,
        stream_records=ledger.items_changed / REPORT_NUMBERS,
        counter_write_units=derived.write_units,
        stream_log_bytes=window.line_bytes + window.emf_bytes,
    )


def cpu_ms_per_record() -> dict[str, float]:
    """Each handler's own CPU per webhook (receiver) or record (processors), on one core of this
    machine: bench/latency.py's warm probe, AWS answered in-process by botocore's real work."""
    found = {}
    with tempfile.TemporaryDirectory() as directory:
        for title, candidates in comparisons(Path(directory)):
            real = candidates[1]
            per = 1 if title.startswith("receiver") else BATCH_SIZE
            warm = probe(real, "warm", 300 // per, "http://127.0.0.1:9")["warm_s"]
            function = next(
                (name for kind, name, _ in LATENCY_PROCESSORS if title.startswith(str(kind))),
                RECEIVER,
            )
            found[function] = statistics.median(warm) * 1000 / per
    return found


def main() -> None:
    measurement = measure()
    results.append(report(measurement, Deployed.of(Template.load(), LOG_EVENT_OVERHEAD_BYTES)))


def report(measurement: Measurement, deployed: Deployed) -> str:
    received = measurement.received
    calls = ", ".join(f"{n} {op}" for op, n in sorted(measurement.receiver_calls.items()))
    counts = "\n".join(
        [
            "| callback | case | processor: DynamoDB requests | read units | table write units "
            "| GSI write units | log bytes | EMF bytes (per invocation) | stream window: AWS "
            "requests | write units | log bytes |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
            *measurement.rows,
        ]
    )
    cpu = ", ".join(
        f"{name.removesuffix('Function')} {case.cpu_ms:.2f} ms"
        for name, case in {c.function: c for c in measurement.counted.values()}.items()
    )
    return (
        "## AWS requests, DynamoDB capacity and log bytes per callback\n\n"
        f"{results.measured_on()} The receiver: {calls}, {received.log_bytes} bytes of log "
        f"lines and {received.emf_bytes} of metrics (EMF) per accepted webhook, "
        f"{received.cpu_ms:.2f} ms of its own CPU on one core here; processors' CPU per record: "
        f"{cpu}. Each case is one record through its processor, then the stream's window for "
        f"that record alone (the ledger stream's counter write and events). Every log line "
        f"is counted with CloudWatch's {LOG_EVENT_OVERHEAD_BYTES} bytes per event.\n\n"
        f"{counts}\n\n"
        + cost_report(measurement, deployed, US_EAST_1)
        + "\n\n"
        + fixed_report(measurement, deployed, US_EAST_1)
        + "\n\n"
        + storage_report(measurement.stored_bytes)
        + "\n\n"
        + archive_report(measurement.counted["final status (+report, event)"])
        + "\n\n"
        + dataset_report(measurement, deployed, US_EAST_1)
    )


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


def storage_report(sizes: dict[str, int], prices: Prices = US_EAST_1) -> str:
    per_gb = prices.dynamodb_storage_per_gb_month + prices.dynamodb_pitr_per_gb_month
    rows = [
        f"| {case} | {size:,} | {size * 1_000_000 / 1024**3 * per_gb:.2f} |"
        for case, size in sizes.items()
    ]
    return "\n".join(
        [
            "### Storage: each month a million kept items cost",
            "",
            f"DynamoDB standard storage (USD {prices.dynamodb_storage_per_gb_month:.2f} per "
            f"GB-month) and point-in-time recovery (USD {prices.dynamodb_pitr_per_gb_month:.2f}),"
            " on each stored item and "
            f"index entry with DynamoDB's {DYNAMODB_ITEM_OVERHEAD_BYTES} bytes each; "
            "`DataRetentionDays` says how many months (0: for ever).",
            "",
            "| item | bytes stored | USD per million, per month kept |",
            "| --- | ---: | ---: |",
            *rows,
        ]
    )


def archive_report(final: Counted, prices: Prices = US_EAST_1) -> str:
    """What the bus's archive takes of a campaign: its final status's events, measured."""
    taken = final.archived_bytes * 1e6 / 1024**3
    return (
        "### The event archive\n\n"
        f"The campaign bus's archive (`CampaignEventArchive`) keeps the campaign events, not the "
        f"numbers' (an erasure could not reach them): a campaign's final status publishes "
        f"{final.archived_bytes:.0f} archived bytes (the event with EventBridge's envelope), "
        f"USD {taken * prices.eventbridge_archive_per_gb:.3f} per million campaigns taken in "
        f"(USD {prices.eventbridge_archive_per_gb:.2f} per GB, in the EventBridge line above) "
        f"and USD {taken * prices.eventbridge_archive_per_gb_month:.4f} per million campaigns "
        "for each month kept (`EventArchiveRetentionDays`, 30 by default). A replay is billed "
        f"as its events published again (USD {prices.eventbridge_per_million:.2f} per million)."
    )


def bills(
    measurement: Measurement, deployed: Deployed, prices: Prices, load: LoadPoint
) -> dict[str, Bill]:
    return {
        case: per_webhook(measurement.received, measurement.counted[case], load, deployed, prices)
        for _, case in COSTED
    }


def cost_report(measurement: Measurement, deployed: Deployed, prices: Prices) -> str:
    """Each costed case at each load point, line by line, and the targets."""
    sections = []
    for load in LOAD_POINTS:
        priced = bills(measurement, deployed, prices, load)
        names = list(next(iter(priced.values())).lines)
        rows = []
        for kind, case in COSTED:
            bill = priced[case]
            rows.append(
                f"| {kind} | {case} | "
                + " | ".join(f"{bill.lines[name]:.2f}" for name in names)
                + f" | **{bill.total:.2f}** |"
            )
        counter = measurement.counted["new attempt"].function
        batch = records_per_batch(deployed.queues[counter], load.queue_rate(counter))
        share = stream_share(deployed.stream, load.callbacks_per_second, load.campaigns)
        sections.append(
            "\n".join(
                [
                    f"**{load.name}**: call-status batches of {batch:.1f} records; the ledger "
                    f"stream invoked {share.invocations:.3f} times and writes "
                    f"{share.counter_writes:.3f} counters per record "
                    f"({share.records_per_invocation:.0f} records an invocation per shard).",
                    "",
                    "| callback | case | " + " | ".join(names) + " | USD per million |",
                    "| --- | --- | " + " | ".join("---:" for _ in names) + " | ---: |",
                    *rows,
                ]
            )
        )
    row = measurement.counted[REPORT_ROW]
    report_rows = []
    for load in LOAD_POINTS:
        units = summary_read_units(
            measurement.stored_bytes["new attempt"], load.attempts_per_number
        )
        bill = per_report_row(row, load, deployed, prices, summary_units=units)
        parts = " + ".join(f"{name} {usd:.2f}" for name, usd in bill.lines.items())
        report_rows.append(f"| {load.name} | {bill.total:.2f} | {parts} |")
    sections.append(
        "\n".join(
            [
                f"**A report row** (a finished campaign's CSV reconciled with the outcomes the "
                f"callbacks stored, {REPORT_NUMBERS} rows that agree, divided): "
                f"{row.aws_calls:.2f} AWS requests, {row.read_units:.2f} read and "
                f"{row.write_units:.2f} write units, {row.stream_records:.2f} stream records "
                "a row; the fetch itself (an invocation, the report's S3 PUT and GET, two "
                "events) is per campaign. Each number is a row, and pays its share of the "
                "campaign's summary page, written twice (on completion and on the report): its "
                "outcome read consistently and its attempts' share of the calls index, modelled "
                "from the stored sizes below (the render's CPU is not measured).",
                "",
                "| load point | USD per million rows | parts (USD) |",
                "| --- | ---: | --- |",
                *report_rows,
            ]
        )
    )
    target_rows = []
    for ingress in INGRESSES:
        by_ingress = replace(deployed, ingress=ingress)
        for (kind, case), limits in TARGETS.items():
            cells = []
            for load, limit in zip(LOAD_POINTS, limits, strict=True):
                bill = per_webhook(
                    measurement.received, measurement.counted[case], load, by_ingress, prices
                )
                total = round(bill.total, 2)
                met = "met" if total <= limit else "not met"
                cells.append(f"{total:.2f} (<= {limit:.2f}: {met})")
            target_rows.append(f"| {kind} | {case} | {ingress} | " + " | ".join(cells) + " |")
    tracing = replace(deployed, tracing="Active")
    traced = {
        load.name: per_webhook(
            measurement.received, measurement.counted["new attempt"], load, tracing, prices
        ).lines["X-Ray"]
        for load in LOAD_POINTS
    }
    return (
        f"### Cost per million webhooks, all in\n\nAt {prices.region} list prices as of "
        f"{PRICES_AS_OF} (bench/prices.py), the template as deployed by default (Ingress "
        f"{deployed.ingress}, Tracing {deployed.tracing}, SystemLogLevel "
        f"{deployed.system_log_level}: Lambda's START, END and REPORT lines not written), "
        f"functions of {deployed.memory_mb[RECEIVER]} MB arm64 billed for "
        f"{ASSUMED_MS_PER_AWS_CALL:g} ms per AWS call (an assumption: it cannot be measured "
        f"here) plus the handler's CPU measured here, scaled to its memory's share of a vCPU "
        f"({deployed.vcpu(RECEIVER):.2f}). Batch fill, stream invocations and counter writes "
        f"follow from each load point and the template's mappings (bench/cost_model.py: "
        f"{STREAM_SHARDS} stream shards, an on-demand table's first partitions; "
        f"{ATTEMPTS_NOTE}). The API's access log line is {deployed.access_log_bytes} bytes. "
        f"Tracing Active would add "
        + " and ".join(f"USD {usd:.2f} ({name})" for name, usd in traced.items())
        + " per million new attempts (X-Ray's default sampling: 1 a second, then 5%).\n\n"
        + "\n\n".join(sections)
        + "\n\nTargets (issue 22), USD per million webhooks:\n\n"
        + "\n".join(
            [
                "| callback | case | Ingress | "
                + " | ".join(load.name for load in LOAD_POINTS)
                + " |",
                "| --- | --- | --- | " + " | ".join("---" for _ in LOAD_POINTS) + " |",
                *target_rows,
            ]
        )
        + "\n\n"
        + floor_note(measurement, deployed, prices)
        + "\n\nLeft out, each for a reason: the report fetch's own invocation, S3 requests "
        "and events (per campaign: a few millionths of a dollar), the summary page's two "
        "invocations (per campaign: each waits 10 s for the stream at 1 GB, USD 0.0003 with "
        "its S3 PUTs), data transfer out (a few "
        "hundred bytes a response), KMS requests for the log groups' key (CloudWatch Logs "
        "caches data keys; AWS does not publish how often it asks) and the free tiers. A "
        "real bill could still add what someone does with the stack: Logs Insights queries "
        "(USD 0.005 per GB scanned), read API requests, quarantined requests and reports kept "
        "in S3 (USD 0.023 per GB-month); and data transfer out beyond AWS's free 100 GB a "
        "month (USD 0.09 per GB: a few hundred bytes an answer, about 0.03 per million)."
    )


def dataset_report(measurement: Measurement, deployed: Deployed, prices: Prices) -> str:
    """What the analytics dataset adds: its rows per million new attempts at each load point,
    what they keep in S3 (gzipped, as Firehose writes them), and what a query scans."""
    sample = measurement.attempt_rows.splitlines()[-1]
    gzipped = gzipped_row_bytes(sample)
    attempt = measurement.counted["new attempt"]
    cells = []
    for load in LOAD_POINTS:
        share = stream_share(deployed.analytics_stream, load.callbacks_per_second, load.campaigns)
        cells.append(
            f"| {load.name} | {share.records_per_invocation:.0f} | "
            f"{dataset_usd(attempt, load, deployed, prices):.3f} |"
        )
    per_busy_hour = 3600 / deployed.analytics_buffer_seconds
    kept = 1e6 * gzipped / 1024**3 * prices.s3_per_gb_month
    scanned = 1e6 * gzipped / 1e12 * ATHENA_PER_TB
    return "\n".join(
        [
            "### The analytics dataset (issue 23)",
            "",
            f"A new attempt's row is {len(sample) + 1} bytes of newline-delimited JSON, "
            f"{gzipped:.0f} gzipped among a thousand others (Firehose's GZIP). The table's "
            "stream has a second consumer for them (AnalyticsStreamFunction, so Firehose "
            "refusing never holds the counters), which sends an invocation's rows as one "
            "Firehose record (billed in 5 KB steps) with one PutRecordBatch call; USD per "
            "million new attempts, its invocations included (in the table above):",
            "",
            "| load point | rows an invocation | analytics dataset |",
            "| --- | ---: | ---: |",
            *cells,
            "",
            f"Firehose writes an object every {deployed.analytics_buffer_seconds} s while rows "
            f"come ({per_busy_hour:.0f} S3 PUTs a busy hour: in the month's fixed lines above). "
            f"Kept in S3, a million new attempts' rows cost USD {kept:.4f} a month. A query "
            f"scans every row of the dataset: a million stored changes are "
            f"{1e6 * gzipped / 1024**2:.0f} MiB, USD {scanned:.4f} a query at Athena's "
            f"USD {ATHENA_PER_TB:g} per TB (10 MB billed at least).",
        ]
    )


ATHENA_PER_TB = 5.0


def gzipped_row_bytes(row: bytes, rows: int = 1000) -> float:
    """A row's share of a gzipped object of `rows` rows like it, each with its own item, call,
    subscriber and sequence (hashes do not compress)."""
    template = json.loads(row)
    lines = []
    for n in range(rows):
        varied = dict(template)
        for field_name in ("item", "number_hash"):
            if field_name in varied:
                varied[field_name] = hashlib.sha256(f"{field_name}{n}".encode()).hexdigest()[:16]
        varied["call_sid"] = hashlib.md5(str(n).encode()).hexdigest()  # noqa: S324 - a sample id
        varied["sequence"] = str(10**20 + n * 7919).zfill(40)
        lines.append(json.dumps(varied, separators=(",", ":"), sort_keys=True))
    return len(gzip.compress(("\n".join(lines) + "\n").encode())) / rows


def floor_note(measurement: Measurement, deployed: Deployed, prices: Prices) -> str:
    """What a new attempt pays on the HTTP API before a byte of log or a millisecond of work."""
    attempt = measurement.counted["new attempt"]
    batch = deployed.queues[attempt.function].batch_size
    parts = {
        "the API's request": prices.http_api_per_million,
        "the SQS send and its share of a receive and a delete": (1 + 2 / batch)
        * prices.sqs_per_million,
        f"its {attempt.write_units:g} write units (the item and its calls-index entry)": (
            attempt.write_units * prices.dynamodb_write_per_million
        ),
        "the receiver's and its share of a processor's Lambda request": (1 + 1 / batch)
        * prices.lambda_per_million,
    }
    floor = sum(parts.values())
    listed = ", ".join(f"{name} {usd:.2f}" for name, usd in parts.items())
    return (
        f"The HTTP API's floor: {listed}; USD {floor:.2f} per million new attempts before a "
        f"byte of log or a millisecond of work. A sustained target of 3.00 leaves "
        f"{3.00 - floor:.2f} for the rest, so it is met without the API's charge (Ingress "
        "FunctionUrl), not on the HTTP API; dropping the calls-index entry instead would take "
        "away the read API's `/calls` listing."
    )


def fixed_report(measurement: Measurement, deployed: Deployed, prices: Prices) -> str:
    series = len(measurement.series)
    rows = []
    for label, hours in (("idle: no traffic", 0), ("campaigns every hour", 720)):
        lines = fixed_monthly(deployed, prices, series, hours)
        parts = " + ".join(f"{name} {usd:.2f}" for name, usd in lines.items())
        rows.append(f"| {label} | {sum(lines.values()):.2f} | {parts} |")
    return "\n".join(
        [
            "### Every month, whatever the traffic",
            "",
            f"What the stack costs before its first webhook ({prices.region}). Custom metrics "
            "are billed by the hour for the hours they receive data: the series counted are "
            f"those the cases above emitted ({series}); failures' series add theirs only in the "
            f"hours they occur. Target (issue 22): idle <= USD {IDLE_TARGET:.2f} a month.",
            "",
            "| stack | USD a month | lines |",
            "| --- | ---: | --- |",
            *rows,
        ]
    )


ATTEMPTS_NOTE = "2.2 call-status callbacks per call-schedule callback"
IDLE_TARGET = 10.0
INGRESSES = ("HttpApi", "FunctionUrl")
# Issue 22's targets (USD per million webhooks): sustained, one campaign at 20/s.
TARGETS: dict[tuple[CallbackType, str], tuple[float, float]] = {
    (CallbackType.CALL_STATUS, "new attempt"): (3.00, 3.50),
    (CallbackType.CALL_STATUS, "duplicate attempt"): (2.00, 2.40),
    (CallbackType.CALL_SCHEDULE, "new outcome (+event)"): (3.50, 4.00),
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
