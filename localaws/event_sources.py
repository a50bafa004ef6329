"""Lambda's SQS event source mapping, in-process: poll a batch, invoke, delete what succeeded.

Failed records (batchItemFailures, or the whole batch if the handler raises) stay on the queue,
visible again after the visibility timeout, and the queue's redrive policy moves a record to its
dead-letter queue after maxReceiveCount receives: all of that is the queue's own behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localaws.emulation import EventSource
from localaws.sqs_events import sqs_event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

type Handler = Callable[[dict[str, Any]], Any]


def poll_once(
    sqs: SQSClient,
    source: EventSource,
    handler: Handler,
    wait_seconds: int = 0,
    visibility_timeout: int | None = None,
) -> int:
    """One poll and one invocation; returns how many records were delivered.

    `visibility_timeout` overrides the queue's for this receive (tests use 0 to see a failed
    record again at once)."""
    receive: dict[str, Any] = {
        "QueueUrl": source.queue_url,
        "MaxNumberOfMessages": min(source.batch_size, 10),
        "WaitTimeSeconds": wait_seconds,
        "AttributeNames": ["All"],
    }
    if visibility_timeout is not None:
        receive["VisibilityTimeout"] = visibility_timeout
    messages = sqs.receive_message(**receive).get("Messages", [])
    if not messages:
        return 0
    try:
        response = handler(sqs_event(source.queue_arn, [dict(m) for m in messages]))
    except Exception:
        return len(messages)
    failed = _failed_ids(response, source, [m["MessageId"] for m in messages])
    succeeded = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(succeeded), 10):
        sqs.delete_message_batch(
            QueueUrl=source.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(succeeded[start : start + 10])
            ],
        )
    return len(messages)


def _failed_ids(response: Any, source: EventSource, delivered: list[str]) -> set[str]:  # noqa: ANN401
    if not source.report_batch_item_failures:
        return set()
    if not isinstance(response, dict) or not isinstance(
        response.get("batchItemFailures", []), list
    ):
        return set(delivered)  # Lambda treats a malformed response as a failed batch
    return {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
