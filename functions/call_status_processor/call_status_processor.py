"""Call status processor Lambda: call attempts into the campaign table, exactly once."""

from exotel_webhooks.callbacks import CallbackType
from exotel_webhooks.ledger import CampaignLedger
from exotel_webhooks.models import CallStatusRecord
from exotel_webhooks.processors import sqs_handler

handler = sqs_handler(
    CallbackType.CALL_STATUS,
    CallStatusRecord,
    CampaignLedger.record_attempt,
)
