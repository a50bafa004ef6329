"""The sweep Lambda (docs/architecture.md, "Sweeps"): on its schedule, every campaign due a sweep
(`due.py`) while the invocation's time lasts; invoked with `{"campaign_sid": ...}`, or by a
campaign's CampaignSilent event (ledger/silence.py), that one.
Counts what it recovered: above zero, Exotel's callbacks for them were lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from exotel_webhooks.aws import aws_unavailable
from exotel_webhooks.ledger.table import CampaignTable, RaceLost
from exotel_webhooks.notifications import CampaignEvents
from exotel_webhooks.observability import LambdaHandler, Metric, count, lambda_handler, logger
from exotel_webhooks.sweep.campaign_api import (
    CampaignApi,
    CampaignApiRefused,
    CampaignApiUnavailable,
)
from exotel_webhooks.sweep.due import campaigns_to_sweep
from exotel_webhooks.sweep.sweeper import CampaignSweeper, SweepReport

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

MIN_SECONDS_PER_CAMPAIGN = 60  # below this, a campaign waits for the next run
CAMPAIGN_SWEPT = "CampaignSwept"


def swept(report: SweepReport) -> tuple[str, dict[str, Any]]:
    """The event saying a sweep changed a campaign's figures."""
    return CAMPAIGN_SWEPT, {
        "event_id": uuid.uuid4().hex,
        "campaign_sid": report.campaign_sid,
        "attempts_recovered": report.attempts_recovered,
        "numbers_recovered": report.numbers_recovered,
        "reconciled": report.reconciled,
    }


def requested_campaign(event: object) -> str | None:
    """The campaign an invocation names: `{"campaign_sid": ...}`, or a CampaignSilent event's
    (EventBridge hands the event itself); None on the schedule."""
    if not isinstance(event, dict):
        return None
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    sid = event.get("campaign_sid") or (detail or {}).get("campaign_sid")
    return str(sid) if sid else None


def sweep_handler(
    table: CampaignTable,
    api: CampaignApi,
    quiet: timedelta,
    retention: timedelta | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    events: CampaignEvents | None = None,
) -> LambdaHandler[dict[str, Any]]:
    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        def seconds_left() -> float:
            return context.get_remaining_time_in_millis() / 1000

        if isinstance(event, dict) and event.get("replay-name"):
            # make replay-events sent an old event again: a sweep is no replay's to start
            logger.info("replayed event ignored", replay=event["replay-name"])
            return {"swept": [], "failed": []}
        requested = requested_campaign(event)
        sids = [requested] if requested else campaigns_to_sweep(table, clock(), quiet)
        sweeper = CampaignSweeper(
            table, api, clock=clock, seconds_left=seconds_left, retention=retention
        )
        reports: list[SweepReport] = []
        failed: list[str] = []
        for sid in sids:
            if seconds_left() < MIN_SECONDS_PER_CAMPAIGN:
                break
            try:
                reports.append(sweeper.sweep(sid))
            except CampaignApiRefused as error:
                logger.error("sweep refused", campaign_sid=sid, reason=str(error))
                failed.append(f"{sid}: {error}")
            except CampaignApiUnavailable as error:  # the next run tries again
                logger.warning("sweep stopped", campaign_sid=sid, reason=str(error))
                failed.append(f"{sid}: {error}")
                break
            except Exception as error:  # one campaign's fault never stops the run
                if aws_unavailable(error) or isinstance(error, RaceLost):
                    # DynamoDB throttled, out of reach or contended: not this campaign's fault,
                    # and the next ones would meet it too; the next run resumes where this one
                    # saved
                    logger.warning("sweep stopped", campaign_sid=sid, reason=type(error).__name__)
                    failed.append(f"{sid}: {type(error).__name__}")
                    break
                logger.exception("sweep failed", campaign_sid=sid, reason=type(error).__name__)
                failed.append(f"{sid}: {type(error).__name__}")
                try:
                    sweeper.note_failure(sid, error)
                except Exception:  # noting it is best effort; it is logged
                    logger.exception("sweep failure not noted", campaign_sid=sid)
        if events:  # a campaign whose figures a sweep changed (its summary page is rewritten)
            events.publish_all([swept(report) for report in reports if report.changed])
        count(Metric.ATTEMPTS_RECOVERED, sum(report.attempts_recovered for report in reports))
        count(Metric.NUMBERS_RECOVERED, sum(report.numbers_recovered for report in reports))
        count(Metric.SWEEPS_FAILED, len(failed))
        count(Metric.ROWS_REFUSED, sum(sum(r.rows_refused.values()) for r in reports))
        return {"swept": [report.summary() for report in reports], "failed": failed}

    return handler
