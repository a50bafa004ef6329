"""Follow-ups of stored callbacks: EventBridge events for users, report requests for the fetcher."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

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
