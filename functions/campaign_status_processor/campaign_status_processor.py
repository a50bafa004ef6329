"""Campaign status processor Lambda: campaign statuses into the campaign table; report requests."""

from exotel_webhooks.callbacks import CallbackType
from exotel_webhooks.ledger import CampaignLedger
from exotel_webhooks.models import CampaignStatusRecord
from exotel_webhooks.processors import sqs_handler

handler = sqs_handler(
    CallbackType.CAMPAIGN_STATUS,
    CampaignStatusRecord,
    CampaignLedger.record_campaign_status,
)
