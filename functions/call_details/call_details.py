"""Call details Lambda: each final attempt's cost, duration and recording, from Exotel's Call
details API."""

from exotel_webhooks.aws import dynamodb_client, secret_json, secretsmanager_client
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import SweepSettings
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi
from exotel_webhooks.sweep.details_handler import call_details_handler
from exotel_webhooks.sweep.enrichment import CallDetailsEnricher
from exotel_webhooks.sweep.pacing import SharedPacer

settings = SweepSettings.from_environment()
table = CampaignTable(dynamodb_client(), settings.table_name)
credentials = ApiCredentials.from_secret(
    secret_json(secretsmanager_client(), settings.api_secret_arn)
)
api = CampaignApi(
    settings.api_host,
    credentials,
    settings.rules,
    allow_loopback=settings.allow_loopback,
    pacer=SharedPacer(table, credentials.account_sid, settings.requests_per_minute),
)
handler = call_details_handler(CallDetailsEnricher(table, api))
