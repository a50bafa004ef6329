"""Receiver Lambda: Exotel webhook (HTTP API, payload 2.0) -> its callback type's SQS queue.

Everything here runs once per container; the handler itself is one call.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from exotel_webhooks.aws import (
    CachedWebhookSecrets,
    S3Quarantine,
    SqsEventQueues,
    s3_client,
    secretsmanager_client,
    sqs_client,
)
from exotel_webhooks.callbacks import CallbackType
from exotel_webhooks.http_api import HttpResponse, handle_webhook
from exotel_webhooks.observability import lambda_handler
from exotel_webhooks.receiver import Receiver
from exotel_webhooks.settings import ReceiverSettings

settings = ReceiverSettings.from_environment()
receiver = Receiver(
    secrets=CachedWebhookSecrets(
        secretsmanager_client(), settings.webhook_secret_arn, settings.secret_cache_seconds
    ),
    queues=SqsEventQueues(
        sqs_client(),
        {
            CallbackType.CALL_STATUS: settings.call_status_queue_url,
            CallbackType.CALL_SCHEDULE: settings.call_schedule_queue_url,
            CallbackType.CAMPAIGN_STATUS: settings.campaign_status_queue_url,
        },
    ),
    quarantine=S3Quarantine(s3_client, settings.quarantine_bucket),
    rules=settings.rules,
    max_body_bytes=settings.max_body_bytes,
)


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> HttpResponse:
    return handle_webhook(receiver, event)
