"""Receiver Lambda: Exotel webhook (HTTP API, payload 2.0) -> its callback type's SQS queue."""

from exotel_webhooks.aws import s3_client, secretsmanager_client, sqs_client
from exotel_webhooks.intake.adapters import S3Quarantine, SecretsManagerSecretSource, SqsEventQueues
from exotel_webhooks.intake.http import webhook_handler
from exotel_webhooks.intake.receive import Receiver
from exotel_webhooks.settings import ReceiverSettings
from exotel_webhooks.vocabulary import CallbackType

settings = ReceiverSettings.from_environment()
receiver = Receiver(
    secrets=SecretsManagerSecretSource(
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
handler = webhook_handler(receiver, under_sam_local=settings.under_sam_local)
