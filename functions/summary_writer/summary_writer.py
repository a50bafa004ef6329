"""Summary Lambda: a campaign's summary page rewritten in S3 when its figures change."""

from exotel_webhooks.aws import dynamodb_client, s3_transfer_client
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.settings import SummarySettings
from exotel_webhooks.views.campaigns import CampaignViews
from exotel_webhooks.views.pages import SummaryPages, summary_page_handler

settings = SummarySettings.from_environment()
handler = summary_page_handler(
    SummaryPages(
        CampaignViews(CampaignTable(dynamodb_client(), settings.table_name), settings.rules),
        s3_transfer_client(),
        settings.report_bucket,
    )
)
