"""AWS clients as each function uses them, and which AWS errors mean "try again later". The
receiver's adapters are in intake/adapters.py, beside the ports they implement."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Exotel waits 5 to 15 s for an answer: give up early enough to answer 503 within that.
FAST_FAIL = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)


def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=FAST_FAIL)


def s3_client() -> S3Client:
    return boto3.client("s3", config=FAST_FAIL)


def secretsmanager_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=FAST_FAIL)


def secret_json(client: SecretsManagerClient, secret_arn: str) -> dict[str, Any]:
    """A secret holding a JSON object (read at a cold start)."""
    value = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_arn} does not hold a JSON object")
    return value


def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


def events_client() -> EventBridgeClient:
    return boto3.client("events")


def firehose_client() -> FirehoseClient:
    return boto3.client("firehose")


def s3_transfer_client() -> S3Client:
    """For large uploads and downloads: the default timeouts, standard retries."""
    return boto3.client("s3", config=Config(retries={"mode": "standard"}))


# Errors that say AWS is busy or out of reach for now, not that the request is wrong.
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
)
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


def aws_unavailable(error: BaseException) -> bool:
    """True if `error` is AWS being throttled, failing or unreachable: worth trying later."""
    if isinstance(error, _UNREACHABLE):
        return True
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    )
