"""Logs and metrics: one logger, one metrics sink and one decorator for every handler.

Phone numbers are personal data. A line names a number by its keyed hash (`number_hash`), which
finds exactly one subscriber and, without the stack's key, none at all; free text (messages,
exceptions, which may quote a payload) is scrubbed of numbers here as a safety net.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import warnings
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

_KEEP_PREFIX = 3  # "+91": the country is useful when reading logs, the subscriber is not
_KEEP_SUFFIX = 4
# 10 to 15 digits, optionally after "+", not part of a longer word: a phone number in free text.
_PHONE_IN_TEXT = re.compile(r"(?<![\w+])\+?\d{10,15}(?!\w)")
_FREE_TEXT_KEYS = ("message", "exception", "exception_notes", "reason", "detail")
# Powertools' keys that CloudWatch already has (each event's time; the log group names the
# function; the cold start has its own line) or that no saved query or runbook step reads:
# about 450 bytes a line, more than half of what the logs cost per webhook.
_UNQUERIED_KEYS = (
    "location", "service", "cold_start", "function_name", "function_memory_size", "function_arn",
    "timestamp",
)  # fmt: skip
# On INFO lines (the millions): the level (a line without one is INFO) and the request id
# (what finds a failed invocation's other lines) are left out.
_FAILURE_ONLY_KEYS = ("level", "function_request_id")


class Metric(StrEnum):
    """Every metric the functions emit (namespace POWERTOOLS_METRICS_NAMESPACE, dimension
    `service` = the stack name, plus `callback_type` where one applies). The template's alarms
    and dashboard name these; a test checks both sides agree. Accepted webhooks have no metric
    of ours: SQS counts the messages sent to each type's queue, free."""

    WEBHOOKS_QUARANTINED = "WebhooksQuarantined"
    WEBHOOKS_UNAUTHORISED = "WebhooksUnauthorised"
    WEBHOOKS_REJECTED = "WebhooksRejected"  # 404, 405, 413
    WEBHOOKS_NOT_STORED = "WebhooksNotStored"  # 503: SQS or S3 failed, Exotel retries
    CALLBACKS_STORED = "CallbacksStored"
    DUPLICATES_IGNORED = "DuplicatesIgnored"
    OUT_OF_ORDER_IGNORED = "OutOfOrderIgnored"
    RECORDS_FAILED = "RecordsFailed"  # left on the queue for a retry (then the DLQ)
    PROCESSING_LAG = "ProcessingLag"  # API Gateway received it -> stored in DynamoDB
    REPORTS_STORED = "ReportsStored"
    REPORTS_FAILED = "ReportsFailed"  # permanent: recorded on the campaign
    REPORT_FETCH_RETRIES = "ReportFetchRetries"  # transient: retried with backoff
    REPORT_BYTES = "ReportBytes"
    REPORT_FETCH_TIME = "ReportFetchTime"
    NUMBERS_BACKFILLED = "NumbersBackfilled"
    ATTEMPTS_RECOVERED = "AttemptsRecovered"  # by sweeps: Exotel's callbacks for them were lost
    NUMBERS_RECOVERED = "NumbersRecovered"
    SWEEPS_FAILED = "SweepsFailed"  # the Campaign API refused, or stayed unavailable
    ERASED_WRITES_REFUSED = "ErasedWritesRefused"  # a callback of an erased number, not stored
    ROWS_REFUSED = "SweepRowsRefused"  # call-details rows a callback saying so would not pass
    CALL_DETAILS_WRITTEN = "CallDetailsWritten"  # attempts given their cost, duration, recording
    CALL_DETAILS_FAILED = "CallDetailsFailed"  # the Call details API refused or stayed unavailable
    CAMPAIGNS_SILENT = "CampaignsSilent"  # running campaigns whose callbacks stopped, announced


def mask_phone(number: str | None) -> str | None:
    """`+919876543210` -> `+91******3210`; short values keep only their last two characters."""
    if number is None:
        return None
    if len(number) <= _KEEP_PREFIX + _KEEP_SUFFIX:
        return "*" * max(len(number) - 2, 0) + number[-2:]
    hidden = len(number) - _KEEP_PREFIX - _KEEP_SUFFIX
    return number[:_KEEP_PREFIX] + "*" * hidden + number[-_KEEP_SUFFIX:]


def number_hash(number: str | None, key: str | None = None) -> str | None:
    """The keyed hash a log line names a number by: HMAC-SHA256 of the number as the table keys
    it (E.164 where it parses), under the stack's key (NUMBER_HASH_KEY, the stack's id), first
    16 hex digits. `make number-hash NUMBER=...` computes it for the saved query."""
    if number is None:
        return None
    secret = _number_hash_key() if key is None else key
    return hmac.new(secret.encode(), number.encode(), hashlib.sha256).hexdigest()[:16]


def _number_hash_key() -> str:
    # read at each use, not cached: a dictionary lookup, and the local stack and the tests run
    # functions of more than one deployment in one process
    key = os.environ.get("NUMBER_HASH_KEY")
    if not key:  # template.yaml sets it for every function: without it a hash finds nothing
        raise RuntimeError("NUMBER_HASH_KEY is not set")
    return key


def scrub_phone_numbers(text: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()) or "", text)


class _MaskingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        for key in _UNQUERIED_KEYS:
            log.pop(key, None)  # type: ignore[misc]
        if log.get("level") == "INFO":
            for key in _FAILURE_ONLY_KEYS:
                log.pop(key, None)  # type: ignore[misc]
        for key in _FREE_TEXT_KEYS:
            value = log.get(key)
            if isinstance(value, str):
                log[key] = scrub_phone_numbers(value)  # type: ignore[literal-required]
        return super().serialize(log)


logger = Logger(logger_formatter=_MaskingFormatter(utc=True))
metrics = Metrics()
# A handler that had nothing to count (a report already stored, say) is normal here.
warnings.filterwarnings("ignore", message="No application metrics to publish")

type LambdaHandler[R] = Callable[[dict[str, Any], LambdaContext], R]


def lambda_handler[R](handler: LambdaHandler[R]) -> LambdaHandler[R]:
    """Every function's decorator stack: fresh log keys per invocation with its request id, a
    "cold start" line with the function version, metrics flushed as EMF.

    Log keys are the thread's own (`log_keys`): in Lambda a container runs one invocation at a
    time anyway, but `make local` runs many containers in one process, on threads."""
    cold = True

    @functools.wraps(handler)
    def logged(event: dict[str, Any], context: LambdaContext) -> R:
        nonlocal cold
        logger.thread_safe_clear_keys()
        log_keys(function_request_id=context.aws_request_id)
        if cold:
            cold = False
            logger.info("cold start", function_version=context.function_version)
        return handler(event, context)

    return metrics.log_metrics(logged)


def log_keys(**keys: object) -> None:
    """Add keys to every later line of this invocation; a key whose value is None is left out."""
    logger.thread_safe_append_keys(**keys)


def forget_log_keys(*names: str) -> None:
    logger.thread_safe_remove_keys(names)


def count(metric: Metric, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=metric, unit=unit, value=value)
