"""The analytics dataset's consumer of the campaign table's stream: each invocation's changes as
rows, to Firehose (docs/architecture.md, "The analytics dataset"). A mapping of its own, beside
the ledger stream's: when Firehose refuses, only the dataset waits (Lambda retries the batch,
holding its shard), never the counters or the events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exotel_webhooks.analytics.rows import dataset_row
from exotel_webhooks.ledger.stream import Change
from exotel_webhooks.observability import LambdaHandler, lambda_handler

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from exotel_webhooks.analytics.delivery import DatasetDelivery


@dataclass(frozen=True)
class Dataset:
    """Where the rows go, and the zone their hours of the day are read in."""

    delivery: DatasetDelivery
    zone: ZoneInfo

    def add(self, changes: Sequence[Change]) -> None:
        rows = [
            row
            for change in changes
            if (
                row := dataset_row(
                    change.keys, change.before, change.after, change.sequence, zone=self.zone
                )
            )
        ]
        if rows:
            self.delivery.put(rows)


def dataset_handler(dataset: Dataset) -> LambdaHandler[dict[str, Any]]:
    """The analytics stream Lambda: a batch of the table's stream records, as rows."""

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        changes = [Change.of(record) for record in event.get("Records") or []]
        dataset.add(changes)
        return {"rows": len(changes)}

    return handler
