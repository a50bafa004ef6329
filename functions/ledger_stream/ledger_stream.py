"""Ledger stream Lambda: counters, follow-up events and call details requests derived from the
campaign table's stream."""

from datetime import timedelta

from exotel_webhooks.aws import dynamodb_client, events_client, sqs_client
from exotel_webhooks.ledger.stream import StreamDerivation, stream_handler
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents, DetailsQueue
from exotel_webhooks.settings import ProcessorSettings

settings = ProcessorSettings.from_environment()
derivation = StreamDerivation(
    CampaignTable(dynamodb_client(), settings.table_name),
    CampaignEvents(events_client(), settings.event_bus_name) if settings.event_bus_name else None,
    details=(
        DetailsQueue(
            sqs_client(),
            settings.call_details_queue_url,
            timedelta(minutes=settings.call_details_after_minutes),
        )
        if settings.call_details_queue_url
        else None
    ),
    # recordings kept: at once (the call details have just said one exists)
    recordings=(
        DetailsQueue(sqs_client(), settings.recording_queue_url, timedelta(0))
        if settings.recording_queue_url
        else None
    ),
)
handler = stream_handler(derivation)
