"""Silence watch Lambda: running campaigns whose callbacks stopped, announced once each."""

from datetime import timedelta

from exotel_webhooks.aws import dynamodb_client, events_client
from exotel_webhooks.ledger.silence import silence_handler
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.settings import SilenceSettings

settings = SilenceSettings.from_environment()
handler = silence_handler(
    CampaignTable(dynamodb_client(), settings.table_name),
    timedelta(minutes=settings.silent_minutes),
    CampaignEvents(events_client(), settings.event_bus_name) if settings.event_bus_name else None,
)
