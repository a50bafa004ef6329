"""What the three processor Lambdas share: the ledger from settings (clients made once per
container), and the Powertools batch handling around one ledger method."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from exotel_webhooks.aws import dynamodb_client, events_client, sqs_client
from exotel_webhooks.campaign_table import CampaignTable
from exotel_webhooks.ledger import CampaignLedger
from exotel_webhooks.notifications import CampaignEvents, ReportRequests
from exotel_webhooks.observability import logger
from exotel_webhooks.settings import ProcessorSettings

type SqsHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def ledger_from_environment() -> CampaignLedger:
    settings = ProcessorSettings.from_environment()
    return CampaignLedger(
        table=CampaignTable(dynamodb_client(), settings.table_name),
        events=CampaignEvents(events_client(), settings.event_bus_name)
        if settings.event_bus_name
        else None,
        reports=ReportRequests(
            sqs_client(), settings.report_queue_url, settings.report_delay_seconds
        )
        if settings.report_queue_url
        else None,
        retention=timedelta(days=settings.data_retention_days)
        if settings.data_retention_days
        else None,
    )


def sqs_handler[R: SqsRecordModel](
    record_model: type[R], apply: Callable[[CampaignLedger, Any], object]
) -> SqsHandler:
    """A Lambda handler that parses each SQS record into `record_model` and passes its body to
    `apply(ledger, body)`, reporting exactly the records that failed."""
    ledger = ledger_from_environment()
    # Report every failed record, even when all fail: the queue redelivers exactly those.
    processor = BatchProcessor(
        event_type=EventType.SQS, model=record_model, raise_on_entire_batch_failure=False
    )

    def process_record(record: R) -> None:  # Powertools passes it by this name
        body = record.body
        logger.append_keys(event_id=getattr(body, "event_id", None))
        apply(ledger, body)

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event,
            record_handler=process_record,
            processor=processor,
            context=context,
        )

    return handler
