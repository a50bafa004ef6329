"""Ask the report fetcher to fetch a campaign's report again (after a failure, with a fresh URL).

The request's event id is derived from the campaign and the URL, so asking twice fetches once.
"""

from __future__ import annotations

import hashlib

from exotel_webhooks.messages import ReportRequest
from exotel_webhooks.notifications import ReportRequests
from ops.target import Target


def request_refetch(target: Target, campaign_sid: str, report_url: str) -> str:
    """Queue a report request; returns its event id (the stored report's key names it)."""
    digest = hashlib.sha256(f"{campaign_sid}\n{report_url}".encode()).hexdigest()
    event_id = f"refetch-{digest[:24]}"
    ReportRequests(target.client("sqs"), target.physical_id("ReportQueue")).request(
        ReportRequest(campaign_sid=campaign_sid, report_url=report_url, event_id=event_id)
    )
    return event_id
