"""Call details on the ledger's attempts: what each final attempt lasted, cost and whether it
was recorded, from Exotel's Call details API (docs/architecture.md, "Call details").

An attempt is due once it is stored with a final status and without details (the table's
stream says so: ledger/details.py), and asked about once old enough for Exotel to have priced it.
Its details are written beside what the callbacks said, never over it: one conditional update
of the `details` attribute of an attempt that still exists (an erased one is not written back),
and only if they differ (asking twice changes nothing). Whatever the API has not settled yet is
asked again later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exotel_webhooks.ledger.details import DueAttempt
from exotel_webhooks.ledger.keys import CALL_SHARDS, sort_key_of
from exotel_webhooks.ledger.precedence import FINAL_CALL_STATUSES
from exotel_webhooks.ledger.table import CampaignTable, DetailsWrite
from exotel_webhooks.observability import logger
from exotel_webhooks.sweep.campaign_api import CampaignApi


@dataclass
class EnrichReport:
    """What one enrichment did, by attempt."""

    written: list[DueAttempt] = field(default_factory=list)
    unchanged: list[DueAttempt] = field(default_factory=list)  # the same details were stored
    gone: list[DueAttempt] = field(default_factory=list)  # erased or expired since
    refused: list[DueAttempt] = field(default_factory=list)  # values no call could have
    unsettled: list[DueAttempt] = field(default_factory=list)  # not priced yet, or not listed

    @property
    def done(self) -> list[DueAttempt]:
        """Nothing more to ask about these."""
        return self.written + self.unchanged + self.gone + self.refused

    def add(self, other: EnrichReport) -> None:
        for name in ("written", "unchanged", "gone", "refused", "unsettled"):
            getattr(self, name).extend(getattr(other, name))

    def summary(self, campaign_sid: str) -> str:
        return (
            f"{campaign_sid}: {len(self.written)} attempts given their call details "
            f"({len(self.unchanged)} already had them, {len(self.unsettled)} not settled by "
            f"Exotel yet, {len(self.refused)} refused, {len(self.gone)} gone)"
        )


class CallDetailsEnricher:
    def __init__(self, table: CampaignTable, api: CampaignApi) -> None:
        self.table, self.api = table, api

    def enrich(self, due: Sequence[DueAttempt]) -> EnrichReport:
        """Ask the API about these attempts (in bulk, paced) and write what it settled. Raises
        CampaignApiRefused or CampaignApiUnavailable; what was written before stays."""
        report = EnrichReport()
        unique = {attempt.call_sid: attempt.created for attempt in due}
        answer = self.api.call_details(list(unique.items()))
        for attempt in due:
            details = answer.settled.get(attempt.call_sid)
            if attempt.call_sid in answer.refused:
                logger.warning(
                    "call details refused",
                    campaign_sid=attempt.campaign_sid,
                    call_sid=attempt.call_sid,
                    reason=answer.refused[attempt.call_sid],
                )
                report.refused.append(attempt)
            elif details is None:
                report.unsettled.append(attempt)
            else:
                written = self.table.record_call_details(attempt.pk, attempt.sk, details.stored())
                {
                    DetailsWrite.WRITTEN: report.written,
                    DetailsWrite.UNCHANGED: report.unchanged,
                    DetailsWrite.GONE: report.gone,
                }[written].append(attempt)
        return report

    def campaign_due(self, campaign_sid: str) -> list[DueAttempt]:
        """The campaign's final attempts without details (`make enrich`): its calls index, then
        each attempt read for what the index does not hold."""
        listed: list[dict[str, Any]] = []
        for shard in range(CALL_SHARDS):
            start = None
            while True:
                page = self.table.calls_page(campaign_sid, shard, 1000, None, start)
                listed += [a for a in page.items if a.get("status") in FINAL_CALL_STATUSES]
                if not (start := page.last_key):
                    break
        stored = self.table.batch_get(listed)
        return [DueAttempt.of_item(item) for item in _sorted(stored) if not item.get("details")]

    def enrich_campaign(self, campaign_sid: str) -> EnrichReport:
        report = EnrichReport()
        due = self.campaign_due(campaign_sid)
        for start in range(0, len(due), 100):
            report.add(self.enrich(due[start : start + 100]))
        return report


def _sorted(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """By date, so that a request's calls span as little as possible."""
    return sorted(items, key=lambda item: (str(item.get("date_created") or ""), sort_key_of(item)))
