"""Consuming an SQS queue in batches: every failed record reported (the queue redelivers exactly
those) and logged once; the processors' handler around one ledger method."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    ExceptionInfo,
    FailureResponse,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from exotel_webhooks.ledger.recording import Outcome
from exotel_webhooks.messages import QueuedCallback
from exotel_webhooks.observability import (
    Metric,
    count,
    forget_log_keys,
    lambda_handler,
    log_keys,
    logger,
    metrics,
)
from exotel_webhooks.vocabulary import CallbackType

type SqsHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]

# Log keys that describe the record being processed; cleared when it is done.
RECORD_KEYS = ("event_id", "campaign_sid", "call_sid", "status", "receive_count")


class LoggedBatchProcessor(BatchProcessor):
    """Powertools' SQS batch processor (extended as its documentation shows: failure_handler
    overridden) that reports every failed record (all of them, even if
    the whole batch fails: the queue redelivers exactly those) in one log line with its reason
    and the record's keys, and counts it."""

    def __init__(self, model: type[SqsRecordModel]) -> None:
        super().__init__(event_type=EventType.SQS, model=model, raise_on_entire_batch_failure=False)

    def failure_handler(self, record: object, exception: ExceptionInfo) -> FailureResponse:
        # A parsed record (the model) or, if it could not be parsed, Powertools' SQSRecord
        message_id: str | None
        receives: str | None
        if isinstance(record, SqsRecordModel):
            message_id, receives = record.messageId, record.attributes.ApproximateReceiveCount
        else:
            message_id = getattr(record, "message_id", None)
            receives = getattr(
                getattr(record, "attributes", None), "approximate_receive_count", None
            )
        logger.warning(
            "record failed; it stays on the queue for a retry",
            exc_info=exception[1],
            message_id=message_id,
            receive_count=int(receives) if receives else None,
        )
        forget_log_keys(*RECORD_KEYS)
        count(Metric.RECORDS_FAILED)
        return super().failure_handler(record, exception)


_OUTCOME_METRICS = {
    Outcome.STORED: Metric.CALLBACKS_STORED,
    Outcome.DUPLICATE: Metric.DUPLICATES_IGNORED,
    Outcome.OUT_OF_ORDER: Metric.OUT_OF_ORDER_IGNORED,
    Outcome.ERASED: Metric.ERASED_WRITES_REFUSED,
}


def sqs_handler[R: SqsRecordModel](
    callback_type: CallbackType,
    record_model: type[R],
    apply: Callable[[Any], Outcome],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SqsHandler:
    """A Lambda handler that parses each SQS record into `record_model` and passes its body to
    `apply` (a ledger method), reporting exactly the records that failed."""
    processor = LoggedBatchProcessor(record_model)

    def process_record(record: R) -> None:  # Powertools passes it by this name
        queued = cast(QueuedCallback[Any], record.body)
        callback = queued.callback
        lag = clock() - queued.received_at
        log_keys(
            event_id=queued.event_id,
            campaign_sid=callback.campaign_sid,
            call_sid=getattr(callback, "call_sid", None),
            status=callback.status,
            receive_count=int(record.attributes.ApproximateReceiveCount),
        )
        outcome = apply(queued)
        count(_OUTCOME_METRICS[outcome])
        if outcome is Outcome.STORED:
            count(Metric.PROCESSING_LAG, lag.total_seconds() * 1000, MetricUnit.Milliseconds)
        forget_log_keys(*RECORD_KEYS)

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        # no callback_type key: each processor's log group holds one type (@log names it)
        metrics.add_dimension("callback_type", str(callback_type))
        return process_partial_response(
            event=event, record_handler=process_record, processor=processor, context=context
        )

    return handler
