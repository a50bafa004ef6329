"""Campaign status processor Lambda: campaign statuses into the campaign table; report requests."""

from exotel_webhooks.aws import dynamodb_client, sqs_client
from exotel_webhooks.batches import sqs_handler
from exotel_webhooks.ledger.recording import CampaignLedger
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.messages import CampaignStatusRecord
from exotel_webhooks.notifications import ReportRequests
from exotel_webhooks.settings import ProcessorSettings
from exotel_webhooks.vocabulary import CallbackType

settings = ProcessorSettings.from_environment()
ledger = CampaignLedger(
    CampaignTable(dynamodb_client(), settings.table_name),
    reports=ReportRequests(sqs_client(), settings.report_queue_url, settings.report_delay_seconds)
    if settings.report_queue_url
    else None,
    retention=settings.retention,
)
handler = sqs_handler(
    CallbackType.CAMPAIGN_STATUS, CampaignStatusRecord, ledger.record_campaign_status
)
