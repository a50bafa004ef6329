"""The analytics dataset as the ledger stream's sink: an invocation's changes as rows, to
Firehose (docs/architecture.md, "The analytics dataset")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exotel_webhooks.analytics.rows import dataset_row

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from exotel_webhooks.analytics.delivery import DatasetDelivery
    from exotel_webhooks.ledger.stream import Change


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
