"""Report fetcher Lambda: one report request at a time, from the report queue.

A failure that may pass (timeout, 5xx, 429, AWS trouble) is retried by the queue with
exponential backoff (1, 2, 4, 8 minutes: the message's visibility), then the DLQ; permanent
failures are recorded on the campaign and the message is done.
"""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from exotel_webhooks.aws import dynamodb_client, events_client, s3_transfer_client, sqs_client
from exotel_webhooks.campaign_table import CampaignTable
from exotel_webhooks.models import ReportRequestRecord
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.observability import Metric, count, lambda_handler, logger
from exotel_webhooks.processors import LoggedBatchProcessor
from exotel_webhooks.report_fetch import FetchPolicy
from exotel_webhooks.reports import ReportFetcher
from exotel_webhooks.settings import ReportFetcherSettings

settings = ReportFetcherSettings.from_environment()
fetcher = ReportFetcher(
    table=CampaignTable(dynamodb_client(), settings.table_name),
    s3=s3_transfer_client(),
    bucket=settings.report_bucket,
    policy=FetchPolicy(settings.allowed_hosts, settings.max_bytes, settings.allow_loopback),
    rules=settings.rules,
    retention=timedelta(days=settings.data_retention_days)
    if settings.data_retention_days
    else None,
    events=CampaignEvents(events_client(), settings.event_bus_name)
    if settings.event_bus_name
    else None,
)
sqs = sqs_client()
processor = LoggedBatchProcessor(ReportRequestRecord)


def retry_later(record: ReportRequestRecord) -> None:
    receives = int(record.attributes.ApproximateReceiveCount)
    delay = min(60 * 2 ** (receives - 1), 900)
    try:
        if settings.report_queue_url:
            sqs.change_message_visibility(
                QueueUrl=settings.report_queue_url,
                ReceiptHandle=record.receiptHandle,
                VisibilityTimeout=delay,
            )
    except (BotoCoreError, ClientError):  # the queue's own visibility timeout applies instead
        logger.exception("could not delay the retry")
    logger.warning("report fetch will be retried", retry_in_seconds=delay, receives=receives)
    count(Metric.REPORT_FETCH_RETRIES)


def process_record(record: ReportRequestRecord) -> None:  # Powertools passes it by this name
    logger.append_keys(event_id=record.body.event_id, campaign_sid=record.body.campaign_sid)
    try:
        fetcher.handle(record.body)
    except Exception:
        retry_later(record)
        raise


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=process_record, processor=processor, context=context
    )
