"""What call details cost (CallDetails on, issue 24): counted by running the real functions on
the emulated stack against the simulated Call details API (docs/benchmarks.md, "Call details").

ATTEMPTS final attempts are stored by the call-status processor (not counted: the callbacks'
own cost is above); then, each counted apart: the ledger stream's window that sends them to
CallDetailsQueue, the call details function's invocations of BATCH records each (as its mapping
hands them over), and the stream's windows over the details it wrote (counters and dataset rows).
Lambda's time is priced at ASSUMED_MS_PER_AWS_CALL per AWS call plus ASSUMED_EXOTEL_MS per
request to Exotel (not measurable here); the mapping's SQS receives and deletes at 10 messages a
request (SQS's most).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3

from bench import results
from bench.cost_model import (
    ANALYTICS_STREAM,
    FIREHOSE_STEP,
    IDLE_SQS_RECEIVES_PER_SECOND,
    SECONDS_PER_MONTH,
    STREAM,
)
from bench.metering import (
    Ledger,
    Meter,
    StreamWindows,
    invoke_logged,
    queued,
    stream_poller,
    table_indexes,
)
from bench.prices import ASSUMED_MS_PER_AWS_CALL, PRICES_AS_OF, US_EAST_1, Prices
from exotel_webhooks.ledger.keys import attempt_keys
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, Deployment, deploy, emulated_account_environment
from localaws.exotel_simulator import (
    RECORDING_BYTES_PER_SECOND,
    call_details,
    serve_campaign_api,
)
from localaws.runtime import LocalLambdaContext, function_environment, load_handler
from localaws.sqs_events import sqs_event
from localaws.template import Template

ATTEMPTS = 1000
BATCH = 100  # the function's BatchSize: a full batch when 100 wait within its 60 s window
FUNCTION = "CallDetailsFunction"
ASSUMED_EXOTEL_MS = 500.0  # one bulk request's answer from Exotel (not measurable here)
SQS_MESSAGES_PER_REQUEST = 10


def attempt(index: int) -> dict[str, Any]:
    return {
        "campaign_sid": "camp_details",
        "call_sid": f"call_{index}",
        "number": f"+9198{index:08d}",
        "status": ("completed", "busy", "no-answer", "failed")[index % 4],
        "date_created": f"2024-01-15 09:{index % 60:02d}:00",
        "date_updated": f"2024-01-15 09:{index % 60:02d}:40",
    }


def loaded(template: Template, deployment: Deployment, function: str, **env: str) -> Any:  # noqa: ANN401
    os.environ.update(function_environment(deployment, function) | env)
    return load_handler(template, deployment, function, function)


def consumer(template: Template, deployment: Deployment, function: str) -> StreamWindows:
    windows = stream_poller(deployment, loaded(template, deployment, function), function)
    windows.drain()  # past what is already on the stream
    return windows


def store_attempts(handler: Callable[..., Any]) -> None:
    """The attempts as the call-status processor stores callbacks, 10 a batch."""
    for start in range(0, ATTEMPTS, 10):
        records = [
            {"MessageId": str(i), "ReceiptHandle": "r",
             "Body": queued(CallbackType.CALL_STATUS, attempt(i))}
            for i in range(start, min(start + 10, ATTEMPTS))
        ]  # fmt: skip
        result = handler(sqs_event("arn:q", records), LocalLambdaContext("store"))
        assert result == {"batchItemFailures": []}, result


class Counts:
    """Per attempt, what each part of the path did."""

    def __init__(self) -> None:
        self.sends = 0.0  # SQS requests the ledger stream made to queue them
        self.function: Ledger = Ledger()
        self.function_logs = 0
        self.invocations = 0
        self.exotel_requests = 0
        self.written = 0
        self.window: Ledger = Ledger()
        self.window_logs = 0


def measure() -> Counts:
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    counts = Counts()
    calls = {
        f"call_{i}": call_details(f"call_{i}", attempt(i)["status"], attempt(i)["date_created"])
        for i in range(ATTEMPTS)
    }
    asked: list[str] = []
    api, host = serve_campaign_api({}, calls, asked)
    try:
        with emulated_account_environment(), mock_aws():
            deployment = deploy(template, parameters={"CallDetails": "true"})
            meter = Meter(deployment.physical_id("CampaignTable"), table_indexes(template))
            boto3.setup_default_session(region_name=REGION)
            assert boto3.DEFAULT_SESSION is not None
            boto3.DEFAULT_SESSION.events.register("provide-client-params", meter.before_call)
            boto3.DEFAULT_SESSION.events.register("after-call", meter.after_call)
            store = loaded(template, deployment, "CallStatusProcessorFunction")
            stream, dataset = (
                consumer(template, deployment, STREAM),
                consumer(template, deployment, ANALYTICS_STREAM),
            )
            details = loaded(
                template, deployment, FUNCTION,
                EXOTEL_API_HOST=host, EXOTEL_API_ALLOW_LOOPBACK="true",
                EXOTEL_API_REQUESTS_PER_MINUTE="600000",
            )  # fmt: skip
            store_attempts(store)
            meter.current = Ledger()
            stream.drain()  # the attempts' window: counted for its sends alone
            dataset.drain()
            counts.sends = meter.current.calls["sqs.SendMessageBatch"] / ATTEMPTS
            messages = queued_messages(deployment, "CallDetailsQueue")
            assert len(messages) == ATTEMPTS, len(messages)
            queue_arn = f"arn:aws:sqs:{REGION}:123456789012:CallDetailsQueue"
            for start in range(0, ATTEMPTS, BATCH):
                meter.current = Ledger()
                logged = invoke_logged(
                    details, sqs_event(queue_arn, messages[start : start + BATCH]), FUNCTION
                )
                assert logged.result == {"batchItemFailures": []}, logged.result
                counts.function = _plus(counts.function, meter.current)
                counts.function_logs += logged.line_bytes + logged.emf_bytes
                counts.invocations += 1
                meter.current = Ledger()
                window = stream.drain()  # the details' window: counters and their events
                dataset.drain()
                counts.window = _plus(counts.window, meter.current)
                counts.window_logs += window.line_bytes + window.emf_bytes
            counts.written = with_details(deployment)
            counts.exotel_requests = sum("/Calls.json" in path for path in asked)
    finally:
        api.shutdown()
    return counts


RECORDED = 100  # answered attempts whose recordings are copied (KeepRecordings on)
RECORDING_BATCH = 5  # the recording function's BatchSize
ASSUMED_DOWNLOAD_BYTES_PER_SECOND = 5 * 1024**2  # from Exotel's host to Lambda (a guess)


class RecordingCounts:
    """What keeping RECORDED recordings did, in total."""

    def __init__(self) -> None:
        self.sends = 0  # SQS requests the ledger stream made to ask for them
        self.function = Ledger()
        self.function_logs = 0
        self.invocations = 0
        self.exotel_requests = 0
        self.bytes = 0  # kept in S3


def measure_recordings() -> RecordingCounts:
    """RECORDED answered attempts given call details saying they were recorded, through the
    ledger stream and the real recording function against the simulated API and its files."""
    warnings.filterwarnings("ignore")
    from moto import mock_aws  # noqa: PLC0415

    template = Template.load()
    counts = RecordingCounts()
    calls = {f"rec_{i}": call_details(f"rec_{i}", "completed", "2024-01-15 09:00:00")
             for i in range(RECORDED)}  # fmt: skip
    asked: list[str] = []
    api, host = serve_campaign_api({}, calls, asked)
    for sid, call in calls.items():
        call["RecordingUrl"] = f"http://{host}/recordings/{sid}.mp3"
    try:
        with emulated_account_environment(), mock_aws():
            parameters = {"CallDetails": "true", "KeepRecordings": "true"}
            deployment = deploy(template, parameters=parameters)
            table_name = deployment.physical_id("CampaignTable")
            meter = Meter(table_name, table_indexes(template))
            boto3.setup_default_session(region_name=REGION)
            assert boto3.DEFAULT_SESSION is not None
            boto3.DEFAULT_SESSION.events.register("provide-client-params", meter.before_call)
            boto3.DEFAULT_SESSION.events.register("after-call", meter.after_call)
            store = loaded(template, deployment, "CallStatusProcessorFunction")
            stream = consumer(template, deployment, STREAM)
            keeper = loaded(
                template, deployment, "RecordingFunction",
                EXOTEL_API_HOST=host, EXOTEL_API_ALLOW_LOOPBACK="true",
                EXOTEL_API_REQUESTS_PER_MINUTE="600000", RECORDING_URL_ALLOW_LOOPBACK="true",
                RECORDING_URL_ALLOWED_HOSTS="127.0.0.1",
            )  # fmt: skip
            for start in range(0, RECORDED, 10):
                records = [
                    {"MessageId": str(i), "ReceiptHandle": "r",
                     "Body": queued(CallbackType.CALL_STATUS,
                                    {**attempt(i), "call_sid": f"rec_{i}", "status": "completed"})}
                    for i in range(start, start + 10)
                ]  # fmt: skip
                store(sqs_event("arn:q", records), LocalLambdaContext("store"))
            stream.drain()
            # imported once the functions' settings are in the environment (metrics namespace)
            from exotel_webhooks.ledger.table import CampaignTable  # noqa: PLC0415

            table = CampaignTable(boto3.Session(region_name=REGION).client("dynamodb"), table_name)
            for i in range(RECORDED):  # the call details function's writes: not counted here
                keys = attempt_keys("camp_details", attempt(i)["number"], f"rec_{i}")
                details = {"duration_seconds": 60, "price": Decimal("0.5"), "currency": "INR",
                           "recorded": True}  # fmt: skip
                table.record_call_details(keys["PK"], keys["SK"], details)
            meter.current = Ledger()
            stream.drain()  # the details' window: the recording requests
            counts.sends = meter.current.calls["sqs.SendMessageBatch"]
            messages = queued_messages(deployment, "RecordingQueue")
            assert len(messages) == RECORDED, len(messages)
            queue_arn = f"arn:aws:sqs:{REGION}:123456789012:RecordingQueue"
            for start in range(0, RECORDED, RECORDING_BATCH):
                meter.current = Ledger()
                batch = messages[start : start + RECORDING_BATCH]
                logged = invoke_logged(keeper, sqs_event(queue_arn, batch), "RecordingFunction")
                assert logged.result == {"batchItemFailures": []}, logged.result
                counts.function = _plus(counts.function, meter.current)
                counts.function_logs += logged.line_bytes + logged.emf_bytes
                counts.invocations += 1
            counts.exotel_requests = sum("/Calls.json" in path for path in asked)
            s3 = boto3.Session(region_name=REGION).client("s3")
            listed = s3.list_objects_v2(
                Bucket=deployment.physical_id("ReportBucket"), Prefix="recordings/"
            )
            counts.bytes = sum(o["Size"] for o in listed.get("Contents", []))
    finally:
        api.shutdown()
    return counts


def recordings_bill(
    counts: RecordingCounts, template: Template, prices: Prices
) -> dict[str, float]:
    """USD per million recordings kept, line by line (and their storage, per month)."""
    million = 1e6 / RECORDED
    per_byte = prices.logs_ingested_per_gb / 1024**3
    calls = sum(counts.function.calls.values())
    s3_writes = sum(n for op, n in counts.function.calls.items() if op.startswith("s3."))
    seconds = (
        calls * ASSUMED_MS_PER_AWS_CALL + counts.exotel_requests * ASSUMED_EXOTEL_MS
    ) / 1000 + counts.bytes / ASSUMED_DOWNLOAD_BYTES_PER_SECOND
    memory_gb = _memory_mb(template, "RecordingFunction") / 1024
    sqs = counts.sends + 2 * RECORDED / SQS_MESSAGES_PER_REQUEST
    return {
        "SQS": million * sqs * prices.sqs_per_million / 1e6,
        "recording Lambda": million * (
            counts.invocations * prices.lambda_per_million / 1e6
            + seconds * memory_gb * prices.lambda_arm_per_gb_second
        ),
        "its logs": million * counts.function_logs * per_byte,
        "S3 requests": million * s3_writes * prices.s3_put_per_thousand / 1000,
        "DynamoDB": million * (
            counts.function.read_units * prices.dynamodb_read_per_million
            + counts.function.write_units * prices.dynamodb_write_per_million
        ) / 1e6,
    }  # fmt: skip


def queued_messages(deployment: Deployment, queue: str) -> list[Any]:
    """Every message on a queue, read by a client nobody counts."""
    sqs = boto3.Session(region_name=REGION).client("sqs")
    url = deployment.physical_id(queue)
    messages: list[Any] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return messages


def with_details(deployment: Deployment) -> int:
    """The attempts the function wrote details onto (read by a client nobody counts)."""
    dynamodb = boto3.Session(region_name=REGION).client("dynamodb")
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=deployment.physical_id("CampaignTable"),
        FilterExpression="attribute_exists(details)",
        Select="COUNT",
    )
    return sum(page["Count"] for page in pages)


def _plus(total: Ledger, more: Ledger) -> Ledger:
    total.calls.update(more.calls)
    total.requests.update(more.requests)
    total.read_units += more.read_units
    total.table_write_units += more.table_write_units
    total.index_write_units += more.index_write_units
    total.items_changed += more.items_changed
    total.dataset_bytes += more.dataset_bytes
    total.dataset_records += more.dataset_records
    return total


def bill(counts: Counts, template: Template, prices: Prices) -> dict[str, float]:
    """USD per million attempts with call details, line by line."""
    million = 1e6 / ATTEMPTS  # the measured totals, scaled to a million attempts
    per_byte = prices.logs_ingested_per_gb / 1024**3
    memory_gb = _memory_mb(template, FUNCTION) / 1024
    function_calls = sum(counts.function.calls.values())
    seconds = (
        function_calls * ASSUMED_MS_PER_AWS_CALL + counts.exotel_requests * ASSUMED_EXOTEL_MS
    ) / 1000
    window_calls = sum(counts.window.calls.values())
    firehose_bytes = counts.window.dataset_records * FIREHOSE_STEP  # at least a step a record
    firehose_bytes = max(firehose_bytes, counts.window.dataset_bytes)
    stream_seconds = window_calls * ASSUMED_MS_PER_AWS_CALL / 1000 + 2 * counts.invocations * 0.001
    sqs_requests = counts.sends * ATTEMPTS + 2 * ATTEMPTS / SQS_MESSAGES_PER_REQUEST
    return {
        "SQS (send, receive, delete)": sqs_requests * million * prices.sqs_per_million / 1e6,
        "call details Lambda": million * (
            counts.invocations * prices.lambda_per_million / 1e6
            + seconds * memory_gb * prices.lambda_arm_per_gb_second
        ),
        "its logs": million * counts.function_logs * per_byte,
        "DynamoDB (turns, details writes)": million * (
            counts.function.read_units * prices.dynamodb_read_per_million
            + counts.function.write_units * prices.dynamodb_write_per_million
        ) / 1e6,
        "streams (counters, dataset rows)": million * (
            2 * counts.invocations * prices.lambda_per_million / 1e6
            + stream_seconds * _memory_mb(template, STREAM) / 1024
            * prices.lambda_arm_per_gb_second
            + counts.window.write_units * prices.dynamodb_write_per_million / 1e6
            + counts.window_logs * per_byte
            + firehose_bytes / 1024**3 * prices.firehose_per_gb
        ),
    }  # fmt: skip


def monthly(template: Template, prices: Prices) -> dict[str, float]:
    """What turning CallDetails on adds every month, whatever the traffic."""
    alarms = [
        r for r in template.resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r.get("Condition") == "CallDetailsOn"
    ]  # fmt: skip
    return {
        "idle SQS polling (1 mapping)": (
            IDLE_SQS_RECEIVES_PER_SECOND * SECONDS_PER_MONTH * prices.sqs_per_million / 1e6
        ),
        f"alarms ({len(alarms)})": len(alarms) * prices.alarm_metric_per_month,
        "custom metrics (CallDetailsWritten, every hour)": prices.metric_per_month,
    }


def _memory_mb(template: Template, function: str) -> int:
    properties = template.sam["Resources"][function]["Properties"]
    return int(properties.get("MemorySize", template.sam["Globals"]["Function"]["MemorySize"]))


def report(counts: Counts, template: Template) -> str:
    lines = bill(counts, template, US_EAST_1)
    fixed = monthly(template, US_EAST_1)
    requests = ", ".join(
        f"{n / ATTEMPTS:.3g} {op}" for op, n in sorted(counts.function.requests.items())
    )
    window = ", ".join(f"{n / ATTEMPTS:.3g} {op}" for op, n in sorted(counts.window.calls.items()))
    return "\n".join(
        [
            "## Call details: cost per attempt (CallDetails on)",
            "",
            f"{results.measured_on()} {ATTEMPTS:,} final attempts stored by the call-status "
            f"processor, then through the ledger stream to CallDetailsQueue, the call details "
            f"function ({counts.invocations} invocations of {BATCH} records, "
            f"{counts.exotel_requests} requests to the simulated Call details API) and the "
            f"stream's windows over the {counts.written:,} attempts it gave details. Per attempt: "
            f"{counts.sends:.3g} sqs.SendMessageBatch from the stream; the function {requests} "
            f"({counts.function.read_units / ATTEMPTS:.3g} read units, "
            f"{counts.function.table_write_units / ATTEMPTS:.3g} table and "
            f"{counts.function.index_write_units / ATTEMPTS:.3g} index write units: each "
            f"attempt's details and each request's turn), "
            f"{counts.function_logs / ATTEMPTS:.0f} log bytes; "
            f"the stream windows {window}. Lambda priced at {ASSUMED_MS_PER_AWS_CALL:.0f} ms per "
            f"AWS call and {ASSUMED_EXOTEL_MS:.0f} ms per request to Exotel "
            f"({_memory_mb(template, FUNCTION)} MB arm64); us-east-1 list prices as of "
            f"{PRICES_AS_OF}.",
            "",
            "| line | USD per million attempts |",
            "| --- | ---: |",
            *[f"| {name} | {usd:.2f} |" for name, usd in lines.items()],
            f"| **all** | **{sum(lines.values()):.2f}** |",
            "",
            "Every month, whatever the traffic, CallDetails on adds USD "
            f"{sum(fixed.values()):.2f}: "
            + " + ".join(f"{name} {usd:.2f}" for name, usd in fixed.items())
            + ". Exotel's limit, not AWS's, bounds the rate: at 30 requests a minute of "
            f"{BATCH} call SIDs an account's details come at most 3,000 a minute; a turn waited "
            "for inside the function is billed (2 s at most a request, 2 functions at once).",
        ]
    )


def recordings_report(counts: RecordingCounts, template: Template) -> str:
    lines = recordings_bill(counts, template, US_EAST_1)
    mean = counts.bytes / RECORDED
    stored = 1e6 * mean / 1024**3 * US_EAST_1.s3_per_gb_month
    fixed = (
        IDLE_SQS_RECEIVES_PER_SECOND * SECONDS_PER_MONTH * US_EAST_1.sqs_per_million / 1e6
        + US_EAST_1.alarm_metric_per_month
    )
    requests = ", ".join(
        f"{n / RECORDED:.3g} {op}" for op, n in sorted(counts.function.calls.items())
    )
    return "\n".join(
        [
            "",
            f"Keeping recordings (KeepRecordings on): {RECORDED} recorded attempts through the "
            f"ledger stream to RecordingQueue and the recording function ({counts.invocations} "
            f"invocations, {counts.exotel_requests} requests for fresh links), each recording "
            f"{mean / 1024:.0f} KiB ({mean / RECORDING_BYTES_PER_SECOND:.0f} s of call at 16 "
            "kbit/s) streamed from the simulated host. "
            f"Per recording: {requests}. Lambda priced as above plus the download at "
            f"{ASSUMED_DOWNLOAD_BYTES_PER_SECOND / 1024**2:.0f} MiB/s (an assumption).",
            "",
            "| line | USD per million recordings kept |",
            "| --- | ---: |",
            *[f"| {name} | {usd:.2f} |" for name, usd in lines.items()],
            f"| **all** | **{sum(lines.values()):.2f}** |",
            "",
            f"Stored, a million such recordings cost USD {stored:.2f} a month in S3 Standard "
            "(`RecordingRetentionDays`, 90 by default: three months); the queue's idle polling "
            f"and its dead-letter alarm add USD {fixed:.2f} a month. Each copy is a multipart "
            "upload (3 requests): one PutObject for a recording under a part's size would take "
            "two thirds off the S3 line.",
        ]
    )


def main() -> None:
    counts = measure()
    template = Template.load()
    results.append(
        report(counts, template) + "\n" + recordings_report(measure_recordings(), template)
    )


if __name__ == "__main__":
    main()
