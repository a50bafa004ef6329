"""What each callback does to the campaign's state: exactly once, whatever the delivery order.

Every stored item carries a version, `<date_updated in UTC>#<status rank>#<event_id>`: a later
date_updated wins, an older one never overwrites a newer one, and a tie is broken by the status
precedence, then the same way every time (precedence.py).
Follow-ups (events, report requests) are marked pending in the same write that stores their
cause and cleared once sent, so a crash between the two sends them on redelivery, and a
duplicate that finds nothing pending sends nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from exotel_webhooks.callbacks import KEY_SEPARATOR
from exotel_webhooks.campaign_table import (
    SUMMARY_SK,
    CampaignTable,
    VersionedWrite,
    attempt_sk,
    attempts_by_status_pk,
    campaign_number_prefix,
    campaign_pk,
    campaigns_by_status_pk,
    number_pk,
    number_sk,
    subscriber_key,
)
from exotel_webhooks.models import (
    CallScheduleCallback,
    CallStatusCallback,
    CampaignStatusCallback,
    QueuedEvent,
)
from exotel_webhooks.notifications import CampaignEvents, ReportRequests
from exotel_webhooks.observability import logger, mask_phone
from exotel_webhooks.precedence import (
    EARLIEST,
    call_status_rank,
    campaign_status_rank,
    utc_text,
    version_text,
)

FINAL_CAMPAIGN_STATUSES = frozenset({"Completed", "Failed", "Canceled"})
CALL_SCHEDULE_COMPLETED = "CallScheduleCompleted"
CAMPAIGN_COMPLETED = "CampaignCompleted"


def version_of(event: QueuedEvent[Any]) -> str:
    callback = event.callback
    rank = (
        campaign_status_rank(callback.status)
        if isinstance(callback, CampaignStatusCallback)
        else call_status_rank(callback.status)
    )
    return version_text(callback.date_updated or callback.date_created, rank, event.event_id)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class Outcome(StrEnum):
    """What one delivery of a callback did; the `outcome` key of its log line."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # this very version is already stored
    OUT_OF_ORDER = "out_of_order"  # a newer version is already stored


def _outcome(applied: bool, version: str, stored: dict[str, Any] | None) -> Outcome:
    if applied:
        return Outcome.STORED
    return Outcome.DUPLICATE if (stored or {}).get("version") == version else Outcome.OUT_OF_ORDER


class CampaignLedger:
    def __init__(
        self,
        table: CampaignTable,
        events: CampaignEvents | None = None,
        reports: ReportRequests | None = None,
        retention: timedelta | None = None,
    ) -> None:
        self.table = table
        self.events = events
        self.reports = reports
        self.retention = retention

    # ------------------------------------------------------------------ call attempts
    def record_attempt(self, event: QueuedEvent[CallStatusCallback]) -> Outcome:
        callback = event.callback
        sid = callback.campaign_sid
        item: dict[str, Any] = {
            "PK": campaign_pk(sid),
            "SK": attempt_sk(callback.call_sid),
            "GSI1PK": attempts_by_status_pk(sid, callback.status),
            "GSI1SK": callback.call_sid,
            "GSI2PK": number_pk(subscriber_key(callback.number, [callback.call_sid])),
            "GSI2SK": f"{campaign_number_prefix(sid)}ATTEMPT#{callback.call_sid}",
            "campaign_sid": sid,
            "call_sid": callback.call_sid,
            "number": callback.number,
            "number_raw": callback.number_raw,
            "status": callback.status,
            "date_created": _iso(callback.date_created),
            "date_updated": _iso(callback.date_updated),
            "version": version_of(event),
            "event_id": event.event_id,
            "received_at": event.received_at.isoformat(),
            "extra": json.dumps(callback.extra) if callback.extra else None,
            "expires_at": self._expiry(event.received_at),
        }
        result = self.table.write_versioned(VersionedWrite(item, counters="attempts"))
        outcome = _outcome(result.applied, item["version"], result.previous)
        logger.info(
            f"call attempt {outcome}",
            outcome=outcome,
            campaign_sid=sid,
            call_sid=callback.call_sid,
            status=callback.status,
            previous_status=result.previous["status"] if result.previous else None,
            number=mask_phone(callback.number),
        )
        return outcome

    # ------------------------------------------------------------------ number outcomes
    def record_number_outcome(self, event: QueuedEvent[CallScheduleCallback]) -> Outcome:
        callback = event.callback
        sid = callback.campaign_sid
        version = version_of(event)
        subscriber = subscriber_key(callback.to, callback.call_sids, event.event_id)
        item: dict[str, Any] = {
            "PK": campaign_pk(sid),
            "SK": number_sk(subscriber),
            "GSI2PK": number_pk(subscriber),
            "GSI2SK": f"{campaign_number_prefix(sid)}OUTCOME",
            "campaign_sid": sid,
            "number": subscriber,
            "number_raw": callback.to_raw,
            "status": callback.status,
            "from": callback.from_,
            "from_raw": callback.from_raw,
            "call_sids": callback.call_sids or None,
            "date_created": _iso(callback.date_created),
            "date_updated": _iso(callback.date_updated),
            "source": "callback",
            "version": version,
            "event_id": event.event_id,
            "received_at": event.received_at.isoformat(),
            "extra": json.dumps(callback.extra) if callback.extra else None,
            "notify_pending": version if self.events else None,
            "expires_at": self._expiry(event.received_at),
        }
        result = self.table.write_versioned(VersionedWrite(item, counters="numbers"))
        stored = item if result.applied else (result.previous or {})
        if stored.get("version") == version and stored.get("notify_pending") == version:
            self._publish_number_outcome(callback, event.event_id)
            self.table.clear_pending_notification(item["PK"], item["SK"], version)
        outcome = _outcome(result.applied, version, result.previous)
        logger.info(
            f"number outcome {outcome}",
            outcome=outcome,
            campaign_sid=sid,
            status=callback.status,
            previous_status=result.previous["status"] if result.previous else None,
            number=mask_phone(callback.to),
        )
        return outcome

    def _publish_number_outcome(self, callback: CallScheduleCallback, event_id: str) -> None:
        assert self.events is not None  # noqa: S101 - notify_pending is only set with events
        self.events.publish(
            CALL_SCHEDULE_COMPLETED,
            {
                "event_id": event_id,
                "campaign_sid": callback.campaign_sid,
                "number": callback.to,
                "number_raw": callback.to_raw,
                "status": callback.status,
                "from": callback.from_,
                "call_sids": callback.call_sids,
                "date_updated": _iso(callback.date_updated),
            },
        )

    # ------------------------------------------------------------------ campaign status
    def record_campaign_status(self, event: QueuedEvent[CampaignStatusCallback]) -> Outcome:
        callback = event.callback
        sid = callback.campaign_sid
        version = version_of(event)
        final = callback.status in FINAL_CAMPAIGN_STATUSES
        values = {
            "campaign_sid": sid,
            "status": callback.status,
            "date_created": _iso(callback.date_created),
            "date_updated": _iso(callback.date_updated),
            "GSI1PK": campaigns_by_status_pk(callback.status),
            "GSI1SK": f"{utc_text(callback.date_updated) or EARLIEST}{KEY_SEPARATOR}{sid}",
            "event_id": event.event_id,
            "notify_pending": version if final else None,
            "expires_at": self._expiry(event.received_at),
        }
        keep: dict[str, Any] = {}
        if final and callback.report_url:
            problem = report_url_problem(callback.report_url)
            keep["report"] = (
                {"status": "failed", "error": problem} if problem else {"status": "pending"}
            )
        pk = campaign_pk(sid)
        applied = self.table.update_if_newer(
            pk, SUMMARY_SK, version, {k: v for k, v in values.items() if v is not None}, keep
        )
        stored = self.table.get(pk, SUMMARY_SK, consistent=True) if not applied else None
        pending = applied and final
        if stored is not None:  # a redelivery: were its follow-ups sent before a crash?
            pending = stored.get("version") == version and stored.get("notify_pending") == version
        if pending:
            self._campaign_follow_ups(event, callback)
            self.table.clear_pending_notification(pk, SUMMARY_SK, version)
        outcome = _outcome(applied, version, stored)
        logger.info(
            f"campaign status {outcome}", outcome=outcome, campaign_sid=sid, status=callback.status
        )
        return outcome

    def _campaign_follow_ups(
        self, event: QueuedEvent[CampaignStatusCallback], callback: CampaignStatusCallback
    ) -> None:
        usable_url = callback.report_url and not report_url_problem(callback.report_url)
        if usable_url and self.reports:
            self.reports.request(
                {
                    "campaign_sid": callback.campaign_sid,
                    "report_url": callback.report_url,
                    "event_id": event.event_id,
                    "status": callback.status,
                }
            )
        if self.events:
            self.events.publish(
                CAMPAIGN_COMPLETED,
                {
                    "event_id": event.event_id,
                    "campaign_sid": callback.campaign_sid,
                    "status": callback.status,
                    "date_created": _iso(callback.date_created),
                    "date_updated": _iso(callback.date_updated),
                    # a pre-signed report URL is a credential: its host only
                    "report_host": urlsplit(callback.report_url).hostname if usable_url else None,
                },
            )

    def _expiry(self, received_at: datetime) -> int | None:
        if not self.retention:
            return None
        return int((received_at + self.retention).timestamp())


def report_url_problem(url: str) -> str | None:
    """Why a report URL can never be fetched, or None: such a campaign's report is recorded as
    failed at once instead of being requested (and retried) for ever."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError as error:
        return f"report_url cannot be parsed: {error}"
    if not host:
        return "report_url has no host"
    return None
