"""Wiring shared by the three processor Lambdas: the ledger from settings, clients made once."""

from __future__ import annotations

from datetime import timedelta

from exotel_webhooks.aws import dynamodb_client, events_client, sqs_client
from exotel_webhooks.campaign_table import CampaignTable
from exotel_webhooks.ledger import CampaignLedger
from exotel_webhooks.notifications import CampaignEvents, ReportRequests
from exotel_webhooks.settings import ProcessorSettings


def ledger_from_environment() -> CampaignLedger:
    settings = ProcessorSettings.from_environment()
    return CampaignLedger(
        table=CampaignTable(dynamodb_client(), settings.table_name),
        events=CampaignEvents(events_client(), settings.event_bus_name)
        if settings.event_bus_name
        else None,
        reports=ReportRequests(sqs_client(), settings.report_queue_url)
        if settings.report_queue_url
        else None,
        retention=timedelta(days=settings.data_retention_days)
        if settings.data_retention_days
        else None,
    )
