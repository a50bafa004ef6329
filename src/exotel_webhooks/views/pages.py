"""Summary pages in S3 (docs/architecture.md, "Summary page"): written when a campaign
completes, is reconciled against its report or is swept (the events that say so), handed out as
short-lived pre-signed URLs by the read API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from exotel_webhooks.observability import LambdaHandler, lambda_handler, logger
from exotel_webhooks.views.campaigns import CampaignNotFound, CampaignViews
from exotel_webhooks.views.summary import summary_html

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_s3 import S3Client

SUMMARIES_PREFIX = "summaries/"
URL_SECONDS = 900  # a pre-signed URL's life: long enough to open, too short to pass around
# The events after which a campaign's figures may have changed (notifications, the stream)
PAGE_EVENTS = ("CampaignCompleted", "CampaignReportStored", "CampaignSwept")
REPORT_WAIT_TRIES, REPORT_WAIT_SECONDS = 20, 0.5  # the fetcher records it right after
# The counters and reconciliation classes trail the items by the ledger stream's batching
# window (5 s) and its invocation: an event's page is made once they have caught up.
SETTLE_SECONDS = 10.0


def summary_key(campaign_sid: str) -> str:
    return f"{SUMMARIES_PREFIX}{campaign_sid}.html"


class ReconciliationNotRecorded(Exception):
    """A report's event came before its reconciliation was stored: Lambda retries the event."""


class SummaryPages:
    def __init__(
        self,
        views: CampaignViews,
        s3: S3Client,
        bucket: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.views, self.s3, self.bucket, self.sleep = views, s3, bucket, sleep

    def write(self, campaign_sid: str, report_uri: str | None = None) -> str:
        """Render the campaign's page from the ledger and store it; returns its key. With
        `report_uri` (a CampaignReportStored event, published just before the reconciliation
        is recorded), first wait for the ledger to hold that report."""
        if report_uri:
            self._await_report(campaign_sid, report_uri)
        page = summary_html(self.views.summary_figures(campaign_sid))
        key = summary_key(campaign_sid)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=page.encode(),
            ContentType="text/html; charset=utf-8",
            CacheControl="no-store",  # a page is rewritten when its campaign changes
        )
        return key

    def _await_report(self, campaign_sid: str, report_uri: str) -> None:
        for _ in range(REPORT_WAIT_TRIES):
            view = self.views.campaign(campaign_sid)
            report = view.get("report") or {}
            # the fetcher records the report, publishes, then records its reconciliation
            if report.get("s3_uri") == report_uri and view.get("reconciliation"):
                return
            self.sleep(REPORT_WAIT_SECONDS)
        raise ReconciliationNotRecorded(f"{campaign_sid}: {report_uri} not recorded yet")

    def url(self, campaign_sid: str) -> str | None:
        """A pre-signed URL to the campaign's page, or None if none was written."""
        key = summary_key(campaign_sid)
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=URL_SECONDS
        )


def presigner(s3: S3Client, bucket: str) -> Callable[[str], str]:
    """An object of the bucket -> a URL that reads it for URL_SECONDS (a kept recording)."""

    def url(key: str) -> str:
        return s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=URL_SECONDS
        )

    return url


def summary_page_handler(pages: SummaryPages) -> LambdaHandler[dict[str, Any]]:
    """The summary Lambda, fed by an EventBridge rule on PAGE_EVENTS: the campaign's page
    rewritten from the ledger as it is now (a duplicate or late event writes the same page)."""

    @lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        detail = event["detail"]
        campaign_sid = str(detail["campaign_sid"])
        replayed = bool(event.get("replay-name"))  # make replay-events: the ledger is settled
        if not replayed:
            pages.sleep(SETTLE_SECONDS)
        try:
            # a replayed report event may name a report refetched since: the page as it is now
            key = pages.write(campaign_sid, None if replayed else detail.get("s3_uri"))
        except CampaignNotFound:  # erased or expired since: nothing to show
            logger.info("no summary: the campaign is gone", campaign_sid=campaign_sid)
            return {"written": None}
        logger.info("summary written", campaign_sid=campaign_sid, cause=event.get("detail-type"))
        return {"written": key}

    return handler
