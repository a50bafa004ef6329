"""Read API Lambda: GET /campaigns/... answered from the campaign table (and the summary pages
in the report bucket)."""

from exotel_webhooks.aws import dynamodb_client, s3_client
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import ReadApiSettings
from exotel_webhooks.views.campaigns import CampaignViews
from exotel_webhooks.views.http import read_api_handler
from exotel_webhooks.views.pages import SummaryPages, presigner

settings = ReadApiSettings.from_environment()
s3 = s3_client()
views = CampaignViews(
    CampaignTable(dynamodb_client(), settings.table_name),
    settings.rules,
    recording_url=presigner(s3, settings.report_bucket) if settings.report_bucket else None,
)
handler = read_api_handler(
    views, SummaryPages(views, s3, settings.report_bucket) if settings.report_bucket else None
)
