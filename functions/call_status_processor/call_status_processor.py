"""Call status processor Lambda: the call-status queue into the campaign table, record by record."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from exotel_webhooks.models import CallStatusRecord
from exotel_webhooks.observability import logger
from exotel_webhooks.processors import ledger_from_environment

ledger = ledger_from_environment()
# Report every failed record, even when all fail: the queue redelivers exactly those.
processor = BatchProcessor(
    event_type=EventType.SQS, model=CallStatusRecord, raise_on_entire_batch_failure=False
)


def process_record(record: CallStatusRecord) -> None:
    logger.append_keys(event_id=record.body.event_id)
    ledger.record_attempt(record.body)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=process_record, processor=processor, context=context
    )
