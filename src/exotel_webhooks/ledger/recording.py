"""What each callback does to the campaign's state: exactly once, whatever the delivery order.

Every stored item carries a version, `<date_updated in UTC>#<status rank>#<event_id>`: a later
date_updated wins, an older one never overwrites a newer one, and a tie is broken by the status
precedence, then the same way every time (precedence.py). Each callback is one conditional write
(table.py); what follows from a stored change (counters, events) is derived from the
table's stream (stream.py), so a crash between two steps can lose nothing. The one
exception is the report request: a report URL is a credential and is never stored, so the
campaign-status processor sends it itself and notes it sent; a redelivery that finds it unnoted
sends it again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from exotel_webhooks.ledger.keys import (
    SUMMARY_SK,
    attempt_keys,
    campaign_pk,
    campaign_status_keys,
    is_e164,
    masked_part,
    outcome_keys,
    subscriber_key,
)
from exotel_webhooks.ledger.precedence import (
    EARLIEST,
    FINAL_CAMPAIGN_STATUSES,
    call_status_rank,
    campaign_status_rank,
    utc_text,
    version_text,
)
from exotel_webhooks.ledger.table import CampaignTable, WriteResult
from exotel_webhooks.messages import (
    CallScheduleCallback,
    CallStatusCallback,
    CampaignStatusCallback,
    QueuedCallback,
    ReportRequest,
)
from exotel_webhooks.notifications import ReportRequests
from exotel_webhooks.observability import logger, number_hash

if TYPE_CHECKING:
    from exotel_webhooks.ledger.api_records import ApiCall, ApiCampaign


def version_of(queued: QueuedCallback[Any]) -> str:
    callback = queued.callback
    rank = (
        campaign_status_rank(callback.status)
        if isinstance(callback, CampaignStatusCallback)
        else call_status_rank(callback.status)
    )
    return version_text(callback.date_updated or callback.date_created, rank, queued.event_id)


def api_version(call: ApiCall) -> str:
    """A Campaign API row's version: ordered as a callback's (precedence.py)."""
    moment = call.date_updated or call.date_created
    return version_text(moment, call_status_rank(call.status), f"api-{call.call_sid}")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class ApiRowWritten(NamedTuple):
    """What one Campaign API row did to the ledger."""

    attempt_recovered: bool
    number_recovered: bool
    erased: bool  # the subscriber was erased: nothing written


class Outcome(StrEnum):
    """What one delivery of a callback did; the `outcome` key of its log line."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # this very version is already stored
    OUT_OF_ORDER = "out_of_order"  # a newer version is already stored
    ERASED = "erased"  # the subscriber was erased: nothing of it is written back


def _outcome(result: WriteResult, version: str) -> Outcome:
    if result.applied:
        return Outcome.STORED
    if result.erased:
        return Outcome.ERASED
    stored = result.previous or {}
    return Outcome.DUPLICATE if stored.get("version") == version else Outcome.OUT_OF_ORDER


class CampaignLedger:
    def __init__(
        self,
        table: CampaignTable,
        reports: ReportRequests | None = None,
        retention: timedelta | None = None,
    ) -> None:
        self.table = table
        self.reports = reports
        self.retention = retention

    # ------------------------------------------------------------------ call attempts
    def record_attempt(self, queued: QueuedCallback[CallStatusCallback]) -> Outcome:
        callback = queued.callback
        sid = callback.campaign_sid
        version = version_of(queued)
        item: dict[str, Any] = {
            **attempt_keys(sid, callback.number, callback.call_sid),
            "campaign_sid": sid,
            "call_sid": callback.call_sid,
            "number": callback.number,
            "number_raw": callback.number_raw,
            "status": callback.status,
            "date_created": _iso(callback.date_created),
            "date_updated": _iso(callback.date_updated),
            "version": version,
            "event_id": queued.event_id,
            "received_at": queued.received_at.isoformat(),
            "extra": json.dumps(callback.extra) if callback.extra else None,
            "expires_at": self._expiry(queued.received_at),
        }
        seen = self.table.stored(item)
        if seen is None and not is_e164(callback.number):
            # One call SID is one attempt whichever door names it: a sweep that ran before
            # this late callback stored its call under the number in full, as the API gives it
            self.table.remove_other_spellings(item)
        outcome = _outcome(self.table.write_versioned(item, seen), version)
        logger.info(
            f"call attempt {outcome}",
            outcome=outcome,
            call_sid=callback.call_sid,
            status=callback.status,
            number_hash=None if outcome is Outcome.ERASED else number_hash(callback.number),
        )
        return outcome

    # ------------------------------------------------------------------ number outcomes
    def record_number_outcome(self, queued: QueuedCallback[CallScheduleCallback]) -> Outcome:
        callback = queued.callback
        sid = callback.campaign_sid
        version = version_of(queued)
        subscriber = subscriber_key(callback.to, callback.call_sids, queued.event_id)
        item: dict[str, Any] = {
            **outcome_keys(sid, subscriber),
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
            "event_id": queued.event_id,
            "received_at": queued.received_at.isoformat(),
            "extra": json.dumps(callback.extra) if callback.extra else None,
            "expires_at": self._expiry(queued.received_at),
        }
        outcome = _outcome(self.table.write_versioned(item), version)
        logger.info(
            f"number outcome {outcome}",
            outcome=outcome,
            status=callback.status,
            number_hash=None if outcome is Outcome.ERASED else number_hash(callback.to),
        )
        return outcome

    # ------------------------------------------------------------------ campaign status
    def record_campaign_status(self, queued: QueuedCallback[CampaignStatusCallback]) -> Outcome:
        callback = queued.callback
        sid = callback.campaign_sid
        version = version_of(queued)
        final = callback.status in FINAL_CAMPAIGN_STATUSES
        problem = report_url_problem(callback.report_url) if callback.report_url else None
        usable_url = callback.report_url if final and callback.report_url and not problem else None
        values = {
            "campaign_sid": sid,
            "status": callback.status,
            "date_created": _iso(callback.date_created),
            "date_updated": _iso(callback.date_updated),
            **campaign_status_keys(
                callback.status, utc_text(callback.date_updated) or EARLIEST, sid
            ),
            "event_id": queued.event_id,
            # a pre-signed report URL is a credential: its host only
            "report_host": urlsplit(usable_url).hostname if usable_url else None,
            "expires_at": self._expiry(queued.received_at),
        }
        keep: dict[str, Any] = {}
        if final and callback.report_url:
            keep["report"] = (
                {"status": "failed", "error": problem} if problem else {"status": "pending"}
            )
        result = self.table.update_if_newer(
            campaign_pk(sid),
            SUMMARY_SK,
            version,
            {k: v for k, v in values.items() if v is not None},
            keep,
        )
        outcome = _outcome(result, version)
        # A redelivery of the stored final status whose report request is not marked sent
        # follows a crash between the write and the send: send it (the fetcher skips a report
        # already stored for this callback).
        stored_report = (result.previous or {}).get("report") or {}
        unsent = (
            outcome is Outcome.DUPLICATE
            and stored_report.get("status") == "pending"
            and stored_report.get("requested") != queued.event_id
        )
        if usable_url and self.reports and (outcome is Outcome.STORED or unsent):
            self.reports.request(
                ReportRequest(
                    campaign_sid=sid,
                    report_url=usable_url,
                    event_id=queued.event_id,
                    status=callback.status,
                )
            )
            self.table.note_report_requested(campaign_pk(sid), queued.event_id)
        logger.info(f"campaign status {outcome}", outcome=outcome, status=callback.status)
        return outcome

    # ------------------------------------------------------------------ Campaign API rows
    def record_api_call(
        self,
        campaign_sid: str,
        call: ApiCall,
        *,
        outcome_of: str | None,
        now: datetime,
        reconcile: bool = False,
    ) -> ApiRowWritten:
        """A call-details row as the attempt it reports (`source: api`), and, if `outcome_of`
        names a subscriber (the campaign is final and this is its latest row), as that
        number's outcome: rows of one number replace each other by version, so the latest
        attempt's status stays whatever order the rows come in. A callback's record is never
        replaced (precedence.py). If `reconcile` (no report was reconciled), what the API says
        of the number is noted for the reconciliation (`api_status`), on a callback's outcome
        too. Returns whether the attempt, and the number, were recovered: written where the
        ledger had nothing (the number: or only a backfill)."""
        event_id = f"api-{call.call_sid}"
        version = api_version(call)
        common: dict[str, Any] = {
            "campaign_sid": campaign_sid,
            "number_raw": call.number_raw,
            "status": call.status,
            "date_created": _iso(call.date_created),
            "date_updated": _iso(call.date_updated),
            "source": "api",
            "version": version,
            "event_id": event_id,
            "received_at": now.isoformat(),
            "expires_at": self._expiry(now),
        }
        attempt = {
            **attempt_keys(campaign_sid, call.number, call.call_sid),
            **common,
            "call_sid": call.call_sid,
            "number": call.number,
        }
        written = self.table.write_versioned(attempt)
        attempt_recovered = written.applied and written.previous is None
        if outcome_of is None:
            return ApiRowWritten(attempt_recovered, False, written.erased)
        outcome = {
            **outcome_keys(campaign_sid, outcome_of),
            **common,
            # under a mask, only the mask: the full number would hide where no erasure looks
            "number_raw": call.number_raw if is_e164(outcome_of) else masked_part(outcome_of),
            "number": outcome_of,
            "call_sids": [call.call_sid],
        } | ({"api_status": call.status} if reconcile else {})
        result = self.table.write_versioned(outcome)
        before = result.previous or {}
        # a callback's outcome: note the API's word on it, unless a newer row's is noted
        callbacks = not result.applied and before.get("source", "callback") == "callback"
        if reconcile and callbacks and str(before.get("api_version") or "") < version:
            self.table.note_api_status(outcome, call.status, version)
        number_recovered = result.applied and (not before or before.get("source") == "report")
        return ApiRowWritten(attempt_recovered, number_recovered, written.erased or result.erased)

    def record_api_campaign_status(self, campaign: ApiCampaign, now: datetime) -> bool:
        """The campaign's status as the Campaign API reports it, unless a callback's status is
        stored (any callback's wins). True if written: a final one announces the campaign's
        completion once, through the table's stream, as a callback's would."""
        if not campaign.status:
            return False
        sid = campaign.campaign_sid
        version = version_text(
            campaign.date_updated, campaign_status_rank(campaign.status), f"api-{sid}"
        )
        values = {
            "campaign_sid": sid,
            "status": campaign.status,
            "date_updated": _iso(campaign.date_updated),
            **campaign_status_keys(
                campaign.status, utc_text(campaign.date_updated) or EARLIEST, sid
            ),
            "event_id": f"api-{sid}-{campaign.status}",
            "expires_at": self._expiry(now),
        }
        present = {name: value for name, value in values.items() if value is not None}
        written = self.table.update_if_newer(
            campaign_pk(sid), SUMMARY_SK, version, present, {}, source="api"
        )
        return written.applied

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
