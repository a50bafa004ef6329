"""What follows from a stored change, derived from the campaign table's stream
(docs/architecture.md, "Derived from the stream").

The processors make one conditional write per callback; this reads the stream's before and
after images and derives the rest:
- counters: how each attempt's and outcome's change moves its campaign's counts by status, its
  total and the reconciliation classes (campaign_table.status_deltas);
- events: CallScheduleCompleted for each new version of a number's outcome from a callback or
  the Campaign API, CampaignCompleted when a campaign's status first becomes final (from a
  callback or the Campaign API);
- with call details on, each attempt that becomes final without them, to the call details
  queue (sweep/enrichment.py); with recordings kept, each whose details say it was recorded,
  to the recording queue (sweep/recordings.py).

Lambda feeds the stream in tumbling windows (TumblingWindowInSeconds) only because that names
the stream shard in the event. Each invocation publishes its records' events, then writes its
records' counter deltas, one write per campaign, conditioned on
the last stream sequence number that campaign's counter item for this shard has taken: a
retried invocation (its answer lost, a timeout), whatever records it holds, adds only those it
has not added. An invocation that
fails is retried (Lambda holds the shard until it succeeds): its events may go out twice, and
carry their event_id for that. (The analytics dataset reads the same stream with a mapping
of its own, analytics/dataset.py: its faults never hold the counters.)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from exotel_webhooks.ledger.counting import status_deltas
from exotel_webhooks.ledger.details import DueAttempt, details_due, recording_due
from exotel_webhooks.ledger.keys import (
    counter_family,
    from_item,
    is_attempt,
    is_outcome,
    is_summary,
    masked_part,
    sequence_text,
)
from exotel_webhooks.ledger.precedence import FINAL_CAMPAIGN_STATUSES, utc_text
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents, DetailsQueue
from exotel_webhooks.observability import LambdaHandler, lambda_handler, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

CALL_SCHEDULE_COMPLETED = "CallScheduleCompleted"
CAMPAIGN_COMPLETED = "CampaignCompleted"
LATE_CALLBACK_SECONDS = 24 * 3600  # stored this long after it arrived: not Exotel heard now


@dataclass(frozen=True)
class Change:
    """One stream record: an item's key, its image before and after, its place in the shard."""

    keys: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    sequence: str
    stored_at: float | None = None  # when DynamoDB took the write (epoch seconds)

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Change:
        dynamodb = record["dynamodb"]
        old, new = dynamodb.get("OldImage"), dynamodb.get("NewImage")
        created = dynamodb.get("ApproximateCreationDateTime")
        return cls(
            keys=from_item(dynamodb["Keys"]),
            before=from_item(old) if old else None,
            after=from_item(new) if new else None,
            sequence=dynamodb["SequenceNumber"],
            stored_at=float(created) if created is not None else None,
        )

    @property
    def from_callback(self) -> bool:
        """A callback Exotel sent lately stored a new version of an attempt or an outcome: not
        a sweep's row, a report's backfill, an erasure or a note, nor an old callback stored
        now (a redrive of a day-old message, `make migrate`)."""
        item = self.after or {}
        if not (
            self.new_version
            and (is_outcome(self.keys) or is_attempt(self.keys))
            and item.get("source", "callback") == "callback"
            and item.get("received_at")
        ):
            return False
        received = datetime.fromisoformat(str(item["received_at"])).timestamp()
        return self.stored_at is None or self.stored_at - received < LATE_CALLBACK_SECONDS

    @property
    def item(self) -> dict[str, Any]:
        return self.after or self.before or {}

    @property
    def new_version(self) -> bool:
        """A new version of the item was stored (not a reconciliation or report note on it)."""
        return self.after is not None and (
            self.before is None or self.before.get("version") != self.after.get("version")
        )


def follow_up(change: Change) -> tuple[str, dict[str, Any]] | None:
    """The event a change publishes, if any."""
    if not change.new_version:
        return None
    item = change.after or {}
    # a number's outcome from a callback or a sweep (a sweep writes each number's once: its
    # latest row); a report's backfill is counted in the reconciliation, not announced
    source = item.get("source", "callback")
    if is_outcome(change.keys) and source in ("callback", "api"):
        return CALL_SCHEDULE_COMPLETED, {
            "event_id": item["event_id"],
            "source": source,
            "campaign_sid": item["campaign_sid"],
            "number": masked_part(item["number"]),
            "number_raw": item.get("number_raw"),
            "status": item["status"],
            "from": item.get("from"),
            "call_sids": list(item.get("call_sids") or []),
            "date_updated": item.get("date_updated"),
        }
    # Once per campaign: a callback's final status replacing the Campaign API's announces nothing
    already_final = (change.before or {}).get("status") in FINAL_CAMPAIGN_STATUSES
    if (
        is_summary(change.keys)
        and item.get("status") in FINAL_CAMPAIGN_STATUSES
        and not already_final
    ):
        return CAMPAIGN_COMPLETED, {
            "event_id": item["event_id"],
            "campaign_sid": item["campaign_sid"],
            "status": item["status"],
            "date_created": item.get("date_created"),
            "date_updated": item.get("date_updated"),
            "report_host": item.get("report_host"),
        }
    return None


@dataclass(frozen=True)
class Window:
    """One invocation's records, with the shard they come from (a tumbling window's event)."""

    shard: str
    records: Sequence[Mapping[str, Any]]

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> Window:
        return cls(shard=event["shardId"], records=event.get("Records") or [])


class StreamDerivation:
    def __init__(
        self,
        table: CampaignTable,
        events: CampaignEvents | None = None,
        clock: Callable[[], float] = time.time,
        details: DetailsQueue | None = None,
        recordings: DetailsQueue | None = None,
    ) -> None:
        self.table = table
        self.events = events
        self.clock = clock
        self.details = details
        self.recordings = recordings

    def handle(self, window: Window) -> dict[str, Any]:
        """Publish the records' events, then add their counter deltas. Returns the (empty)
        window state Lambda requires."""
        changes = [Change.of(record) for record in window.records]
        follow_ups = [event for change in changes if (event := follow_up(change))]
        if follow_ups and self.events:
            self.events.publish_all(follow_ups)
        self._request(changes)
        by_campaign: dict[str, list[tuple[Change, dict[str, int]]]] = {}
        for change in changes:
            family = counter_family(change.keys)
            deltas = status_deltas(family, change.before, change.after) if family else {}
            if deltas:
                by_campaign.setdefault(change.item["campaign_sid"], []).append((change, deltas))
        heard = self._heard(changes)
        for sid in sorted(by_campaign.keys() | heard.keys()):
            self._count(window.shard, sid, by_campaign.get(sid, []), heard.get(sid))
        return {"state": {}}

    def _request(self, changes: Sequence[Change]) -> None:
        """Call details for the attempts that just became final (call details on), recordings
        for those whose details just said one exists (recordings kept)."""
        wanted: list[tuple[DetailsQueue | None, Callable[..., bool], bool]] = [
            (self.details, details_due, True),
            (self.recordings, recording_due, False),
        ]
        for queue, due, delayed in wanted:
            if not queue:
                continue
            requests: list[tuple[dict[str, Any], datetime | None]] = [
                (DueAttempt.of_item(c.after).message(), _ended(c.after) if delayed else None)
                for c in changes
                if c.after and due(c.before, c.after)
            ]
            if requests:
                queue.send_all(requests)

    def _heard(self, changes: Sequence[Change]) -> dict[str, str]:
        """The minute each campaign's latest callback in the window was stored (UTC text): a
        running campaign's silence is measured from it (silence.py)."""
        latest: dict[str, float] = {}
        for change in changes:
            if change.from_callback:
                sid = change.item["campaign_sid"]
                stored = change.stored_at or self.clock()
                latest[sid] = max(latest.get(sid, stored), stored)
        return {sid: heard_minute(moment) for sid, moment in latest.items()}

    def _count(
        self,
        shard: str,
        sid: str,
        counted: list[tuple[Change, dict[str, int]]],
        heard: str | None = None,
    ) -> None:
        # an item erased or expired: once nothing counted is left, the counters go too
        removed = any(change.after is None for change, _ in counted)
        if not counted and heard:  # callbacks that moved no count: only when they came
            self.table.note_heard(sid, shard, heard)
        while counted:
            totals: Counter[str] = Counter()
            for _, deltas in counted:
                totals.update(deltas)
            taken = self.table.add_to_counters(
                sid,
                shard,
                {name: delta for name, delta in totals.items() if delta},
                first_sequence=counted[0][0].sequence,
                last_sequence=counted[-1][0].sequence,
                heard=heard,
            )
            if taken is None:
                break
            # Some were added before (a retried invocation): add only the newer ones.
            newer = [(c, d) for c, d in counted if sequence_text(c.sequence) > taken]
            logger.info(
                "counters partly added before",
                campaign_sid=sid,
                records=len(counted),
                already_added=len(counted) - len(newer),
            )
            if len(newer) == len(counted):
                raise RuntimeError(f"counter item of {sid} refused records it has not taken")
            counted = newer
        if removed and self.table.reset_counters_if_empty(sid, self.clock()):
            logger.info("counters reset: nothing counted is left", campaign_sid=sid)


def heard_minute(epoch_seconds: float) -> str:
    """A moment as the campaigns-heard index sorts it: UTC text, to the minute."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC).replace(second=0, microsecond=0)
    return str(utc_text(moment))


def _ended(item: Mapping[str, Any]) -> datetime | None:
    moment = item.get("date_updated") or item.get("date_created")
    return datetime.fromisoformat(str(moment)) if moment else None


def stream_handler(derivation: StreamDerivation) -> LambdaHandler[dict[str, Any]]:
    """The ledger stream Lambda: each tumbling window of stream records to `derivation`."""

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return derivation.handle(Window.of(event))

    return handler
