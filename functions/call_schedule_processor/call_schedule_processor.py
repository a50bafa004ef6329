"""Call schedule processor Lambda: number outcomes into the campaign table; follow-up events."""

from exotel_webhooks.callbacks import CallbackType
from exotel_webhooks.ledger import CampaignLedger
from exotel_webhooks.models import CallScheduleRecord
from exotel_webhooks.processors import sqs_handler

handler = sqs_handler(
    CallbackType.CALL_SCHEDULE,
    CallScheduleRecord,
    CampaignLedger.record_number_outcome,
)
