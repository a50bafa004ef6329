"""Read API Lambda: GET /campaigns/... answered from the campaign table."""

from exotel_webhooks.aws import dynamodb_client
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import ReadApiSettings
from exotel_webhooks.views.campaigns import CampaignViews
from exotel_webhooks.views.http import read_api_handler

settings = ReadApiSettings.from_environment()
handler = read_api_handler(
    CampaignViews(CampaignTable(dynamodb_client(), settings.table_name), settings.rules)
)
