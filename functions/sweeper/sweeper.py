"""Sweep Lambda: campaigns completed from Exotel's Campaign API when their callbacks were lost."""

from datetime import timedelta

from exotel_webhooks.aws import (
    dynamodb_client,
    events_client,
    secret_json,
    secretsmanager_client,
)
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.settings import SweepSettings
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi
from exotel_webhooks.sweep.pacing import SharedPacer
from exotel_webhooks.sweep.scheduled import sweep_handler

settings = SweepSettings.from_environment()
table = CampaignTable(dynamodb_client(), settings.table_name)
credentials = ApiCredentials.from_secret(
    secret_json(secretsmanager_client(), settings.api_secret_arn)
)
handler = sweep_handler(
    table,
    CampaignApi(
        settings.api_host,
        credentials,
        settings.rules,
        allow_loopback=settings.allow_loopback,
        pacer=SharedPacer(table, credentials.account_sid, settings.requests_per_minute),
    ),
    timedelta(minutes=settings.quiet_minutes),
    settings.retention,
    events=(
        CampaignEvents(events_client(), settings.event_bus_name)
        if settings.event_bus_name
        else None
    ),
)
