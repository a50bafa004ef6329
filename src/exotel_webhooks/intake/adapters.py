"""The receiver's ports (intake/ports.py) implemented on AWS: SQS queues, an S3 quarantine and
the webhook secret in Secrets Manager. Each turns any AWS error into StorageUnavailable, which
the receiver answers with 503 so Exotel retries."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from exotel_webhooks.intake.auth import WebhookSecrets
from exotel_webhooks.intake.errors import StorageUnavailable
from exotel_webhooks.intake.quarantine import QuarantineRecord
from exotel_webhooks.observability import logger
from exotel_webhooks.vocabulary import CallbackType

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

_AWS_ERRORS = (BotoCoreError, ClientError)
RETRY_PAUSE_SECONDS = (30.0, 60.0)  # after a failed secret read, jittered
MAX_STALE_SECONDS = 3600.0  # the oldest cached secret a receiver may serve


class SqsEventQueues:
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


class SecretsManagerSecretSource:
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
