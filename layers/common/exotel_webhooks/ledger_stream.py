"""What follows from a stored change, derived from the campaign table's stream
(docs/architecture.md, "Derived from the stream").

The processors make one conditional write per callback; this reads the stream's before and
after images and derives the rest:
- counters: how each attempt's and outcome's change moves its campaign's counts by status, its
  total and the reconciliation classes (campaign_table.status_deltas);
- events: CallScheduleCompleted for each new version of a number's outcome from a callback,
  CampaignCompleted for each new final version of a campaign's status.

Lambda feeds the stream in tumbling windows (TumblingWindowInSeconds), which is what names the
stream shard and carries a state from one invocation to the next. Each invocation publishes its
records' events and adds their counter deltas to the window's state; the window's last
invocation writes the state, one counter write per campaign per shard and window, conditional
on the stream sequence numbers it covers, so a retried window never counts twice. Counters
therefore trail the items by at most a window. An invocation that fails is retried whole (with
the state it was given): its events may go out twice, and carry their event_id for that.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exotel_webhooks.campaign_table import (
    SUMMARY_SK,
    CampaignTable,
    counter_family,
    from_item,
    is_outcome,
    masked_part,
    sequence_text,
    status_deltas,
)
from exotel_webhooks.ledger import FINAL_CAMPAIGN_STATUSES
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.observability import logger

CALL_SCHEDULE_COMPLETED = "CallScheduleCompleted"
CAMPAIGN_COMPLETED = "CampaignCompleted"


@dataclass(frozen=True)
class Change:
    """One stream record: an item's key, its image before and after, its place in the shard."""

    keys: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    sequence: str

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Change:
        dynamodb = record["dynamodb"]
        old, new = dynamodb.get("OldImage"), dynamodb.get("NewImage")
        return cls(
            keys=from_item(dynamodb["Keys"]),
            before=from_item(old) if old else None,
            after=from_item(new) if new else None,
            sequence=dynamodb["SequenceNumber"],
        )

    @property
    def item(self) -> dict[str, Any]:
        return self.after or self.before or {}

    @property
    def new_version(self) -> bool:
        """A new version of the item was stored (not a reconciliation or report note on it)."""
        return self.after is not None and (
            self.before is None or self.before.get("version") != self.after.get("version")
        )


@dataclass
class CampaignDeltas:
    """One campaign's counter deltas in a window, and the stream positions they cover."""

    first: str
    last: str
    deltas: Counter[str] = field(default_factory=Counter)
    expires_at: int | None = None

    def add(self, change: Change, deltas: Mapping[str, int]) -> None:
        self.deltas.update(deltas)
        self.first = min(self.first, change.sequence, key=sequence_text)
        self.last = max(self.last, change.sequence, key=sequence_text)
        expiry = change.item.get("expires_at")
        if expiry is not None:
            self.expires_at = max(self.expires_at or 0, int(expiry))


@dataclass
class WindowState:
    """The window's counter deltas by campaign: what Lambda hands from one invocation of a
    window to the next (a JSON object of at most 1 MB: a few hundred bytes per campaign)."""

    campaigns: dict[str, CampaignDeltas] = field(default_factory=dict)

    @classmethod
    def of(cls, state: Mapping[str, Any] | None) -> WindowState:
        campaigns = {}
        for sid, text in (state or {}).items():
            saved = json.loads(text)
            campaigns[sid] = CampaignDeltas(
                saved["first"], saved["last"], Counter(saved["deltas"]), saved.get("expires_at")
            )
        return cls(campaigns)

    def as_state(self) -> dict[str, str]:
        return {
            sid: json.dumps(
                {
                    "first": deltas.first,
                    "last": deltas.last,
                    "deltas": {k: v for k, v in deltas.deltas.items() if v},
                    "expires_at": deltas.expires_at,
                }
            )
            for sid, deltas in self.campaigns.items()
        }

    def add(self, change: Change) -> None:
        family = counter_family(change.keys)
        if family is None:
            return
        deltas = status_deltas(family, change.before, change.after)
        if not deltas:
            return
        sid = change.item["campaign_sid"]
        campaign = self.campaigns.setdefault(sid, CampaignDeltas(change.sequence, change.sequence))
        campaign.add(change, deltas)


def follow_up(change: Change) -> tuple[str, dict[str, Any]] | None:
    """The event a change publishes, if any."""
    if not change.new_version:
        return None
    item = change.after or {}
    if is_outcome(change.keys) and item.get("source", "callback") == "callback":
        return CALL_SCHEDULE_COMPLETED, {
            "event_id": item["event_id"],
            "campaign_sid": item["campaign_sid"],
            "number": masked_part(item["number"]),
            "number_raw": item.get("number_raw"),
            "status": item["status"],
            "from": item.get("from"),
            "call_sids": list(item.get("call_sids") or []),
            "date_updated": item.get("date_updated"),
        }
    if change.keys.get("SK") == SUMMARY_SK and item.get("status") in FINAL_CAMPAIGN_STATUSES:
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
    """One invocation's part of a tumbling window, as Lambda hands it."""

    shard: str
    records: Sequence[Mapping[str, Any]]
    state: Mapping[str, Any] | None
    final: bool

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> Window:
        return cls(
            shard=event["shardId"],
            records=event.get("Records") or [],
            state=event.get("state"),
            final=bool(event.get("isFinalInvokeForWindow")),
        )


class StreamDerivation:
    def __init__(self, table: CampaignTable, events: CampaignEvents | None = None) -> None:
        self.table = table
        self.events = events

    def handle(self, window: Window) -> dict[str, Any]:
        """Publish the records' events, add their deltas to the state; on the window's last
        invocation, write the counters. Returns the state for Lambda to hand on."""
        state = WindowState.of(window.state)
        changes = [Change.of(record) for record in window.records]
        follow_ups = [event for change in changes if (event := follow_up(change))]
        if follow_ups and self.events:
            self.events.publish_all(follow_ups)
        for change in changes:
            state.add(change)
        if not window.final:
            return {"state": state.as_state()}
        for sid, campaign in sorted(state.campaigns.items()):
            written = self.table.add_to_counters(
                sid,
                window.shard,
                {k: v for k, v in campaign.deltas.items() if v},
                first_sequence=campaign.first,
                last_sequence=campaign.last,
                expires_at=campaign.expires_at,
            )
            logger.info(
                "counters added" if written else "counters already added",
                campaign_sid=sid,
                records_through=campaign.last,
            )
        return {"state": {}}
