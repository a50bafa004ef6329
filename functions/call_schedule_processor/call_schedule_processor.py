"""Call schedule processor Lambda: number outcomes into the campaign table."""

from exotel_webhooks.aws import dynamodb_client
from exotel_webhooks.batches import sqs_handler
from exotel_webhooks.ledger.recording import CampaignLedger
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.messages import CallScheduleRecord
from exotel_webhooks.settings import ProcessorSettings
from exotel_webhooks.vocabulary import CallbackType

settings = ProcessorSettings.from_environment()
ledger = CampaignLedger(
    CampaignTable(dynamodb_client(), settings.table_name), retention=settings.retention
)
handler = sqs_handler(CallbackType.CALL_SCHEDULE, CallScheduleRecord, ledger.record_number_outcome)
