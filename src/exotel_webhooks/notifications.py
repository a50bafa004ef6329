"""Follow-ups of stored callbacks: EventBridge events for users, report requests for the fetcher,
call details requests for the call details function."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from exotel_webhooks.messages import ReportRequest

EVENT_SOURCE = "exotel.campaign-webhooks"


class NotificationFailed(Exception):
    """A follow-up could not be sent; the record is retried and sends it then."""


class CampaignEvents:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_all([(detail_type, detail)])

    def publish_all(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """PutEvents, ten entries a request (its limit). Raises NotificationFailed if any entry
        was refused; the caller's retry sends the batch again (events carry their event_id)."""
        for start in range(0, len(events), 10):
            response = self._client.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail),
                        "EventBusName": self._bus_name,
                    }
                    for detail_type, detail in events[start : start + 10]
                ]
            )
            if response.get("FailedEntryCount"):
                codes = [entry.get("ErrorCode") for entry in response["Entries"]]
                raise NotificationFailed(f"events not published: {codes}")


class ReportRequests:
    """Hands a finished campaign's report URL to the report fetcher."""

    def __init__(self, client: SQSClient, queue_url: str, delay_seconds: int = 0) -> None:
        self._client = client
        self._queue_url = queue_url
        self._delay_seconds = delay_seconds

    def request(self, request: ReportRequest) -> None:
        """Delayed, so that call schedule callbacks still queued are stored before the report
        is reconciled with them."""
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=request.model_dump_json(exclude_none=True),
            DelaySeconds=self._delay_seconds,
        )


class DetailsQueue:
    """Hands attempts due their call details to the call details function, each delayed until
    Exotel has had `after` to price it (SQS delays at most 15 minutes)."""

    MAX_DELAY_SECONDS = 900

    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        after: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client, self._queue_url = client, queue_url
        self._after, self._clock = after, clock

    def send_all(self, due: list[tuple[dict[str, Any], datetime | None]]) -> None:
        """Each (message, when the call ended); SendMessageBatch, ten a request. Raises
        NotificationFailed if any was refused (the stream's retry sends them again)."""
        now = self._clock()
        for start in range(0, len(due), 10):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": str(index),
                    "MessageBody": json.dumps(message),
                    "DelaySeconds": self._delay(ended, now),
                }
                for index, (message, ended) in enumerate(due[start : start + 10])
            ]
            response = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            if response.get("Failed"):
                codes = [entry.get("Code") for entry in response["Failed"]]
                raise NotificationFailed(f"call details requests not sent: {codes}")

    def _delay(self, ended: datetime | None, now: datetime) -> int:
        after = self._after.total_seconds()
        wait = after if ended is None else (ended - now).total_seconds() + after
        return int(min(max(wait, 0), self.MAX_DELAY_SECONDS))
