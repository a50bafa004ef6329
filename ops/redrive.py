"""Move what a dead-letter queue holds back to the queue it came from, once its cause is fixed.

Each message is sent to the source queue before it is deleted from the DLQ, so a crash in
between leaves a copy in both: harmless, since the processors store every callback exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localaws.template import Template
from ops.target import Target

# Every SQS attribute of ours that a redriven message keeps.
_KEPT_ATTRIBUTES = ["All"]


@dataclass(frozen=True)
class Redriven:
    dead_letter_queue: str
    source_queue: str
    moved: int


def dead_letter_queues(template: Template) -> dict[str, str]:
    """DLQ logical id -> the logical id of the queue it serves, from template.yaml."""
    served = {}
    for logical_id, queue in template.resources_of_type("AWS::SQS::Queue").items():
        policy = queue.get("Properties", {}).get("RedrivePolicy")
        if policy:
            reference = policy["deadLetterTargetArn"]["Fn::GetAtt"]
            dlq = reference[0] if isinstance(reference, list) else reference.split(".")[0]
            served[dlq] = logical_id
    return served


def redrive(
    target: Target, template: Template, dead_letter_queue: str, limit: int | None = None
) -> Redriven:
    """Move up to `limit` messages (all, by default) from the DLQ (logical id) to its source."""
    sources = dead_letter_queues(template)
    if dead_letter_queue not in sources:
        raise ValueError(f"{dead_letter_queue} is not a dead-letter queue: {', '.join(sources)}")
    sqs = target.client("sqs")
    dlq_url = target.physical_id(dead_letter_queue)
    source_url = target.physical_id(sources[dead_letter_queue])
    moved = 0
    while limit is None or moved < limit:
        wanted = 10 if limit is None else min(10, limit - moved)
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=wanted,
            MessageAttributeNames=_KEPT_ATTRIBUTES,
            VisibilityTimeout=120,
            WaitTimeSeconds=1,
        ).get("Messages", [])
        if not messages:
            break
        sent = sqs.send_message_batch(
            QueueUrl=source_url,
            Entries=[_resent(index, message) for index, message in enumerate(messages)],
        )
        done = {int(entry["Id"]) for entry in sent.get("Successful", [])}
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": messages[index]["ReceiptHandle"]}
                    for index in sorted(done)
                ],
            )
        moved += len(done)
        if sent.get("Failed"):
            failures = "; ".join(f"{f['Code']}: {f.get('Message', '')}" for f in sent["Failed"])
            raise RuntimeError(f"moved {moved}, then the source queue refused some: {failures}")
    return Redriven(dead_letter_queue, sources[dead_letter_queue], moved)


def _resent(index: int, message: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        entry["MessageAttributes"] = {
            name: {
                k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")
            }
            for name, value in message["MessageAttributes"].items()
        }
    return entry
