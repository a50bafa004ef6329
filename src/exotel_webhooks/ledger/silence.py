"""Running campaigns gone silent (docs/architecture.md, "Silent campaigns"). Exotel retries a
webhook twice and then drops it, and a campaign it stops calling sends nothing at all: the
ledger stream notes, to the minute, when each campaign's last callback was stored (on its
counter items, indexed in GSI1), and a scheduled run finds the campaigns heard last between a
day and `quiet` ago that are not final, paused or gone, and announces each silence once
(`CampaignSilent`, a metric for the alarm). With sweeps on, the event has the campaign swept.
A callback after the silence, then silence again, is a new one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from exotel_webhooks.ledger.keys import is_counter, is_silence, is_summary
from exotel_webhooks.ledger.precedence import FINAL_CAMPAIGN_STATUSES, utc_text
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.observability import LambdaHandler, Metric, count, lambda_handler, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

CAMPAIGN_SILENT = "CampaignSilent"
LOOKBACK = timedelta(days=1)  # a silence older than this when first seen is not announced
CLAIM_KEPT = timedelta(days=2)  # the note of an announced silence outlives the lookback
NOT_RUNNING = FINAL_CAMPAIGN_STATUSES | {"Paused", "Archived", "Deleted"}


@dataclass(frozen=True)
class Silence:
    campaign_sid: str
    heard: str  # when its last callback was stored: UTC text, to the minute
    status: str | None  # the campaign's status as the ledger knows it (None: no status yet)

    def minutes(self, now: datetime) -> int:
        return int((now - datetime.fromisoformat(self.heard)).total_seconds() // 60)

    def event(self, now: datetime) -> tuple[str, dict[str, Any]]:
        return CAMPAIGN_SILENT, {
            "event_id": f"silent-{self.campaign_sid}-{self.heard}",
            "campaign_sid": self.campaign_sid,
            "status": self.status,
            "last_callback_at": self.heard,
            "silent_minutes": self.minutes(now),
        }


def last_heard(items: Sequence[Mapping[str, Any]]) -> str | None:
    """When the campaign's last callback was stored (UTC text, to the minute), from its items
    (campaign_items): the latest of its stream shards' counter items."""
    return max((str(i["heard"]) for i in items if is_counter(i) and i.get("heard")), default=None)


def silent_since(items: Sequence[Mapping[str, Any]]) -> str | None:
    """Since when the campaign is silent, as announced, while it still runs and nothing has
    been heard since."""
    announced = next((str(i["heard"]) for i in items if is_silence(i)), None)
    summary = next((i for i in items if is_summary(i)), {})
    since = running_since(items)
    if not announced or not since or summary.get("status") in NOT_RUNNING:
        return None
    return announced if announced >= since else None


def running_since(items: Sequence[Mapping[str, Any]]) -> str | None:
    """What silence is measured from: the last callback, or the campaign's last status change
    if later (a paused campaign resumed is not silent for its pause), UTC text to the minute."""
    heard = last_heard(items)
    summary = next((i for i in items if is_summary(i)), {})
    changed = summary.get("date_updated")
    if not changed:
        return heard
    moment = datetime.fromisoformat(str(changed)).replace(second=0, microsecond=0)
    status_minute = str(utc_text(moment))
    return max(heard, status_minute) if heard else status_minute


def silent_campaigns(table: CampaignTable, now: datetime, quiet: timedelta) -> list[Silence]:
    """The campaigns silent for `quiet` or longer whose silence is not yet announced."""
    before = str(utc_text(now - quiet))
    after = str(utc_text(now - quiet - LOOKBACK))
    found = []
    for sid in sorted({entry["campaign_sid"] for entry in table.campaigns_heard(after, before)}):
        items = table.campaign_items(sid)  # summary, counters, silence note: one Query
        since = running_since(items)
        if not since or since >= before:  # heard since (on another shard), or just resumed
            continue
        summary = next((i for i in items if is_summary(i)), {})
        if summary.get("status") in NOT_RUNNING or silent_since(items):
            continue
        found.append(Silence(sid, since, summary.get("status")))
    return found


def silence_handler(
    table: CampaignTable,
    quiet: timedelta,
    events: CampaignEvents | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LambdaHandler[dict[str, Any]]:
    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        now = clock()
        silences = silent_campaigns(table, now, quiet)
        # published before noted: a run that fails between them publishes again (the same
        # event_id), never drops one
        if silences and events:
            events.publish_all([silence.event(now) for silence in silences])
        expires = int((now + CLAIM_KEPT).timestamp())
        announced = [s for s in silences if table.claim_silence(s.campaign_sid, s.heard, expires)]
        for silence in announced:
            logger.warning(
                "campaign silent",
                campaign_sid=silence.campaign_sid,
                status=silence.status,
                last_callback_at=silence.heard,
                silent_minutes=silence.minutes(now),
            )
        if announced:  # no data point otherwise: an idle stack pays for no metric hours
            count(Metric.CAMPAIGNS_SILENT, len(announced))
        return {"silent": [silence.campaign_sid for silence in announced]}

    return handler
