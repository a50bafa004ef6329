"""The bill AWS would send for template.yaml as deployed: every billable line, per webhook at a
load point, per month kept, and per month whatever the traffic (docs/benchmarks.md, "Cost").

Three inputs, and nothing assumed that one of them can say:
- what running the code counted per callback (bench/costs.py: requests, DynamoDB units by its
  sizing rules, log and metrics bytes, stream records, metric series, the handlers' CPU time);
- the template's own settings (`Deployed.of`): batch sizes and windows, memory, log format and
  level, tracing, the access log's format, alarms, keys, secrets, log retention;
- a load point: callbacks a second, campaigns running at once and the campaigns' mix, from
  which batch fill, stream invocations and X-Ray's sampling follow.
Prices are per region (bench/prices.py). Free tiers are ignored; data transfer in is free and
out is a response of a few hundred bytes (not priced).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from bench.prices import ASSUMED_MS_PER_AWS_CALL, Prices
from localaws.template import Template

# Lambda gives a function one vCPU at 1,769 MB and a share in proportion below it.
MB_PER_VCPU = 1769
# DynamoDB streams have a shard per table partition; an on-demand table starts with capacity
# for 4,000 writes a second, 4 partitions. Lambda polls each shard 4 times a second.
STREAM_SHARDS = 4
STREAM_POLLS_PER_SECOND = 4
# X-Ray's default sampling rule: the first request each second, then 5% of the rest.
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_RATE = 0.05
# Lambda keeps five long-polling receives open on each SQS event source mapping, each waiting
# up to 20 seconds: an idle mapping makes about 5 / 20 s receives (AWS does not publish it).
IDLE_SQS_RECEIVES_PER_SECOND = 5 / 20
# Lambda's START, END and REPORT lines when SystemLogLevel lets them through (REPORT most).
PLATFORM_LINE_BYTES = 340
SECONDS_PER_MONTH = 30 * 24 * 3600
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
RECEIVER = "ReceiverFunction"
STREAM = "LedgerStreamFunction"
ANALYTICS_STREAM = "AnalyticsStreamFunction"  # the stream's second consumer: the dataset


@dataclass(frozen=True)
class Mapping:
    """An event source mapping's batching, as the template sets it."""

    batch_size: int
    window_seconds: float
    tumbling_seconds: float = 0


@dataclass(frozen=True)
class Deployed:
    """What the template turns on that the bill depends on."""

    memory_mb: dict[str, int]  # per function
    queues: dict[str, Mapping]  # per SQS-fed function
    stream: Mapping  # the ledger stream's
    analytics_stream: Mapping
    tracing: str  # the Tracing parameter's value
    system_log_level: str
    access_log_bytes: int  # one request's line, with CloudWatch's per-event overhead
    alarm_metrics: int  # what alarms bill: each metric an alarm reads
    dashboards: int
    kms_keys: int
    secrets: int
    log_retention_days: int
    secret_cache_seconds: int  # how often a warm receiver reads the webhook secret
    report_retention_days: int
    function_url_alarm_metrics: int  # what Ingress FunctionUrl's own alarms read
    ingress: str = "HttpApi"
    analytics_buffer_seconds: int = 60  # Firehose writes an object this often while rows come
    silence_check_minutes: int = 5  # the silence watch's schedule (a Query or two a run)

    @classmethod
    def of(cls, template: Template, overhead: int) -> Deployed:
        sam, resources = template.sam, template.resources
        function_globals = sam["Globals"]["Function"]
        memory: dict[str, int] = {}
        queues: dict[str, Mapping] = {}
        streams: dict[str, Mapping] = {}
        for name, resource in sam["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            properties = resource["Properties"]
            memory[name] = int(properties.get("MemorySize", function_globals["MemorySize"]))
            for event in properties.get("Events", {}).values():
                settings = event["Properties"]
                if event["Type"] == "SQS" and "Condition" not in resource:  # the defaults'
                    queues[name] = Mapping(
                        int(settings.get("BatchSize", 10)),
                        float(settings.get("MaximumBatchingWindowInSeconds", 0)),
                    )
                elif event["Type"] == "DynamoDB":
                    streams[name] = Mapping(
                        int(settings["BatchSize"]),
                        float(settings.get("MaximumBatchingWindowInSeconds", 0)),
                        float(settings.get("TumblingWindowInSeconds", 0)),
                    )
        if {STREAM, ANALYTICS_STREAM} - set(streams):
            raise ValueError("the template lacks a stream mapping of the ledger or the dataset")
        line = resources["WebhookApi"]["Properties"]["AccessLogSettings"]["Format"]
        for variable, value in sorted(ACCESS_LOG_VALUES.items(), key=lambda v: -len(v[0])):
            line = line.replace(variable, value)
        if "$context" in line:
            raise ValueError(f"an access log variable without a typical value: {line}")
        # what the defaults create: a resource under a condition (sweeps, an alarm e-mail, the
        # function URL's alarm) is left out
        created = {name: r for name, r in resources.items() if "Condition" not in r}
        alarms = [r["Properties"] for r in created.values() if r["Type"] == _ALARM]
        return cls(
            memory_mb=memory,
            queues=queues,
            stream=streams[STREAM],
            analytics_stream=streams[ANALYTICS_STREAM],
            tracing=_default(template, function_globals["Tracing"]),
            system_log_level=str(function_globals["LoggingConfig"]["SystemLogLevel"]),
            access_log_bytes=len(line) + overhead,
            alarm_metrics=sum(_metrics_read(alarm) for alarm in alarms),
            dashboards=_count(created, "AWS::CloudWatch::Dashboard"),
            kms_keys=_count(created, "AWS::KMS::Key"),
            secrets=_count(created, "AWS::SecretsManager::Secret"),
            secret_cache_seconds=int(template.parameter("SecretCacheSeconds")["Default"]),
            report_retention_days=int(template.parameter("ReportRetentionDays")["Default"]),
            function_url_alarm_metrics=sum(
                _metrics_read(r["Properties"])
                for r in resources.values()
                if r["Type"] == _ALARM and r.get("Condition") == "WebhooksOnFunctionUrl"
            ),
            log_retention_days=int(template.parameter("LogRetentionDays")["Default"]),
            ingress=_default(template, {"Ref": "Ingress"}),
            analytics_buffer_seconds=int(template.parameter("AnalyticsBufferSeconds")["Default"]),
            silence_check_minutes=int(template.parameter("SilenceCheckEveryMinutes")["Default"]),
        )

    def memory_gb(self, function: str) -> float:
        return self.memory_mb[function] / 1024

    def vcpu(self, function: str) -> float:
        return min(1.0, self.memory_mb[function] / MB_PER_VCPU)


_ALARM = "AWS::CloudWatch::Alarm"


def _default(template: Template, value: Any) -> str:  # noqa: ANN401
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(template.parameter(value["Ref"])["Default"])
    return str(value)


def _count(resources: dict[str, Any], kind: str) -> int:
    return sum(1 for resource in resources.values() if resource["Type"] == kind)


def _metrics_read(alarm: dict[str, Any]) -> int:
    """CloudWatch bills an alarm per metric it reads (a metric math alarm: each MetricStat)."""
    if "Metrics" in alarm:
        return sum(1 for query in alarm["Metrics"] if "MetricStat" in query)
    return 1


@dataclass(frozen=True)
class Counted:
    """What one callback cost where it went, counted by running the code (bench/costs.py)."""

    function: str  # the processor that stored it
    aws_calls: float  # its requests to AWS (each priced at ASSUMED_MS_PER_AWS_CALL)
    cpu_ms: float  # the processor's own CPU per record, on one vCPU
    read_units: float
    write_units: float
    log_bytes: float
    emf_bytes: int  # one invocation's metrics document
    event_entries: int  # EventBridge entries, its own and its stream record's
    queue_sends: int  # messages it sent (the report request)
    stream_records: float  # items its write changed
    counter_write_units: float  # its stream window's counter write, alone in the window
    stream_log_bytes: float  # what its window (an invocation) logged
    dataset_bytes: float = 0  # the analytics rows its stream records made
    archived_bytes: float = 0  # its events' bytes the bus's archive keeps


@dataclass(frozen=True)
class Received:
    """One accepted webhook in the receiver, counted by running it."""

    aws_calls: int
    cpu_ms: float
    log_bytes: int
    emf_bytes: int


@dataclass(frozen=True)
class LoadPoint:
    name: str
    callbacks_per_second: float
    campaigns: int  # running at once, each with its share of the callbacks
    attempts_per_number: float = 2.2  # call-status callbacks per call-schedule callback

    def queue_rate(self, function: str) -> float:
        """Callbacks a second into this processor's queue."""
        per_number = self.attempts_per_number + 1
        share = {
            "CallStatusProcessorFunction": self.attempts_per_number / per_number,
            "CallScheduleProcessorFunction": 1 / per_number,
        }.get(function, 0.0)
        return self.callbacks_per_second * share


SUSTAINED = LoadPoint("sustained: 500 callbacks/s across 25 campaigns", 500, 25)
ONE_CAMPAIGN = LoadPoint("one campaign at 20 callbacks/s", 20, 1)
LOAD_POINTS = (SUSTAINED, ONE_CAMPAIGN)


def records_per_batch(mapping: Mapping, rate: float) -> float:
    """How full an SQS batch is: the poller gathers for the batching window (or hands over what
    one receive finds), up to the batch size; at least the one record that woke it."""
    gathered = rate * mapping.window_seconds if mapping.window_seconds else rate / 20
    return min(float(mapping.batch_size), max(1.0, gathered))


@dataclass(frozen=True)
class StreamShare:
    """The ledger stream's invocations and counter writes, per record on the table's stream."""

    invocations: float
    counter_writes: float
    records_per_invocation: float


def stream_share(mapping: Mapping, records_per_second: float, campaigns: int) -> StreamShare:
    """Per shard, Lambda gathers for the batching window (at least a poll's quarter second),
    and closes each tumbling window with one more invocation; each invocation writes one
    counter per campaign among its records (campaigns spread over every shard)."""
    per_shard = records_per_second / STREAM_SHARDS
    gather = max(mapping.window_seconds, 1 / STREAM_POLLS_PER_SECOND)
    batch = min(float(mapping.batch_size), max(1.0, per_shard * gather))
    window_ends = min(per_shard, 1 / mapping.tumbling_seconds) if mapping.tumbling_seconds else 0
    distinct = campaigns * (1 - (1 - 1 / campaigns) ** batch)
    return StreamShare(
        invocations=1 / batch + window_ends / per_shard,
        counter_writes=distinct / batch,
        records_per_invocation=batch,
    )


def traced_share(invocations_per_second: float) -> float:
    """X-Ray's default rule: the reservoir's one a second, then 5% of the rest."""
    rate = invocations_per_second
    reservoir = min(rate, XRAY_RESERVOIR_PER_SECOND)
    return (reservoir + XRAY_RATE * max(0.0, rate - XRAY_RESERVOIR_PER_SECOND)) / rate


@dataclass
class Bill:
    """USD per million webhooks of one case, line by line."""

    lines: dict[str, float] = field(default_factory=dict)
    log_bytes: float = 0  # ingested into CloudWatch Logs per webhook (what retention stores)

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def lambda_usd(prices: Prices, gb: float, calls: float, cpu_ms: float) -> float:
    """One invocation's request and billed time: AWS calls at ASSUMED_MS_PER_AWS_CALL each plus
    the handler's CPU, 1 ms at least."""
    seconds = max(1.0, calls * ASSUMED_MS_PER_AWS_CALL + cpu_ms) / 1000
    return prices.lambda_per_million / 1e6 + seconds * gb * prices.lambda_arm_per_gb_second


def per_webhook(
    received: Received,
    counted: Counted,
    load: LoadPoint,
    deployed: Deployed,
    prices: Prices,
) -> Bill:
    """What a million webhooks of this case cost at this load point, each line in USD."""
    per_byte = prices.logs_ingested_per_gb / 1024**3 * 1e6
    million = 1e6
    platform = 0 if deployed.system_log_level in {"WARN", "ERROR", "FATAL"} else 1
    batch = records_per_batch(deployed.queues[counted.function], load.queue_rate(counted.function))
    share = stream_share(deployed.stream, load.callbacks_per_second, load.campaigns)
    receiver_cpu = received.cpu_ms / deployed.vcpu(RECEIVER)
    processor_cpu = counted.cpu_ms / deployed.vcpu(counted.function)
    bill = Bill()
    lines = bill.lines
    lines["API Gateway"] = prices.http_api_per_million if deployed.ingress == "HttpApi" else 0.0
    lines["receiver Lambda"] = million * lambda_usd(
        prices, deployed.memory_gb(RECEIVER), received.aws_calls, receiver_cpu
    )
    lines["receiver logs"] = (received.log_bytes + received.emf_bytes) * per_byte
    lines["API access log"] = (
        deployed.access_log_bytes * per_byte if deployed.ingress == "HttpApi" else 0.0
    )
    lines["SQS"] = (1 + counted.queue_sends + 2 / batch) * prices.sqs_per_million
    # a batch's invocation: its request once, each record's calls and CPU
    processor_seconds = (counted.aws_calls * ASSUMED_MS_PER_AWS_CALL + processor_cpu) / 1000
    lines["processor Lambda"] = prices.lambda_per_million / batch + million * (
        processor_seconds * deployed.memory_gb(counted.function) * prices.lambda_arm_per_gb_second
    )
    lines["processor logs"] = (counted.log_bytes + counted.emf_bytes / batch) * per_byte
    lines["DynamoDB"] = (
        counted.read_units * prices.dynamodb_read_per_million
        + counted.write_units * prices.dynamodb_write_per_million
    )
    lines["EventBridge"] = (
        counted.event_entries * prices.eventbridge_per_million
        + counted.archived_bytes * 1e6 / 1024**3 * prices.eventbridge_archive_per_gb
    )
    stream_invocations = counted.stream_records * share.invocations
    lines["ledger stream"] = stream_usd(counted, share, deployed, prices)
    lines["analytics dataset"] = dataset_usd(counted, load, deployed, prices)
    invocations = 1 + 1 / batch + stream_invocations
    bill.log_bytes = (
        received.log_bytes
        + received.emf_bytes
        + (deployed.access_log_bytes if deployed.ingress == "HttpApi" else 0)
        + counted.log_bytes
        + counted.emf_bytes / batch
        + counted.stream_log_bytes * share.invocations
    )
    lines["platform lines"] = platform * invocations * PLATFORM_LINE_BYTES * per_byte
    traces = 0.0
    if deployed.tracing == "Active":  # the receiver's traces (its queue's processor joins
        # them) and the stream's own
        traces = traced_share(load.callbacks_per_second) + stream_invocations * traced_share(
            load.callbacks_per_second * share.invocations
        )
    lines["X-Ray"] = traces * prices.xray_per_million_traces
    return bill


def stream_usd(counted: Counted, share: StreamShare, deployed: Deployed, prices: Prices) -> float:
    """Per million callbacks (or rows): the stream invocations, counter writes and lines their
    records take a share of."""
    per_byte = prices.logs_ingested_per_gb / 1024**3 * 1e6
    records = counted.stream_records
    invocations = records * share.invocations
    counter_writes = records * share.counter_writes if counted.counter_write_units else 0.0
    seconds = (
        counter_writes * ASSUMED_MS_PER_AWS_CALL / 1000
        + invocations * 0.001  # the least an invocation is billed
    )
    return (
        invocations * prices.lambda_per_million
        + 1e6 * seconds * deployed.memory_gb(STREAM) * prices.lambda_arm_per_gb_second
        + counter_writes * counted.counter_write_units * prices.dynamodb_write_per_million
        # measured in a window of its own: an invocation's lines, shared by its records
        + counted.stream_log_bytes * share.invocations * per_byte
    )


FIREHOSE_STEP = 5 * 1024  # Firehose bills each record in 5 KB steps


def dataset_usd(counted: Counted, load: LoadPoint, deployed: Deployed, prices: Prices) -> float:
    """Per million callbacks (or rows): the analytics rows their stream records make, read by
    the stream's second consumer and sent in one Firehose record per invocation (billed in 5 KB
    steps) with one PutRecordBatch call: its invocations, their time and the ingestion."""
    if not counted.dataset_bytes or not counted.stream_records:
        return 0.0
    share = stream_share(deployed.analytics_stream, load.callbacks_per_second, load.campaigns)
    batch = share.records_per_invocation
    row = counted.dataset_bytes / counted.stream_records
    billed = math.ceil(batch * row / FIREHOSE_STEP) * FIREHOSE_STEP / batch
    ingested = 1e6 * counted.stream_records * billed / 1024**3 * prices.firehose_per_gb
    invocations = 1e6 * counted.stream_records * share.invocations
    seconds = invocations * ASSUMED_MS_PER_AWS_CALL / 1000
    return (
        ingested
        + invocations * prices.lambda_per_million / 1e6
        + seconds * deployed.memory_gb(ANALYTICS_STREAM) * prices.lambda_arm_per_gb_second
    )


SUMMARY_RENDERS = 2  # a campaign's page is written on CampaignCompleted and CampaignReportStored


def summary_read_units(attempt_bytes: float, attempts_per_number: float) -> float:
    """Read units one number costs a summary page's render: its outcome read consistently
    (BatchGetItem, 1 unit) and its attempts' share of the calls index's pages (Query, eventually
    consistent: half a unit per 4 KB)."""
    return 1 + 0.5 * attempts_per_number * attempt_bytes / 4096


def per_report_row(
    counted: Counted,
    load: LoadPoint,
    deployed: Deployed,
    prices: Prices,
    *,
    summary_units: float = 0.0,
) -> Bill:
    """What a million rows of campaign reports cost to reconcile: the report fetcher's calls
    (its invocation is the campaign's, not the row's), DynamoDB, its lines and the stream; and,
    each number being a row, its share of the campaign's summary pages (`summary_units` a
    render, SUMMARY_RENDERS renders)."""
    per_byte = prices.logs_ingested_per_gb / 1024**3 * 1e6
    share = stream_share(deployed.stream, load.callbacks_per_second, load.campaigns)
    seconds = counted.aws_calls * ASSUMED_MS_PER_AWS_CALL / 1000
    bill = Bill(log_bytes=counted.log_bytes + counted.stream_log_bytes * share.invocations)
    bill.lines.update(
        {
            "report fetcher Lambda": 1e6
            * seconds
            * deployed.memory_gb(counted.function)
            * prices.lambda_arm_per_gb_second,
            "report fetcher logs": counted.log_bytes * per_byte,
            "DynamoDB": counted.read_units * prices.dynamodb_read_per_million
            + counted.write_units * prices.dynamodb_write_per_million,
            "ledger stream": stream_usd(counted, share, deployed, prices),
            "analytics dataset": dataset_usd(counted, load, deployed, prices),
            f"summary pages ({SUMMARY_RENDERS} renders)": SUMMARY_RENDERS
            * summary_units
            * prices.dynamodb_read_per_million,
        }
    )
    return bill


def with_settings(deployed: Deployed, *, ingress: str | None, tracing: str | None) -> Deployed:
    """The stack deployed with another Ingress or Tracing (the first brings its own alarms)."""
    changed = replace(
        deployed, ingress=ingress or deployed.ingress, tracing=tracing or deployed.tracing
    )
    if changed.ingress == "FunctionUrl" and deployed.ingress != "FunctionUrl":
        changed = replace(
            changed, alarm_metrics=deployed.alarm_metrics + deployed.function_url_alarm_metrics
        )
    return changed


# ------------------------------------------------------------------------- per month
def fixed_monthly(
    deployed: Deployed, prices: Prices, metric_series: int, active_hours: float
) -> dict[str, float]:
    """A month of the stack whatever its traffic: custom metrics are billed for the hours they
    have data (`active_hours` of the month's 720), the rest for every hour."""
    return {
        f"custom metrics ({metric_series} series, {active_hours:.0f} h with data)": (
            metric_series * prices.metric_per_month * active_hours / 720
        ),
        f"alarms ({deployed.alarm_metrics} metrics read)": (
            deployed.alarm_metrics * prices.alarm_metric_per_month
        ),
        f"dashboards ({deployed.dashboards})": deployed.dashboards * prices.dashboard_per_month,
        f"KMS keys ({deployed.kms_keys})": deployed.kms_keys * prices.kms_key_per_month,
        f"secrets ({deployed.secrets})": deployed.secrets * prices.secret_per_month,
        "webhook secret reads (a warm receiver)": (
            active_hours
            * 3600
            / deployed.secret_cache_seconds
            * prices.secrets_per_10k_requests
            / 1e4
        ),
        "analytics objects (Firehose's S3 writes while rows come)": (
            active_hours
            * 3600
            / max(deployed.analytics_buffer_seconds, 1)
            * prices.s3_put_per_thousand
            / 1000
        ),
        f"silence watch (every {deployed.silence_check_minutes} min)": silence_watch_monthly(
            deployed, prices
        ),
        f"idle SQS polling ({len(deployed.queues)} mappings)": (
            len(deployed.queues)
            * IDLE_SQS_RECEIVES_PER_SECOND
            * SECONDS_PER_MONTH
            * prices.sqs_per_million
            / 1e6
        ),
    }


SILENCE_WATCH_CALLS = 1  # an idle run: one Query of the campaigns heard, finding none


def silence_watch_monthly(deployed: Deployed, prices: Prices) -> float:
    """A month of the silence watch's runs when nothing is silent: each an invocation, one
    Query (0.5 read units at least) and its billed time."""
    runs = SECONDS_PER_MONTH / 60 / deployed.silence_check_minutes
    per_run = (
        lambda_usd(prices, deployed.memory_gb("SilenceWatchFunction"), SILENCE_WATCH_CALLS, 0.0)
        + 0.5 * prices.dynamodb_read_per_million / 1e6
    )
    return runs * per_run


_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def positive_number(name: str, text: str) -> float:
    """A command's number argument, or a one-line error naming it."""
    if not _NUMBER.match(text.strip()) or float(text) <= 0 or math.isinf(float(text)):
        raise ValueError(f"{name} must be a positive number, not {text!r}")
    return float(text)
