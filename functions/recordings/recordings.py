"""Recording Lambda: each recorded attempt's recording copied into S3 from a fresh link."""

from exotel_webhooks.aws import dynamodb_client, s3_client, secret_json, secretsmanager_client
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.reports.safe_http import FetchPolicy
from exotel_webhooks.settings import RecordingSettings
from exotel_webhooks.sweep.campaign_api import ApiCredentials, CampaignApi
from exotel_webhooks.sweep.pacing import SharedPacer
from exotel_webhooks.sweep.recordings import RECORDING_SECONDS, RecordingKeeper, recording_handler

settings = RecordingSettings.from_environment()
sweep = settings.sweep
table = CampaignTable(dynamodb_client(), sweep.table_name)
credentials = ApiCredentials.from_secret(secret_json(secretsmanager_client(), sweep.api_secret_arn))
api = CampaignApi(
    sweep.api_host,
    credentials,
    sweep.rules,
    allow_loopback=sweep.allow_loopback,
    pacer=SharedPacer(table, credentials.account_sid, sweep.requests_per_minute),
)
policy = FetchPolicy(
    allowed_hosts=settings.allowed_hosts,
    max_bytes=settings.max_bytes,
    allow_loopback=settings.allow_loopback,
    total_seconds=RECORDING_SECONDS,
)
handler = recording_handler(
    RecordingKeeper(
        table, api, credentials, s3=s3_client(), bucket=settings.report_bucket, policy=policy
    )
)
