"""Ledger stream Lambda: counters and events derived from the campaign table's stream."""

from exotel_webhooks.aws import dynamodb_client, events_client
from exotel_webhooks.ledger.stream import StreamDerivation, stream_handler
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.settings import ProcessorSettings

settings = ProcessorSettings.from_environment()
derivation = StreamDerivation(
    CampaignTable(dynamodb_client(), settings.table_name),
    CampaignEvents(events_client(), settings.event_bus_name) if settings.event_bus_name else None,
)
handler = stream_handler(derivation)
