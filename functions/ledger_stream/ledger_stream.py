"""Ledger stream Lambda: counters and events derived from the campaign table's stream."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from exotel_webhooks.aws import dynamodb_client, events_client
from exotel_webhooks.campaign_table import CampaignTable
from exotel_webhooks.ledger_stream import StreamDerivation, Window
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.observability import lambda_handler
from exotel_webhooks.settings import ProcessorSettings

settings = ProcessorSettings.from_environment()
derivation = StreamDerivation(
    CampaignTable(dynamodb_client(), settings.table_name),
    CampaignEvents(events_client(), settings.event_bus_name) if settings.event_bus_name else None,
)


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return derivation.handle(Window.of(event))
