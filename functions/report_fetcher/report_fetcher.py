"""Report fetcher Lambda: a finished campaign's report from its report request into S3."""

from exotel_webhooks.aws import dynamodb_client, events_client, s3_transfer_client, sqs_client
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.reports.fetcher import ReportFetcher, report_request_handler
from exotel_webhooks.reports.safe_http import FetchPolicy
from exotel_webhooks.settings import ReportFetcherSettings

settings = ReportFetcherSettings.from_environment()
fetcher = ReportFetcher(
    table=CampaignTable(dynamodb_client(), settings.table_name),
    s3=s3_transfer_client(),
    bucket=settings.report_bucket,
    policy=FetchPolicy(settings.allowed_hosts, settings.max_bytes, settings.allow_loopback),
    rules=settings.rules,
    retention=settings.retention,
    events=CampaignEvents(events_client(), settings.event_bus_name)
    if settings.event_bus_name
    else None,
)
handler = report_request_handler(fetcher, sqs_client(), settings.report_queue_url)
