"""AWS access behind small typed classes: the queues, the quarantine, the webhook secret."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from exotel_webhooks.intake.auth import WebhookSecrets
from exotel_webhooks.intake.callbacks import CallbackType
from exotel_webhooks.intake.errors import StorageUnavailable
from exotel_webhooks.intake.quarantine import QuarantineRecord
from exotel_webhooks.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Exotel waits 5 to 15 s for an answer: give up early enough to answer 503 within that.
FAST_FAIL = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)
_AWS_ERRORS = (BotoCoreError, ClientError)
RETRY_PAUSE_SECONDS = (30.0, 60.0)  # after a failed secret read, jittered
MAX_STALE_SECONDS = 3600.0  # the oldest cached secret a receiver may serve


def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=FAST_FAIL)


def s3_client() -> S3Client:
    return boto3.client("s3", config=FAST_FAIL)


def secretsmanager_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=FAST_FAIL)


class CallbackQueues:
    """One queue per callback type."""

    def __init__(self, client: SQSClient, queue_urls: Mapping[CallbackType, str]) -> None:
        self._client = client
        self._queue_urls = dict(queue_urls)

    def send(self, callback_type: CallbackType, message: str) -> None:
        try:
            self._client.send_message(QueueUrl=self._queue_urls[callback_type], MessageBody=message)
        except _AWS_ERRORS as error:
            raise StorageUnavailable(f"queue send failed: {type(error).__name__}") from error


class S3Quarantine:
    """The S3 client is made on first use: quarantining is rare, and cold starts matter."""

    def __init__(self, client_factory: Callable[[], S3Client], bucket: str) -> None:
        self._client_factory = client_factory
        self._client: S3Client | None = None
        self._bucket = bucket

    def store(self, record: QuarantineRecord) -> None:
        if self._client is None:
            self._client = self._client_factory()
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=record.key,
                Body=record.to_json().encode(),
                ContentType="application/json",
                Metadata={"reason": record.reason.encode("ascii", "replace").decode()[:512]},
            )
        except _AWS_ERRORS as error:
            raise StorageUnavailable(f"quarantine write failed: {type(error).__name__}") from error


class CachedWebhookSecrets:
    """The webhook secret from Secrets Manager, fetched at most once per `max_age_seconds`.

    If a refresh fails, the last good value keeps serving, and Secrets Manager is not asked again
    for RETRY_PAUSE_SECONDS (a request must not wait on a failing dependency every time). A
    value older than `max_stale_seconds` is never served: a revoked token must stop working
    even while Secrets Manager is down, so requests get 503 (Exotel retries) instead.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        max_age_seconds: float,
        *,
        max_stale_seconds: float = MAX_STALE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[], float] = lambda: random.uniform(*RETRY_PAUSE_SECONDS),  # noqa: S311
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._max_stale = max(max_stale_seconds, max_age_seconds)
        self._clock = clock
        self._pause = pause
        self._cached: WebhookSecrets | None = None
        self._fetched_at = 0.0
        self._next_try = 0.0

    def current(self) -> WebhookSecrets:
        now = self._clock()
        age = now - self._fetched_at
        if self._cached is not None and age < self._max_age:
            return self._cached
        if now >= self._next_try:
            try:
                secret_string = self._client.get_secret_value(SecretId=self._secret_id)[
                    "SecretString"
                ]
            except _AWS_ERRORS:
                self._next_try = now + self._pause()
                logger.warning(
                    "webhook secret refresh failed", retry_in_seconds=self._next_try - now
                )
            else:
                self._cached = WebhookSecrets.from_secret_string(secret_string)
                self._fetched_at, self._next_try = now, 0.0
                if not self._cached:
                    logger.error("webhook secret holds no token: every request will be refused")
                return self._cached
        if self._cached is not None and age < self._max_stale:
            return self._cached
        raise StorageUnavailable("webhook secret unavailable")


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
    from exotel_webhooks.ledger.table import RaceLost  # noqa: PLC0415 - no import cycle

    if isinstance(error, (*_UNREACHABLE, RaceLost)):
        return True
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    )
