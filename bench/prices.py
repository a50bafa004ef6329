"""AWS list prices the cost model turns measured requests, units and bytes into money with.

On-demand, after the free tier (which the model ignores), per region; PRICES_AS_OF is when they
were read. DynamoDB's are the on-demand prices after AWS's 2024-11-01 cut. ap-south-1's SQS,
EventBridge (its archive's too), point-in-time recovery, dashboard and Secrets Manager request
prices were not found in a published Mumbai table and are taken equal to us-east-1's (PITR at
storage's 1.14 ratio): check them with `aws pricing get-products` before quoting a Mumbai bill
to the cent. EventBridge's archive prices (events taken in, stored) were not read from AWS's
table here (third-party pages disagree): check them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-09-20"


@dataclass(frozen=True)
class Prices:
    region: str
    http_api_per_million: float  # API Gateway HTTP API, first 300 million a month
    lambda_per_million: float  # requests (a function URL adds nothing to them)
    lambda_arm_per_gb_second: float
    sqs_per_million: float  # standard queue; each 64 KiB of a request is one request
    dynamodb_write_per_million: float  # on-demand write request units
    dynamodb_read_per_million: float  # on-demand read request units
    dynamodb_storage_per_gb_month: float  # standard table class
    dynamodb_pitr_per_gb_month: float  # continuous backups
    eventbridge_per_million: float  # custom events, 64 KiB each (a replayed event too)
    eventbridge_archive_per_gb: float  # events an archive takes in (its storage: s3-like, below)
    eventbridge_archive_per_gb_month: float
    logs_ingested_per_gb: float  # CloudWatch Logs, standard class
    logs_stored_per_gb_month: float
    metric_per_month: float  # a custom metric series, prorated by the hour it has data
    alarm_metric_per_month: float  # standard resolution, per metric an alarm reads
    dashboard_per_month: float
    xray_per_million_traces: float
    kms_key_per_month: float
    secret_per_month: float
    secrets_per_10k_requests: float
    s3_per_gb_month: float  # S3 Standard, first 50 TB
    s3_put_per_thousand: float
    firehose_per_gb: float  # Direct PUT ingestion, each record rounded up to 5 KB


US_EAST_1 = Prices(
    region="us-east-1",
    http_api_per_million=1.00,
    lambda_per_million=0.20,
    lambda_arm_per_gb_second=0.0000133334,
    sqs_per_million=0.40,
    dynamodb_write_per_million=0.625,
    dynamodb_read_per_million=0.125,
    dynamodb_storage_per_gb_month=0.25,
    dynamodb_pitr_per_gb_month=0.20,
    eventbridge_per_million=1.00,
    eventbridge_archive_per_gb=0.10,
    eventbridge_archive_per_gb_month=0.023,
    logs_ingested_per_gb=0.50,
    logs_stored_per_gb_month=0.03,
    metric_per_month=0.30,
    alarm_metric_per_month=0.10,
    dashboard_per_month=3.00,
    xray_per_million_traces=5.00,
    kms_key_per_month=1.00,
    secret_per_month=0.40,
    secrets_per_10k_requests=0.05,
    s3_per_gb_month=0.023,
    s3_put_per_thousand=0.005,
    firehose_per_gb=0.029,
)
AP_SOUTH_1 = Prices(
    region="ap-south-1",
    http_api_per_million=1.05,
    lambda_per_million=0.20,
    lambda_arm_per_gb_second=0.0000133334,
    sqs_per_million=0.40,
    dynamodb_write_per_million=0.71,
    dynamodb_read_per_million=0.1425,
    dynamodb_storage_per_gb_month=0.285,
    dynamodb_pitr_per_gb_month=0.228,
    eventbridge_per_million=1.00,
    eventbridge_archive_per_gb=0.10,
    eventbridge_archive_per_gb_month=0.023,
    logs_ingested_per_gb=0.67,
    logs_stored_per_gb_month=0.03,
    metric_per_month=0.30,
    alarm_metric_per_month=0.10,
    dashboard_per_month=3.00,
    xray_per_million_traces=5.00,
    kms_key_per_month=1.00,
    secret_per_month=0.40,
    secrets_per_10k_requests=0.05,
    s3_per_gb_month=0.025,
    s3_put_per_thousand=0.005,
    firehose_per_gb=0.029,  # not found for Mumbai: us-east-1's
)
PRICES = {prices.region: prices for prices in (US_EAST_1, AP_SOUTH_1)}

# Not measurable here: how long an AWS API call takes from Lambda in the same region. Billed
# Lambda time is taken as this per call, plus the handler's own CPU time measured warm.
ASSUMED_MS_PER_AWS_CALL = 6.0
